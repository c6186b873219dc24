"""Rare-class metrics of one binary prediction: Dice, precision, recall (from voxel counts) and HD95.

HD95 reuses ``scripts.metrics.brats_hd95`` (pooled 95th percentile of both directed surface distances, in
voxels). Without overlap (empty prediction of a non-empty reference, or disjoint masks) HD95 has no finite
value in that convention; as BraTS reports its atlas diagonal there, we report the diagonal of the volume (the
worst possible distance), so means stay finite and a missed object is penalised. Both masks empty: 0.
Precision of an empty prediction is undefined and reported as NaN (left out of the means, and counted in
``empty_pred``).
"""

from __future__ import annotations

import math

import numpy as np

from scripts.metrics import brats_hd95


def confusion_counts(pred, ref) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of two binary masks of the same shape."""
    p, r = np.asarray(pred).astype(bool), np.asarray(ref).astype(bool)
    if p.shape != r.shape:
        raise ValueError(f"prediction and reference must have the same shape, got {p.shape} and {r.shape}.")
    return int(np.sum(p & r)), int(np.sum(p & ~r)), int(np.sum(~p & r))


def rare_class_metrics(pred, ref) -> dict[str, float]:
    """Dice ``2TP/(2TP+FP+FN)``, precision ``TP/(TP+FP)``, recall ``TP/(TP+FN)`` and HD95 of the foreground.

    Dice is 1 when both masks are empty; recall is NaN when the reference is empty.
    """
    tp, fp, fn = confusion_counts(pred, ref)
    dice = 1.0 if tp + fp + fn == 0 else 2.0 * tp / (2 * tp + fp + fn)
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    shape = np.asarray(ref).shape
    diagonal = float(np.sqrt(np.sum(np.square(shape))))
    hd95 = brats_hd95(pred, ref, no_overlap_value=diagonal)
    if math.isnan(hd95):  # both masks empty
        hd95 = 0.0
    return {"dice": dice, "precision": precision, "recall": recall, "hd95": hd95, "empty_pred": float(tp + fp == 0)}
