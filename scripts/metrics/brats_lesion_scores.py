"""Lesion-wise Dice, HD95 and NSD of one region of one case, as the official BraTS evaluation computes them.

Reference: the official BraTS metrics package ``brats-evaluation`` 0.0.10 (PyPI), which evaluates each region with
``panoptica`` 2.1.7 and its bundled ``config_gli.yaml`` (the same matching for every 2024/2025 sub-challenge
config), and reports per region ``lesionwise_{dsc,hd95,nsd}_mean`` and ``all_instance_{tp,fp,fn,prec,rec}``
(``metrics_parser.parse_seg_results``). With ``P`` and ``R`` the predicted and reference binary masks of the region:

1. **Lesions** are the connected components of ``P`` and of ``R`` (26-connectivity in 3-D, as ``cc3d``; faces only
   in 2-D). No dilation: two touching-by-a-corner voxels are one lesion, a gap of one voxel makes two.
2. **Matching** is one-to-one, maximising the summed Dice of the matched pairs (Hungarian assignment,
   ``scipy.optimize.linear_sum_assignment``, on the cost ``1 - Dice`` of every overlapping pair and
   ``1 + 1e-6`` for pairs that do not overlap); a pair is matched when its lesions overlap (Dice >= 1e-6).
   Matched pairs are true positives (TP); unmatched reference lesions are missed (FN), unmatched predicted ones
   false positives (FP).
3. **Per matched pair**: Dice ``2|A & B| / (|A| + |B|)``; HD95 the 95th percentile (numpy's linear interpolation)
   of the pooled surface distances of both directions; NSD the normalised surface Dice at a tolerance of the
   smallest voxel size, ``(f_A + f_B) / 2`` where ``f_A`` is the fraction of the surface voxels of ``A`` within
   the tolerance of the surface of ``B`` (panoptica's formula). Surfaces are ``X xor erode(X)`` (6-connected
   erosion); distances use the voxel spacing of the NIfTI header (the official package passes it to the
   lesion-wise metrics, unlike its global ones), so HD95 is in mm.
4. **Lesion-wise score** of the case: the mean over the TP pairs (``sq_dsc``, ``sq_hd95``, ``sq_nsd``). Missed and
   false-positive lesions do not lower it as long as one pair is matched; they are counted in the detection
   numbers. With no TP: Dice 0, NSD 0 and HD95 infinite, unless the region is empty in both masks (all NaN,
   left out of the means). The official parser keeps this infinite HD95 (it replaces only the *global* HD95 by
   373), so a case without a matched lesion has lesion-wise HD95 ``inf`` and a mean over cases that holds one is
   ``inf`` too. (BraTS 2023's own scripts scored every missed or FP lesion as Dice 0 / HD95 374 after a dilation;
   the official package of today does not, and this module follows the package.)
5. **Detection**: sensitivity ``TP / (TP + FN)`` and precision ``TP / (TP + FP)`` (NaN when the denominator is 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import (
    binary_erosion,
    distance_transform_edt,
    find_objects,
    generate_binary_structure,
    label,
)
from scipy.optimize import linear_sum_assignment

MATCH_THRESHOLD = 1e-6
"""Smallest Dice of a pair that may be matched (``config_gli.yaml``'s ``matching_threshold``)."""
LESION_KINDS = ("dice", "hd95", "nsd", "tp", "fp", "fn", "sensitivity", "precision")


@dataclass
class LesionScores:
    """Lesion-wise result of one region of one case (see the module docstring)."""

    dice: float
    hd95: float
    nsd: float
    tp: int
    fp: int
    fn: int
    pairs: list[tuple[int, int]] = field(default_factory=list)
    """Matched (reference lesion, predicted lesion) labels of ``ref_lesions`` / ``pred_lesions``."""
    ref_lesions: np.ndarray | None = None
    pred_lesions: np.ndarray | None = None

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    def value(self, kind: str) -> float:
        if kind not in LESION_KINDS:
            raise ValueError(f"kind must be one of {LESION_KINDS}, got {kind!r}")
        return float(getattr(self, kind))

    @property
    def missed(self) -> list[int]:
        """Reference lesion labels without a match."""
        matched = {r for r, _ in self.pairs}
        return [i for i in range(1, int(self.ref_lesions.max(initial=0)) + 1) if i not in matched]

    @property
    def false_positives(self) -> list[int]:
        """Predicted lesion labels without a match."""
        matched = {p for _, p in self.pairs}
        return [i for i in range(1, int(self.pred_lesions.max(initial=0)) + 1) if i not in matched]


def lesions(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components of a binary mask (full connectivity in 3-D and more, faces only below)."""
    connectivity = mask.ndim if mask.ndim >= 3 else 1
    labels, n = label(mask, structure=generate_binary_structure(mask.ndim, connectivity))
    return labels, int(n)


def _match(ref_lab: np.ndarray, n_ref: int, pred_lab: np.ndarray, n_pred: int) -> list[tuple[int, int, float]]:
    """Matched (ref label, pred label, Dice) by maximal summed Dice over the overlapping pairs."""
    if n_ref == 0 or n_pred == 0:
        return []
    both = (ref_lab > 0) & (pred_lab > 0)
    overlap = np.zeros((n_ref + 1, n_pred + 1), dtype=np.int64)
    np.add.at(overlap, (ref_lab[both], pred_lab[both]), 1)
    ref_size = np.bincount(ref_lab.ravel(), minlength=n_ref + 1)
    pred_size = np.bincount(pred_lab.ravel(), minlength=n_pred + 1)
    dice = 2.0 * overlap[1:, 1:] / (ref_size[1:, None] + pred_size[None, 1:])
    cost = np.where(dice >= MATCH_THRESHOLD, 1.0 - dice, 1.0 + MATCH_THRESHOLD)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r) + 1, int(c) + 1, float(dice[r, c])) for r, c in zip(rows, cols) if cost[r, c] < 1.0]


def _crop(a: np.ndarray, b: np.ndarray, pad: int = 2) -> tuple[slice, ...]:
    box = find_objects((a | b).astype(np.int8))[0]
    return tuple(slice(max(s.start - pad, 0), min(s.stop + pad, n)) for s, n in zip(box, a.shape))


def _surface_distances(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Distances of the surface voxels of ``a`` to the surface of ``b``, and of ``b``'s to ``a``'s."""
    footprint = generate_binary_structure(a.ndim, 1)
    a_surf = a ^ binary_erosion(a, structure=footprint)
    b_surf = b ^ binary_erosion(b, structure=footprint)
    a_to_b = distance_transform_edt(~b_surf, sampling=spacing)[a_surf]
    b_to_a = distance_transform_edt(~a_surf, sampling=spacing)[b_surf]
    return a_to_b, b_to_a


def pair_scores(ref: np.ndarray, pred: np.ndarray, spacing: Sequence[float]) -> tuple[float, float, float]:
    """Dice, HD95 and NSD (tolerance ``min(spacing)``) of one matched pair of lesion masks."""
    crop = _crop(ref, pred)
    ref, pred = ref[crop], pred[crop]
    dice = 2.0 * np.count_nonzero(ref & pred) / (np.count_nonzero(ref) + np.count_nonzero(pred))
    ref_to_pred, pred_to_ref = _surface_distances(ref, pred, spacing)
    hd95 = float(np.percentile(np.concatenate([ref_to_pred, pred_to_ref]), 95))
    tol = min(spacing)
    within_ref = np.count_nonzero(ref_to_pred <= tol) / ref_to_pred.size
    within_pred = np.count_nonzero(pred_to_ref <= tol) / pred_to_ref.size
    outside = (1 - within_ref) + (1 - within_pred)
    nsd = (within_ref + within_pred) / (within_ref + within_pred + outside + np.finfo(float).tiny)
    return float(dice), hd95, float(nsd)


def brats_lesion_scores(pred, ref, spacing: Sequence[float] | None = None) -> LesionScores:
    """Lesion-wise scores of one region's binary masks (see the module docstring).

    Args:
        pred: binary prediction mask (non-zero is foreground), any spatial shape.
        ref: binary reference mask of the same shape.
        spacing: voxel size per axis (mm); ``None`` is 1 per axis.

    Example:
        >>> ref = np.zeros((9, 9, 9), bool); ref[1:4, 1:4, 1:4] = True; ref[6:8, 6:8, 6:8] = True
        >>> pred = np.zeros_like(ref); pred[1:4, 1:4, 1:3] = True
        >>> s = brats_lesion_scores(pred, ref)
        >>> (round(s.dice, 3), s.tp, s.fn, s.fp)
        (0.8, 1, 1, 0)
    """
    p = np.asarray(pred).astype(bool)
    r = np.asarray(ref).astype(bool)
    if p.shape != r.shape:
        raise ValueError(f"prediction and reference masks must have the same shape, got {p.shape} and {r.shape}")
    if p.ndim == 0:
        raise ValueError("prediction and reference masks must have spatial dimensions, got scalars")
    sp = tuple(float(s) for s in spacing) if spacing is not None else (1.0,) * p.ndim
    if len(sp) != p.ndim or not all(s > 0 for s in sp):
        raise ValueError(f"spacing must give one positive size per axis ({p.ndim}), got {sp}")
    ref_lab, n_ref = lesions(r)
    pred_lab, n_pred = lesions(p)
    matches = _match(ref_lab, n_ref, pred_lab, n_pred)
    tp = len(matches)
    common = dict(tp=tp, fp=n_pred - tp, fn=n_ref - tp, ref_lesions=ref_lab, pred_lesions=pred_lab)
    if tp == 0:
        if n_ref + n_pred == 0:
            return LesionScores(math.nan, math.nan, math.nan, **common)
        return LesionScores(0.0, math.inf, 0.0, **common)
    scores = np.array([pair_scores(ref_lab == a, pred_lab == b, sp) for a, b, _ in matches])
    dice, hd95, nsd = scores.mean(axis=0)
    return LesionScores(float(dice), float(hd95), float(nsd), pairs=[(a, b) for a, b, _ in matches], **common)


@dataclass(frozen=True)
class ReferenceLesion:
    """Outcome of one reference lesion under the official matching: its size, whether a predicted lesion was
    matched to it, and the Dice of that pair (0 when missed)."""

    voxels: int
    detected: bool
    dice: float


def reference_lesion_outcomes(pred, ref) -> tuple[list[ReferenceLesion], int]:
    """Per reference lesion (in label order of :func:`lesions`) its :class:`ReferenceLesion`, and the number of
    false-positive predicted lesions, with the matching of :func:`brats_lesion_scores`.

    Example:
        >>> ref = np.zeros((9, 9, 9), bool); ref[1:4, 1:4, 1:4] = True; ref[6:8, 6:8, 6:8] = True
        >>> pred = np.zeros_like(ref); pred[1:4, 1:4, 1:3] = True; pred[6, 0, 0] = True
        >>> outcomes, fp = reference_lesion_outcomes(pred, ref)
        >>> [(o.voxels, o.detected, round(o.dice, 3)) for o in outcomes], fp
        ([(27, True, 0.8), (8, False, 0.0)], 1)
    """
    p = np.asarray(pred).astype(bool)
    r = np.asarray(ref).astype(bool)
    if p.shape != r.shape:
        raise ValueError(f"prediction and reference masks must have the same shape, got {p.shape} and {r.shape}")
    ref_lab, n_ref = lesions(r)
    pred_lab, n_pred = lesions(p)
    matched = {a: d for a, _, d in _match(ref_lab, n_ref, pred_lab, n_pred)}
    sizes = np.bincount(ref_lab.ravel(), minlength=n_ref + 1)
    outcomes = [ReferenceLesion(int(sizes[i]), i in matched, float(matched.get(i, 0.0))) for i in range(1, n_ref + 1)]
    return outcomes, n_pred - len(matched)
