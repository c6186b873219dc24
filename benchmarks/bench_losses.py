"""Speed and memory of every catalogue loss, compiled (the default) and eager, against the floor and MONAI.

For a BraTS-like sigmoid batch (regions TC/WT/ET, float targets) and a KiTS-like softmax batch (labels,
``to_onehot_y=True``), both ``(2, 3, 128, 128, 128)`` logits by default, each loss's forward + backward is timed
in one interleaved run with: the floor ``(sigmoid(x) * y).sum()`` eager and under ``torch.compile``, the loss
compiled and eager, and MONAI's (or torch's) counterpart (``benchmarks/_counterparts.py``); medians over the
repeats. Peak extra memory (``benchmarks/_memory.py``) is a multiple of the logits' size (the gradient alone is
1.0). The first call of the compiled loss (compilation) is timed apart. On CUDA the eager rows are repeated
under autocast (fp16).

The map losses (``boundary``, ``gdl_boundary``, ``hausdorff_dt``, ``log_hausdorff_dt``, ``blob``) are timed as the
bundle runs them: built with ``maps_in_target=True`` and given the target with its maps appended, computed once
beforehand by the bundle's map transforms (``scripts.transforms.loss_map_transforms``: ``SignedDistanced``,
``ConnectedComponentsd``). Computing the maps is the data loader's work, timed by ``bench_workflow --maps``;
MONAI's counterparts compute them inside every call, so their rows include it.

Targets (issue 12): compiled region losses at most 1.0x the eager floor, every other compiled loss at most
3.0x; compiled at most 0.5x MONAI's counterpart, eager at most 1.5x; compiled peak memory at most 2.5x.

The soft-skeleton losses (``cldice``, ``dice_cldice``: those with ``iterations``) cost seconds per call on a CPU at
128^3 (10 skeleton iterations, each a handful of 3D pooling passes over the prediction and the target: cldice took
44 s compiled, 86 s eager, MONAI's 81 s per forward + backward on one thread); on a CPU without ``names`` they are
left out of a run above 64^3 and are timed in their own run at 64^3 (``SKELETON_SIZE``, 3 repeats).

Usage::

    python -m benchmarks.bench_losses            # full size, about 15 minutes on 2 cores
    python -m benchmarks.bench_losses --quick    # (2, 3, 64, 64, 64), a few minutes (compilation dominates)
    python -m benchmarks.bench_losses --names "[dice,focal]" --modes "[sigmoid]" --repeats 9
    python -m benchmarks.bench_losses --names "[cldice,dice_cldice]" --size 64 --repeats 3   # the skeleton losses
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import time
from collections.abc import Sequence

import fire
import torch

from benchmarks._allocator import REGIMES, set_regime
from benchmarks._batches import brats_like, kits_like
from benchmarks._counterparts import counterparts
from benchmarks._machine import describe
from benchmarks._memory import peak_extra_bytes
from benchmarks._timing import CLOCKS, floor_loss, forward_backward, interleaved_times, synchronize
from scripts.losses import LOSSES, build_loss, map_kind
from scripts.transforms.maps import loss_map_transforms

REGION = {
    "dice", "dice_squared", "iou", "tversky", "generalized_dice", "dice_two_class", "focal_tversky", "focal_dice",
    "sensitivity_specificity",
}  # fmt: skip
MODES = ("sigmoid", "softmax")
TARGETS = {"floor_region": 1.0, "floor_other": 3.0, "ref_compiled": 0.5, "ref_eager": 1.5, "memory": 2.5}


SKELETON_SIZE = 64


def soft_skeleton(name: str) -> bool:
    """Whether the catalogue loss ``name`` computes soft skeletons (its ``iterations`` default)."""
    return "iterations" in LOSSES[name].defaults


def default_names(size: int, device: torch.device) -> list[str]:
    """Every catalogue name, less the soft-skeleton losses on a CPU above ``SKELETON_SIZE`` (minutes per row)."""
    if device.type == "cuda" or size <= SKELETON_SIZE:
        return list(LOSSES)
    return [n for n in LOSSES if not soft_skeleton(n)]


def floor_target(name: str) -> float:
    return TARGETS["floor_region"] if name in REGION else TARGETS["floor_other"]


def make_batch(mode: str, batch: int, spatial: tuple[int, ...], device: torch.device):
    x, target = (kits_like if mode == "softmax" else brats_like)(batch, spatial)
    return x.to(device), target.to(device)


def with_maps(target: torch.Tensor, kind: str, num_classes: int | None) -> tuple[torch.Tensor, float]:
    """``(target with its maps appended, seconds)``: per sample, the bundle's map transform of ``kind`` (what the
    training loader hands a loss built with ``maps_in_target=True``); ``num_classes`` for a label map."""
    transform = loss_map_transforms(kind, num_classes=num_classes)[0]
    start = time.perf_counter()
    out = torch.stack([transform({"label": t})["label"] for t in target.cpu()])
    return out.to(target.device), time.perf_counter() - start


def first_call_seconds(fn, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


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
    floors = {
        "floor": forward_backward(floor_loss, x, target),
        "floor_compiled": forward_backward(torch.compile(floor_loss), x, target),
    }
    rows, mapped = [], {}  # mapped: map kind -> (target with maps, seconds of the transform)
    for name in names:
        kind, ours_target, ours_flags = map_kind(name), target, flags
        if kind is not None:  # as the bundle: the maps precomputed by the loader's transform, in the target
            if kind not in mapped:
                mapped[kind] = with_maps(target, kind, x.shape[1] if mode == "softmax" else None)
            ours_target, ours_flags = mapped[kind][0], {**flags, "maps_in_target": True}
        compiled = build_loss(name, **ours_flags).to(device)
        eager = build_loss(name, **ours_flags, compile=False).to(device)
        fns = {
            **floors,
            "compiled": forward_backward(compiled, x, ours_target),
            "eager": forward_backward(eager, x, ours_target),
        }
        ref_label = refs[name][0] if name in refs else None
        if ref_label:
            fns["ref"] = forward_backward(refs[name][1], x, target)
        with torch.autocast(device.type, enabled=amp):
            compile_s = first_call_seconds(fns["compiled"], device)
            samples = interleaved_times(fns, repeats, device, clock=clock)
            ms = {key: 1e3 * statistics.median(ts) for key, ts in samples.items()}
            mem = {k: peak_extra_bytes(fns[k], device) / input_bytes for k in fns if memory and k != "floor_compiled"}
        row = {
            "mode": mode + (" amp" if amp else ""),
            "loss": name,
            "compiled_ms": ms["compiled"],
            "eager_ms": ms["eager"],
            "floor_ms": ms["floor"],
            "floor_compiled_ms": ms["floor_compiled"],
            "first_call_s": compile_s,
            "x_floor": ms["compiled"] / ms["floor"],
            "x_floor_eager": ms["eager"] / ms["floor"],
            "floor_target": floor_target(name),
            "ref": ref_label,
            "ref_ms": ms.get("ref"),
            "x_ref": ms["compiled"] / ms["ref"] if ref_label else None,
            "x_ref_eager": ms["eager"] / ms["ref"] if ref_label else None,
            "mem_compiled": mem.get("compiled"),
            "mem_eager": mem.get("eager"),
            "mem_ref": mem.get("ref"),
            "mem_floor": mem.get("floor"),
            "floor_samples_ms": [1e3 * t for t in samples["floor"]],
            "maps": kind,
            "maps_transform_s": mapped[kind][1] if kind is not None else None,
        }
        rows.append(row)
        print(format_row(row), flush=True)
    # the floor pooled over every comparison of the mode: a steadier reference on a loaded machine
    run_floor = statistics.median(t for row in rows for t in row["floor_samples_ms"])
    for row in rows:
        row["run_floor_ms"] = run_floor
        row["x_run_floor"] = row["compiled_ms"] / run_floor
    return rows


def misses(row: dict, floor_key: str = "x_run_floor") -> list[str]:
    """The targets a row misses, each with its measured value."""
    bad = []
    if row[floor_key] > row["floor_target"]:
        bad.append(f"compiled {row[floor_key]:.2f}x floor > {row['floor_target']}")
    if row["x_ref"] is not None and row["x_ref"] > TARGETS["ref_compiled"]:
        bad.append(f"compiled {row['x_ref']:.2f}x MONAI > {TARGETS['ref_compiled']}")
    if row["x_ref_eager"] is not None and row["x_ref_eager"] > TARGETS["ref_eager"]:
        bad.append(f"eager {row['x_ref_eager']:.2f}x MONAI > {TARGETS['ref_eager']}")
    if row["mem_compiled"] is not None and row["mem_compiled"] > TARGETS["memory"]:
        bad.append(f"memory {row['mem_compiled']:.2f}x > {TARGETS['memory']}")
    return bad


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


HEADER = (
    "| mode | loss | compiled ms | eager ms | floor ms | compiled floor ms | x floor | MONAI ms | compiled x MONAI | "
    "eager x MONAI | memory compiled | memory eager | memory MONAI | first call s | targets |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def format_row(row: dict, floor_key: str = "x_floor") -> str:
    bad = misses(row, floor_key)
    return (
        f"| {row['mode']} | {row['loss']} | {row['compiled_ms']:.1f} | {row['eager_ms']:.1f} | {row['floor_ms']:.1f} | "
        f"{row['floor_compiled_ms']:.1f} | {row[floor_key]:.2f} | {_fmt(row['ref_ms'], '.1f')} | "
        f"{_fmt(row['x_ref'], '.2f')} | {_fmt(row['x_ref_eager'], '.2f')} | {_fmt(row['mem_compiled'], '.2f')} | "
        f"{_fmt(row['mem_eager'], '.2f')} | {_fmt(row['mem_ref'], '.2f')} | {row['first_call_s']:.1f} | "
        f"{'met' if not bad else 'NOT met: ' + '; '.join(bad)} |"
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
    """Print the table. ``size``: edge of the cubic volume (default 128, 64 with ``--quick``); ``threads``:
    torch's intra-op threads (default: torch's, one per core); ``clock``: ``"wall"`` or ``"cpu"``
    (``benchmarks/_timing.py``); ``allocator``: ``"default"`` or ``"warm"`` (``benchmarks/_allocator.py``; peak
    memory is measured in the default regime only)."""
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
    names = list(names or default_names(size, dev))
    unknown = sorted(set(names) - set(LOSSES))
    if unknown:
        raise ValueError(f"unknown loss name(s) {unknown}; valid: {sorted(LOSSES)}.")
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    memory = memory and (allocator == "default" or dev.type == "cuda")
    spatial = (size,) * 3
    machine, date = describe(dev), datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# machine: {machine}; torch {torch.__version__}; {date}")
    shape = ", ".join(map(str, (batch, 3, *spatial)))
    print(f"# logits ({shape}); {repeats} repeats, {clock} clock, {allocator} allocator\n")
    print(HEADER)
    rows = []

    def save() -> None:  # after each mode: a run stopped early keeps the modes it finished
        if json_out:
            record = {
                "machine": machine,
                "date": date,
                "load_end": os.getloadavg(),
                "names": names,
                "torch": torch.__version__,
                "batch": batch,
                "spatial": spatial,
                "repeats": repeats,
                "clock": clock,
                "allocator": allocator,
                "rows": rows,
            }
            with open(json_out, "w") as f:
                json.dump(record, f, indent=1)

    for mode in modes:
        rows += bench_mode(mode, names, batch, spatial, repeats, dev, memory=memory, clock=clock)
        if dev.type == "cuda":
            rows += bench_mode(mode, names, batch, spatial, repeats, dev, amp=True, memory=memory, clock=clock)
        save()
    print("\n# against the floor's median over the whole run of each mode:\n\n" + HEADER)
    for row in rows:
        print(format_row(row, "x_run_floor"))
    print(f"\n# load average at the end: {describe(dev).rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    fire.Fire(main)
