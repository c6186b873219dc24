"""The per-case validation metrics at BraTS size (240 x 240 x 155), one region, one thread, CPU clock: the
region-wise Dice + HD95 with the distances through ``edt`` (the bundle's) against scipy's (before issue 22), and
the lesion-wise scores, on a well-matched prediction and on an early epoch's (the same plus 0.2 % one-voxel
false positives, thousands of lesions).

Usage::

    python -m benchmarks.bench_validation_metrics
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from benchmarks._machine import describe
from benchmarks._timing import interleaved_medians
from benchmarks.bench_workflow import BRATS_VOLUME
from scripts.metrics import brats_region_scores
from scripts.metrics.brats_lesion_scores import brats_lesion_scores
from scripts.metrics.brats_region_scores import brats_dice, brats_hd95


def masks() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ref = np.zeros(BRATS_VOLUME, bool)
    ref[90:150, 100:160, 50:100] = True
    ref[30:40, 30:40, 20:30] = True
    good = np.roll(ref, 2, axis=0)
    noisy = good | (np.random.default_rng(0).random(BRATS_VOLUME) < 0.002)
    return {"well matched": (good, ref), "early epoch (0.2 % specks)": (noisy, ref)}


def scipy_hd95(pred: np.ndarray, ref: np.ndarray) -> float:
    """``brats_hd95`` with scipy's distance transform, as before edt (same value)."""
    original = brats_region_scores._distances_to
    brats_region_scores._distances_to = lambda surface, spacing: distance_transform_edt(~surface, sampling=spacing)
    try:
        return brats_hd95(pred, ref)
    finally:
        brats_region_scores._distances_to = original


def main(repeats: int = 3) -> None:
    torch.set_num_threads(1)
    print(f"# {describe(torch.device('cpu'))}; {repeats} repeats (median), cpu clock, one region\n")
    print(f"| one region of a {BRATS_VOLUME} case | CPU s |\n|---|---:|")
    for name, (pred, ref) in masks().items():
        assert brats_hd95(pred, ref) == scipy_hd95(pred, ref)
        fns = {
            "region Dice + HD95, distances through edt": lambda p=pred, r=ref: (brats_dice(p, r), brats_hd95(p, r)),
            "region Dice + HD95, distances through scipy": lambda p=pred, r=ref: (brats_dice(p, r), scipy_hd95(p, r)),
            "lesion-wise Dice, HD95, NSD, counts": lambda p=pred, r=ref: brats_lesion_scores(p, r),
        }
        for row, t in interleaved_medians(fns, repeats, torch.device("cpu"), clock="cpu").items():
            print(f"| {name}: {row} | {t:.2f} |", flush=True)


if __name__ == "__main__":
    main()
