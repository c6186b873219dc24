"""KiTS23 evaluation of one case: Dice and Surface Dice of the hierarchical evaluation classes (HECs).

Reference: the KiTS23 challenge's evaluation (``kits23/evaluation/metrics.py`` and ``kits23/configuration/labels.py``
of the ``neheller/kits23`` repository; Heller et al., arXiv:2307.01984). With label maps 0 background, 1 kidney,
2 tumour, 3 cyst:

- HECs: kidney and masses ``{1, 2, 3}``, masses ``{2, 3}``, tumour ``{2}``;
- per HEC, Dice ``2|P & R| / (|P| + |R|)`` and the Surface Dice at a tolerance of 1.0331 mm, 1.1329 mm and
  1.1498 mm respectively (the challenge's ``HEC_SD_TOLERANCES_MM``): the area of both surfaces lying within the
  tolerance of the other surface over the total area of both, surfaces measured by surface elements (Nikolov et
  al., arXiv:1809.04430, DeepMind's ``surface-distance``; here MONAI's ``compute_surface_dice`` with
  ``use_subvoxels=True``, its implementation of the same), with the voxel spacing of the image;
- both masks empty: Dice 1 and Surface Dice 1; exactly one empty: 0 and 0 (the challenge's rule);
- the leaderboard averages each over cases and HECs ("average Dice", "average Surface Dice").

The bundle's KiTS network predicts 0 / 1 kidney / 2 tumour (no cyst class), so its predicted masses are its tumour
voxels; the reference keeps its cysts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.metrics import compute_surface_dice

KITS23_HECS: dict[str, tuple[int, ...]] = {
    "kidney_and_masses": (1, 2, 3),
    "masses": (2, 3),
    "tumour": (2,),
}
KITS23_SD_TOLERANCES_MM: dict[str, float] = {
    "kidney_and_masses": 1.0330772532390826,
    "masses": 1.1328796488598762,
    "tumour": 1.1498198361434828,
}


def _dice(p: np.ndarray, r: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(p & r) / (np.count_nonzero(p) + np.count_nonzero(r))


def surface_dice(pred: np.ndarray, ref: np.ndarray, tolerance_mm: float, spacing: Sequence[float]) -> float:
    """Surface Dice at ``tolerance_mm`` of two non-empty binary masks (surface elements, see the module docstring)."""
    box = np.argwhere(pred | ref)
    crop = tuple(slice(max(lo - 2, 0), hi + 3) for lo, hi in zip(box.min(0), box.max(0)))
    p = torch.from_numpy(np.ascontiguousarray(pred[crop]))[None, None]
    r = torch.from_numpy(np.ascontiguousarray(ref[crop]))[None, None]
    value = compute_surface_dice(
        p, r, [float(tolerance_mm)], include_background=True, spacing=list(spacing), use_subvoxels=True
    )
    return float(value[0, 0])


def kits23_hec_scores(pred_label, ref_label, spacing: Sequence[float]) -> dict[str, float]:
    """``dice_<hec>`` and ``surface_dice_<hec>`` of one case for the three KiTS23 HECs.

    Args:
        pred_label: predicted label map (0, 1, 2[, 3]).
        ref_label: reference label map (0, 1, 2, 3), same shape.
        spacing: voxel size per array axis in mm.

    Example:
        >>> ref = np.zeros((6, 6, 6), int); ref[1:5, 1:5, 1:5] = 1; ref[2:4, 2:4, 2:4] = 3
        >>> kits23_hec_scores(np.where(ref == 3, 1, ref), ref, (1.0, 1.0, 1.0))["dice_masses"]
        0.0
    """
    pred = np.asarray(pred_label)
    ref = np.asarray(ref_label)
    if pred.shape != ref.shape:
        raise ValueError(f"prediction and reference must have the same shape, got {pred.shape} and {ref.shape}")
    if len(spacing) != pred.ndim:
        raise ValueError(f"spacing must give one size per axis ({pred.ndim}), got {tuple(spacing)}")
    out = {}
    for hec, labels in KITS23_HECS.items():
        p, r = np.isin(pred, labels), np.isin(ref, labels)
        if not p.any() and not r.any():
            dice = sd = 1.0
        elif not p.any() or not r.any():
            dice = sd = 0.0
        else:
            dice, sd = _dice(p, r), surface_dice(p, r, KITS23_SD_TOLERANCES_MM[hec], spacing)
        out[f"dice_{hec}"], out[f"surface_dice_{hec}"] = float(dice), float(sd)
    return out
