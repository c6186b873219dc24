"""The loss tables and figure of ``docs/benchmarks.md`` from the JSON that ``bench_losses --json_out`` writes.

Ratios to the floor use the floor's median over the whole run of each mode (``x_run_floor``): on a 2-core
machine one comparison's own floor samples swing with the load.

A record may hold the rows of several runs with the same settings (``merge``: a later run of some names, e.g.
the losses added since, merged into the committed record): ``runs`` lists each run (date, machine and load,
names) and each row names its run (``run``); a row's ratios are to its own run's floor.

Usage::

    python -m benchmarks.report docs/benchmark_results/cpu_losses.json --figure docs/figures/bench_losses_cpu.png
    python -m benchmarks.report merge docs/benchmark_results/cpu_losses.json new_run.json   # rows of new_run in
"""

from __future__ import annotations

import json
import sys

import fire

from benchmarks.bench_losses import MODES, REGION, TARGETS, misses

HEADER = (
    "| loss | compiled ms | x floor | eager ms | x floor | counterpart | counterpart ms | compiled x MONAI | "
    "eager x MONAI | memory compiled | memory eager | memory counterpart | first call s | targets |\n"
    "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    lines = [HEADER]
    for r in rows:
        bad = misses(r)
        lines.append(
            f"| {r['loss']} | {r['compiled_ms']:.0f} | {r['x_run_floor']:.2f} | {r['eager_ms']:.0f} | "
            f"{r['eager_ms'] / r['run_floor_ms']:.2f} | {r['ref'] or ''} | {_fmt(r['ref_ms'], '.0f')} | "
            f"{_fmt(r['x_ref'], '.2f')} | {_fmt(r['x_ref_eager'], '.2f')} | {_fmt(r['mem_compiled'], '.2f')} | "
            f"{_fmt(r['mem_eager'], '.2f')} | {_fmt(r['mem_ref'], '.2f')} | {r['first_call_s']:.1f} | "
            f"{'met' if not bad else 'NOT met: ' + '; '.join(bad)} |"
        )
    return "\n".join(lines)


def _compiled_floor(rows: list[dict]) -> float:
    return sorted(r["floor_compiled_ms"] for r in rows)[len(rows) // 2]


def _floors(rows: list[dict], runs: list[dict] | None) -> str:
    if not runs:
        return (
            f"eager floor: median {rows[0]['run_floor_ms']:.1f} ms over the run; compiled floor: "
            f"{_compiled_floor(rows):.1f} ms"
        )
    parts = []
    for i in dict.fromkeys(r["run"] for r in rows):
        mine = [r for r in rows if r["run"] == i]
        parts.append(
            f"run {i + 1}: eager floor median {mine[0]['run_floor_ms']:.1f} ms, compiled floor "
            f"{_compiled_floor(mine):.1f} ms"
        )
    return "; ".join(parts)


MAPS_NOTE = (
    "Map losses ({names}): ours timed as the bundle runs them, with the maps precomputed in the target "
    "(`maps_in_target=True`, by the bundle's map transforms: the data loader's work, timed apart); MONAI's classes "
    'marked "maps per call" compute the target\'s maps inside every call, and their time includes it.'
)


def render(record: dict) -> str:
    """One section per mode: the run's floors, then the table."""
    shape = (record.get("batch", 2), 3, *record["spatial"])
    settings = f"logits {shape}, {record['repeats']} repeats (median), {record.get('allocator', 'default')} allocator."
    runs = record.get("runs")
    if runs:
        out = [f"Torch {record.get('torch', '?')}; {settings} Rows from {len(runs)} runs with these settings:\n"]
        for i, run in enumerate(runs):
            end = f"; at the end {run['load_end']}" if run.get("load_end") else ""
            out.append(f"- run {i + 1} ({run['date']}; {', '.join(run['names'])}): {run['machine']}{end}")
    else:
        out = [f"Machine: {record['machine']}; torch {record.get('torch', '?')}; {settings}"]
    for mode in dict.fromkeys(r["mode"] for r in record["rows"]):
        rows = [r for r in record["rows"] if r["mode"] == mode]
        out.append(f"\n**{mode}** ({_floors(rows, runs)})\n")
        out.append(table(rows))
        mapped = [r["loss"] for r in rows if r.get("maps")]
        if mapped:
            out.append("\n" + MAPS_NOTE.format(names=", ".join(mapped)))
    return "\n".join(out) + "\n"


def _span(values: list[float], met: int) -> str:
    if not values:
        return "none"
    return f"{min(values):.2f}-{max(values):.2f} ({met}/{len(values)} met)"


def summary(record: dict, names: list[str] | None = None) -> str:
    """The targets per mode: the range of each ratio and how many rows meet it (``names``: only those losses)."""
    measured_memory = any(r.get("mem_compiled") is not None for r in record["rows"])
    lines = [
        "| mode | compiled region losses <= 1.0x floor | other compiled losses <= 3.0x floor | compiled <= 0.5x MONAI "
        "| eager <= 1.5x MONAI | compiled memory <= 2.5x |",
        "|---|---|---|---|---|---|",
    ]
    for mode in [m for m in MODES if any(r["mode"] == m for r in record["rows"])]:
        rows = [r for r in record["rows"] if r["mode"] == mode and (names is None or r["loss"] in names)]
        region = [r["x_run_floor"] for r in rows if r["loss"] in REGION]
        other = [r["x_run_floor"] for r in rows if r["loss"] not in REGION]
        ref = [r["x_ref"] for r in rows if r["x_ref"] is not None]
        ref_eager = [r["x_ref_eager"] for r in rows if r["x_ref_eager"] is not None]
        memory = [r["mem_compiled"] for r in rows if r.get("mem_compiled") is not None]
        cells = [
            _span(region, sum(v <= TARGETS["floor_region"] for v in region)),
            _span(other, sum(v <= TARGETS["floor_other"] for v in other)),
            _span(ref, sum(v <= TARGETS["ref_compiled"] for v in ref)),
            _span(ref_eager, sum(v <= TARGETS["ref_eager"] for v in ref_eager)),
            _span(memory, sum(v <= TARGETS["memory"] for v in memory))
            if measured_memory
            else f"not measured ({record.get('allocator', 'default')} allocator)",
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def merge(record: dict, new: dict, base_date: str | None = None) -> dict:
    """``record`` with the rows of ``new`` (a run with the same settings) added, replacing rows of the same mode
    and loss; rows in catalogue order per mode. The first merge turns ``record`` into run 1 (``base_date``: its
    date, when the record has none)."""
    from scripts.losses import LOSSES

    for key in ("torch", "batch", "spatial", "repeats", "clock", "allocator"):
        if json.dumps(record.get(key)) != json.dumps(new.get(key)):  # the spatial shape: a list or a tuple
            raise ValueError(f"runs differ in {key!r}: {record.get(key)!r} vs {new.get(key)!r}; not merged.")
    out = {k: v for k, v in record.items() if k not in ("rows", "runs")}
    runs = record.get("runs")
    old_rows = [dict(r) for r in record["rows"]]
    if not runs:
        date = record.get("date") or base_date
        if not date:
            raise ValueError("the record has no date: pass base_date.")
        names = list(dict.fromkeys(r["loss"] for r in old_rows))
        runs = [{"date": date, "machine": record["machine"], "names": names}]
        for r in old_rows:
            r["run"] = 0
    new_index = len(runs)
    run = {"date": new["date"], "machine": new["machine"], "names": list(new["names"])}
    if new.get("load_end"):
        run["load_end"] = ", ".join(f"{v:.2f}" for v in new["load_end"])
    runs = [*runs, run]
    new_rows = [{**r, "run": new_index} for r in new["rows"]]
    replaced = {(r["mode"], r["loss"]) for r in new_rows}
    rows = [r for r in old_rows if (r["mode"], r["loss"]) not in replaced] + new_rows
    order = {name: i for i, name in enumerate(LOSSES)}
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    rows.sort(key=lambda r: (modes.index(r["mode"]), order.get(r["loss"], len(order))))
    out.update(machine=f"{len(runs)} runs, see runs", runs=runs, rows=rows)
    return out


def figure(record: dict, path: str) -> None:
    """Bars per loss (compiled, eager, MONAI's counterpart) with the eager and compiled floors, one panel a mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(r["mode"] for r in record["rows"]))
    fig, axes = plt.subplots(len(modes), 1, figsize=(13, 4.2 * len(modes)), squeeze=False)
    for ax, mode in zip(axes[:, 0], modes):
        rows = [r for r in record["rows"] if r["mode"] == mode]
        xs = range(len(rows))
        for offset, key, label in ((-0.27, "compiled_ms", "ours, compiled"), (0, "eager_ms", "ours, eager")):
            ax.bar([i + offset for i in xs], [r[key] for r in rows], width=0.27, label=label)
        ax.bar([i + 0.27 for i in xs], [r["ref_ms"] or 0 for r in rows], width=0.27, label="MONAI / torch")
        ax.axhline(rows[0]["run_floor_ms"], color="k", ls="--", lw=1, label="floor, eager")
        compiled_floor = sorted(r["floor_compiled_ms"] for r in rows)[len(rows) // 2]
        ax.axhline(compiled_floor, color="k", ls=":", lw=1, label="floor, compiled")
        ax.set_xticks(list(xs), [r["loss"] for r in rows], rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("forward + backward, ms")
        ax.set_title(f"{mode}: logits {(record.get('batch', 2), 3, *record['spatial'])}")
        ax.legend(fontsize=8, ncol=5)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(json_path: str, figure_path: str | None = None) -> None:
    with open(json_path) as f:
        record = json.load(f)
    print(summary(record) + "\n" + render(record), end="")
    if figure_path:
        figure(record, figure_path)


def merge_files(json_path: str, new_path: str, base_date: str | None = None) -> None:
    """Merge the run ``new_path`` into ``json_path`` (rewritten)."""
    with open(json_path) as f:
        record = json.load(f)
    with open(new_path) as f:
        new = json.load(f)
    merged = merge(record, new, base_date)
    with open(json_path, "w") as f:
        json.dump(merged, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["merge"]:
        fire.Fire(merge_files, sys.argv[2:])
    else:
        fire.Fire(main)
