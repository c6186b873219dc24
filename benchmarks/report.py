"""The loss tables and figure of ``docs/benchmarks.md`` from the JSON that ``bench_losses --json_out`` writes.

Ratios to the floor use the floor's median over the whole run of each mode (``x_run_floor``): on a 2-core
machine one comparison's own floor samples swing with the load.

Usage::

    python -m benchmarks.report docs/benchmark_results/cpu_losses.json --figure docs/figures/bench_losses_cpu.png
"""

from __future__ import annotations

import json

import fire

from benchmarks.bench_losses import misses

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


def render(record: dict) -> str:
    """One section per mode: the run's floors, then the table."""
    shape = (record.get("batch", 2), 3, *record["spatial"])
    out = [
        f"Machine: {record['machine']}; torch {record.get('torch', '?')}; logits {shape}, {record['repeats']} "
        f"repeats (median), {record.get('allocator', 'default')} allocator."
    ]
    for mode in dict.fromkeys(r["mode"] for r in record["rows"]):
        rows = [r for r in record["rows"] if r["mode"] == mode]
        compiled_floor = sorted(r["floor_compiled_ms"] for r in rows)[len(rows) // 2]
        out.append(
            f"\n**{mode}** (eager floor: median {rows[0]['run_floor_ms']:.1f} ms over the run; compiled floor: "
            f"{compiled_floor:.1f} ms)\n"
        )
        out.append(table(rows))
    return "\n".join(out) + "\n"


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
    print(render(record), end="")
    if figure_path:
        figure(record, figure_path)


if __name__ == "__main__":
    fire.Fire(main)
