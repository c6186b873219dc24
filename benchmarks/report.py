"""Markdown tables for ``docs/benchmarks.md`` from the JSON that ``bench_losses --json_out`` writes.

Ratios to the floor use the floor's median over the whole run of each mode (``x_run_floor``): on a 2-core
machine one comparison's own floor samples swing with the load (the per-comparison ratio is printed next to it).

Usage::

    python -m benchmarks.report docs/benchmark_results/cpu_losses.json
"""

from __future__ import annotations

import json

import fire

HEADER = (
    "| loss | ours ms | x floor | x floor (own repeats) | counterpart | counterpart ms | x counterpart | "
    "memory ours | memory counterpart | targets |\n"
    "|---|---:|---:|---:|---|---:|---:|---:|---:|---|"
)


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


def misses(row: dict) -> list[str]:
    """The issue's targets a row misses, each with its measured value."""
    bad = []
    if row["x_run_floor"] > row["floor_target"]:
        bad.append(f"floor {row['x_run_floor']:.2f} > {row['floor_target']}")
    if row["ref_target"] is not None and row["x_ref"] > row["ref_target"]:
        bad.append(f"MONAI {row['x_ref']:.2f} > {row['ref_target']}")
    if row["mem_ref"] is not None and row["mem_ours"] is not None and row["mem_ours"] > row["mem_ref"]:
        bad.append(f"memory {row['mem_ours']:.2f} > {row['mem_ref']:.2f}")
    return bad


def table(rows: list[dict]) -> str:
    lines = [HEADER]
    for r in rows:
        bad = misses(r)
        lines.append(
            f"| {r['loss']} | {r['ours_ms']:.0f} | {r['x_run_floor']:.2f} | {r['x_floor']:.2f} | {r['ref'] or ''} | "
            f"{_fmt(r['ref_ms'], '.0f')} | {_fmt(r['x_ref'], '.2f')} | {_fmt(r['mem_ours'], '.2f')} | "
            f"{_fmt(r['mem_ref'], '.2f')} | {'met' if not bad else 'NOT met: ' + ', '.join(bad)} |"
        )
    return "\n".join(lines)


def render(record: dict) -> str:
    """One section per mode: the run's floor, then the table."""
    shape = (record.get("batch", 2), 3, *record["spatial"])
    regime = record.get("allocator", "default")
    out = [f"Machine: {record['machine']}; logits {shape}, {record['repeats']} repeats (median), {regime} allocator."]
    for mode in dict.fromkeys(r["mode"] for r in record["rows"]):
        rows = [r for r in record["rows"] if r["mode"] == mode]
        out.append(f"\n**{mode}** (floor: median {rows[0]['run_floor_ms']:.1f} ms over the run)\n")
        out.append(table(rows))
    return "\n".join(out) + "\n"


def main(json_path: str) -> None:
    with open(json_path) as f:
        print(render(json.load(f)), end="")


if __name__ == "__main__":
    fire.Fire(main)
