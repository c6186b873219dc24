"""KiTS19 evaluation of one case: Dice of kidney-and-tumour and of tumour (the challenge's metrics), HD95 of each.

Reference: Heller et al., "The state of the art in kidney and kidney tumor segmentation in contrast-enhanced CT
imaging: Results of the KiTS19 challenge", Med. Image Anal. 67 (2021) 101821, and the challenge's evaluation code
(``starter_code/evaluation.py`` of the ``neheller/kits19`` repository). With predicted and reference label maps in
the KiTS19 classes (0 background, 1 kidney, 2 tumour) in the image's own space:

- regions: kidney-and-tumour ``label > 0`` and tumour ``label > 1`` (the code's ``np.greater(x, 0)``,
  ``np.greater(x, 1)``; the same sets as ``CONVENTIONS["kits19"].regions``);
- Dice per region and case ``2|P & R| / (|P| + |R|)``; the leaderboard score is the mean of the two regions'
  Dice averaged over cases.
- Both masks empty: the challenge code divides numpy integers 0/0, which gives NaN (its ``except
  ZeroDivisionError`` never fires; every KiTS19 case has a tumour, so it never mattered). We return NaN too and
  leave the entry out of the means, as :func:`scripts.metrics.brats_dice` does (it is the same function).

HD95 is not a KiTS19 ranking metric; we report it as most KiTS papers do (the ``medpy``/MONAI definition):
``max(P95(d(dP, dR)), P95(d(dR, dP)))`` in millimetres, where ``dX`` is the surface of ``X`` (``X`` minus its
6-connected erosion), ``d(A, B)`` the Euclidean distance of each voxel of ``A`` to the nearest voxel of ``B`` with
the voxel spacing of the image (Huttenlocher et al., IEEE TPAMI 1993, for the Hausdorff distance), P95 numpy's
linear-interpolation percentile. Computed by ``monai.metrics.compute_hausdorff_distance(percentile=95)``. This
differs from the official BraTS ``brats_hd95`` (pooled percentile, voxels). Our choices where it is undefined:
both masks empty -> NaN (left out of the means); exactly one empty -> the image diagonal in mm (the largest distance
two voxels of the image can have), a finite worst case in the manner of BraTS's 373.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance

from scripts.data.label_conventions import CONVENTIONS

from .brats_region_scores import brats_dice

KITS_REGIONS: dict[str, tuple[int, ...]] = dict(CONVENTIONS["kits19"].regions)
"""Region name -> KiTS19 label values it unites: ``kidney_and_tumour`` (1, 2), ``tumour`` (2,)."""
KITS_VALUES = CONVENTIONS["kits19"].values

kits_dice = brats_dice
"""Dice of one region's binary masks, NaN when both are empty (see the module docstring)."""


def check_kits_label(label, what: str = "label") -> np.ndarray:
    """``label`` as an integer numpy array; ValueError naming the values outside the KiTS19 classes {0, 1, 2}."""
    arr = np.asarray(label.detach().cpu() if isinstance(label, torch.Tensor) else label)
    if arr.ndim == 0:
        raise ValueError(f"{what} must be a label map with spatial dimensions, got a scalar")
    values = np.unique(arr)
    outside = [v for v in values.tolist() if v not in KITS_VALUES]
    if outside:
        raise ValueError(
            f"{what} has values {outside[:10]} outside the KiTS19 classes {list(KITS_VALUES)} "
            "(map KiTS21/23 cysts with scripts.transforms.KiTSLabelsd first)"
        )
    return arr.astype(np.int64)


def kits_region_masks(label, regions: Sequence[str] = tuple(KITS_REGIONS), what: str = "label") -> np.ndarray:
    """Boolean masks ``(len(regions), *spatial)`` of a KiTS19 label map, one per named region."""
    arr = check_kits_label(label, what)
    unknown = [r for r in regions if r not in KITS_REGIONS]
    if unknown or not regions:
        raise ValueError(f"regions must be a non-empty selection of {list(KITS_REGIONS)}, got {list(regions)}")
    return np.stack([np.isin(arr, KITS_REGIONS[r]) for r in regions])


def _check_spacing(spacing: Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    values = tuple(float(s) for s in np.asarray(spacing, dtype=np.float64).ravel())
    if len(values) != ndim or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing must give one positive size per axis ({ndim}), got {tuple(values)}")
    return values


def image_diagonal(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """Distance in mm between the centres of opposite corner voxels of an image of ``shape`` and ``spacing``."""
    return float(math.sqrt(sum(((int(n) - 1) * float(s)) ** 2 for n, s in zip(shape, spacing))))


def kits_hd95(pred, ref, spacing: Sequence[float] | None = None) -> float:
    """HD95 in mm of one region's binary masks (see the module docstring).

    Args:
        pred: binary prediction mask, any spatial shape (non-zero is foreground).
        ref: binary reference mask of the same shape.
        spacing: voxel size per array axis in mm; ``None`` measures in voxels.

    Returns:
        the HD95; NaN when both masks are empty; the image diagonal when exactly one is.

    Example:
        >>> a = np.zeros((5, 5, 5)); a[1:3, 1:3, 1:3] = 1
        >>> b = np.zeros((5, 5, 5)); b[1:4, 1:3, 1:3] = 1
        >>> kits_hd95(b, a, spacing=(3.0, 1.0, 1.0))
        3.0
    """
    p = np.asarray(pred).astype(bool)
    r = np.asarray(ref).astype(bool)
    if p.shape != r.shape:
        raise ValueError(f"prediction and reference masks must have the same shape, got {p.shape} and {r.shape}")
    if p.ndim == 0:
        raise ValueError("prediction and reference masks must have at least one spatial dimension, got scalars")
    sp = _check_spacing(spacing, p.ndim)
    if not p.any() and not r.any():
        return math.nan
    if not p.any() or not r.any():
        return image_diagonal(p.shape, sp)
    # crop to the masks' bounding box plus one voxel: same surfaces and distances, far less memory on CT volumes
    box = np.argwhere(p | r)
    crop = tuple(slice(max(lo - 1, 0), hi + 2) for lo, hi in zip(box.min(0), box.max(0)))
    p, r = p[crop], r[crop]
    hd = compute_hausdorff_distance(
        torch.from_numpy(p)[None, None],
        torch.from_numpy(r)[None, None],
        include_background=True,
        percentile=95,
        spacing=list(sp),
    )
    return float(hd[0, 0])


def kits_case_metrics(pred_label, ref_label, spacing: Sequence[float] | None = None) -> dict[str, float]:
    """``dice_<region>`` and ``hd95_<region>`` of one case for both KiTS19 regions, from label maps 0/1/2.

    Example:
        >>> ref = np.zeros((4, 4, 4), int); ref[1:3, 1:3, 1:3] = 1; ref[1, 1, 1] = 2
        >>> pred = ref.copy(); pred[1, 1, 1] = 1
        >>> kits_case_metrics(pred, ref)["dice_tumour"]
        0.0
    """
    pred_masks = kits_region_masks(pred_label, what="prediction")
    ref_masks = kits_region_masks(ref_label, what="reference")
    if pred_masks.shape != ref_masks.shape:
        raise ValueError(
            f"prediction and reference must have the same shape, got {pred_masks.shape[1:]} and {ref_masks.shape[1:]}"
        )
    out = {}
    for i, region in enumerate(KITS_REGIONS):
        out[f"dice_{region}"] = kits_dice(pred_masks[i], ref_masks[i])
    for i, region in enumerate(KITS_REGIONS):
        out[f"hd95_{region}"] = kits_hd95(pred_masks[i], ref_masks[i], spacing)
    return out
