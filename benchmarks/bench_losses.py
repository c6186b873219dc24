"""Speed and memory of every catalogue loss against the floor ``(sigmoid(x) * y).sum()`` and MONAI.

For a BraTS-like sigmoid batch (regions TC/WT/ET, float targets) and a KiTS-like softmax batch (float labels,
``to_onehot_y=True``), both ``(2, 3, 128, 128, 128)`` logits by default, it prints one table per mode:
forward + backward median time of each loss, its ratio to the floor and to MONAI's (or torch's) counterpart,
all three timed interleaved in the same run, and the peak extra memory of each as a multiple of the logits'
size (CPU: bytes of the tensors allocated, see ``benchmarks/_memory.py``; CUDA: ``max_memory_allocated``).
On CUDA it adds a table with autocast (fp16 logits). The last columns say whether the issue's targets are met.

Usage::

    python -m benchmarks.bench_losses            # full size, about 5-10 minutes on 2 cores
    python -m benchmarks.bench_losses --quick    # (2, 3, 64, 64, 64), about a minute
    python -m benchmarks.bench_losses --names "[dice,focal]" --modes "[sigmoid]" --repeats 9
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence

import fire
import torch

from benchmarks._allocator import REGIMES, set_regime
from benchmarks._batches import brats_like, kits_like
from benchmarks._counterparts import counterparts
from benchmarks._machine import describe
from benchmarks._memory import peak_extra_bytes
from benchmarks._timing import CLOCKS, floor_loss, forward_backward, interleaved_times
from scripts.losses import LOSSES, _chunked, build_loss

REGION = {
    "dice", "dice_squared", "iou", "tversky", "generalized_dice", "dice_two_class", "focal_tversky", "focal_dice",
    "sensitivity_specificity",
}  # fmt: skip
UNIFIED = {"symmetric_unified_focal", "asymmetric_unified_focal"}
MODES = ("sigmoid", "softmax")


def floor_target(name: str) -> float:
    """Issue 6: region losses at most 1.3x the floor, distribution and compound losses at most 2.5x."""
    return 1.3 if name in REGION else 2.5


def counterpart_target(name: str) -> float:
    """At most MONAI's time; the unified Focal losses at most half of MONAI's AsymmetricUnifiedFocalLoss."""
    return 0.5 if name in UNIFIED else 1.0


def make_batch(mode: str, batch: int, spatial: tuple[int, ...], device: torch.device):
    x, target = (kits_like if mode == "softmax" else brats_like)(batch, spatial)
    return x.to(device), target.to(device)


def bench_mode(
    mode: str,
    names: Sequence[str],
    batch: int,
    spatial: tuple[int, ...],
    repeats: int,
    device: torch.device,
    amp: bool = False,
    memory: bool = True,
    clock: str = "wall",
) -> list[dict]:
    x, target = make_batch(mode, batch, spatial, device)
    if amp:
        x = x.half()
    flags = {"softmax": True, "to_onehot_y": True} if mode == "softmax" else {"sigmoid": True}
    refs = counterparts(softmax=mode == "softmax")
    input_bytes = x.numel() * 4  # float32 logits, also for fp16 ones: a common unit
    rows = []
    for name in names:
        ours = build_loss(name, **flags).to(device)
        fns = {"floor": forward_backward(floor_loss, x, target), "ours": forward_backward(ours, x, target)}
        ref_label = None
        if name in refs:
            ref_label, ref_fn = refs[name]
            fns["ref"] = forward_backward(ref_fn, x, target)
        with torch.autocast(device.type, enabled=amp):
            samples = interleaved_times(fns, repeats, device, clock=clock)
            times = {key: statistics.median(ts) for key, ts in samples.items()}
            mem = {}
            if memory:
                # the ledger sees the calling thread only: run our slices there (same memory, less the
                # temporaries of the second worker's slice)
                parallel = _chunked.PARALLEL_SLICES.get("cpu", False)
                _chunked.PARALLEL_SLICES["cpu"] = False
                try:
                    for key in ("floor", "ours", "ref"):
                        if key in fns:
                            mem[key] = peak_extra_bytes(fns[key], [x, target], device) / input_bytes
                finally:
                    _chunked.PARALLEL_SLICES["cpu"] = parallel
        row = {
            "mode": mode + (" amp" if amp else ""),
            "loss": name,
            "ours_ms": 1e3 * times["ours"],
            "floor_ms": 1e3 * times["floor"],
            "x_floor": times["ours"] / times["floor"],
            "floor_target": floor_target(name),
            "ref": ref_label,
            "ref_ms": 1e3 * times["ref"] if ref_label else None,
            "x_ref": times["ours"] / times["ref"] if ref_label else None,
            "ref_target": counterpart_target(name) if ref_label and ref_label.startswith("monai") else None,
            "mem_ours": mem.get("ours"),
            "mem_ref": mem.get("ref"),
            "mem_floor": mem.get("floor"),
            "floor_samples_ms": [1e3 * t for t in samples["floor"]],
        }
        rows.append(row)
        print(format_row(row), flush=True)
    # the floor pooled over every comparison of the mode: a steadier reference on a loaded machine
    run_floor = statistics.median(t for row in rows for t in row["floor_samples_ms"])
    for row in rows:
        row["run_floor_ms"] = run_floor
        row["x_run_floor"] = row["ours_ms"] / run_floor
    return rows


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


def _verdict(row: dict, floor_key: str = "x_floor") -> str:
    bad = []
    if row[floor_key] > row["floor_target"]:
        bad.append(f"floor>{row['floor_target']}")
    if row["ref_target"] is not None and row["x_ref"] > row["ref_target"]:
        bad.append(f"ref>{row['ref_target']}")
    if row["ref_target"] is not None and row["mem_ours"] is not None and row["mem_ours"] > row["mem_ref"]:
        bad.append("mem>ref")
    return "met" if not bad else "NOT met: " + ", ".join(bad)


HEADER = (
    "| mode | loss | ours ms | floor ms | x floor | counterpart | ref ms | x ref | mem ours | mem ref | targets |\n"
    "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|"
)


SUMMARY_HEADER = (
    "| mode | loss | ours ms | x run floor | x ref | mem ours | mem ref | targets (run floor) |\n"
    "|---|---|---:|---:|---:|---:|---:|---|"
)


def format_summary_row(row: dict) -> str:
    """A row against the run-wide floor median of its mode."""
    return (
        f"| {row['mode']} | {row['loss']} | {row['ours_ms']:.1f} | {row['x_run_floor']:.2f} | "
        f"{_fmt(row['x_ref'], '.2f')} | {_fmt(row['mem_ours'], '.2f')} | {_fmt(row['mem_ref'], '.2f')} | "
        f"{_verdict(row, 'x_run_floor')} |"
    )


def format_row(row: dict) -> str:
    return (
        f"| {row['mode']} | {row['loss']} | {row['ours_ms']:.1f} | {row['floor_ms']:.1f} | {row['x_floor']:.2f} | "
        f"{row['ref'] or ''} | {_fmt(row['ref_ms'], '.1f')} | {_fmt(row['x_ref'], '.2f')} | "
        f"{_fmt(row['mem_ours'], '.2f')} | {_fmt(row['mem_ref'], '.2f')} | {_verdict(row)} |"
    )


def main(
    quick: bool = False,
    names: Sequence[str] | None = None,
    modes: Sequence[str] = MODES,
    batch: int = 2,
    size: int | None = None,
    repeats: int | None = None,
    device: str | None = None,
    memory: bool = True,
    threads: int | None = None,
    clock: str = "wall",
    allocator: str = "default",
    json_out: str | None = None,
) -> None:
    """Print the tables. ``size``: edge of the cubic volume (default 128, 64 with ``--quick``); ``threads``:
    torch's intra-op threads (default: torch's, one per core); ``clock``: ``"wall"`` or ``"cpu"`` (process
    time, see ``benchmarks/_timing.py``; use with ``--threads 1``); ``allocator``: ``"default"`` or ``"warm"``
    (see ``benchmarks/_allocator.py``)."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}.")
    if allocator not in REGIMES:
        raise ValueError(f"allocator must be one of {REGIMES}, got {allocator!r}.")
    set_regime(allocator)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if threads:
        torch.set_num_threads(threads)
    size = size or (64 if quick else 128)
    repeats = repeats or (5 if quick else 7)
    names = list(names or LOSSES)
    unknown = sorted(set(names) - set(LOSSES))
    if unknown:
        raise ValueError(f"unknown loss name(s) {unknown}; valid: {sorted(LOSSES)}.")
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    spatial = (size,) * 3
    print(f"# machine: {describe(dev)}")
    print(
        f"# logits ({batch}, 3, {', '.join(map(str, spatial))}); {repeats} repeats, {clock} clock, "
        f"{allocator} allocator; memory as x logits size\n"
    )
    print(HEADER)
    rows = []
    for mode in modes:
        rows += bench_mode(mode, names, batch, spatial, repeats, dev, memory=memory, clock=clock)
        if dev.type == "cuda":
            rows += bench_mode(mode, names, batch, spatial, repeats, dev, amp=True, memory=memory, clock=clock)
    print(f"\n# against the floor's median over the whole run of each mode:\n\n{SUMMARY_HEADER}")
    for row in rows:
        print(format_summary_row(row))
    print(f"\n# load average at the end: {describe(dev).rsplit('load average ', 1)[1]}")
    if json_out:
        with open(json_out, "w") as f:
            record = {
                "machine": describe(dev),
                "batch": batch,
                "spatial": spatial,
                "repeats": repeats,
                "clock": clock,
                "allocator": allocator,
                "rows": rows,
            }
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    fire.Fire(main)
