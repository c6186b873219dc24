"""Topology-aware scores of a binary prediction against a binary reference, 2D or 3D: clDice and the Betti-0 error.

- **clDice** (Shit et al., CVPR 2021, eq. 1-2): with ``S_P``, ``S_L`` the skeletons of the prediction ``V_P`` and
  the reference ``V_L``, ``Tprec = |S_P & V_L| / |S_P|`` (how much of the predicted centreline lies in the
  reference), ``Tsens = |S_L & V_P| / |S_L|`` (how much of the reference centreline is covered), clDice their
  harmonic mean. Skeletons are scikit-image's ``skeletonize`` (Zhang's method in 2D, Lee's in 3D), as the authors'
  ``cldice_metric`` (jocpae/clDice, ``skeletonize`` / ``skeletonize_3d``). The authors' code names the two ratios the
  other way round (its ``tprec`` is the paper's Tsens); the harmonic mean is the same either way.
  Empty masks: both empty is 1 (nothing to find, nothing found); exactly one empty is 0.
- **Betti-0 error**: ``|b0(prediction) - b0(reference)|``, ``b0`` the number of connected components of the
  foreground with full connectivity (26 in 3D, 8 in 2D; ``connectivity=1`` for faces only: 6 / 4).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import generate_binary_structure, label


def _masks(pred, ref) -> tuple[np.ndarray, np.ndarray]:
    p, r = np.asarray(pred), np.asarray(ref)
    if p.shape != r.shape:
        raise ValueError(f"prediction and reference must have the same shape, got {p.shape} and {r.shape}.")
    if p.ndim not in (2, 3):
        raise ValueError(f"topology scores take 2D or 3D masks (no batch or channel axis), got shape {p.shape}.")
    for name, a in (("prediction", p), ("reference", r)):
        if a.dtype != bool and not np.isin(a, (0, 1)).all():
            raise ValueError(f"the {name} must be a binary mask (0/1 or bool), got values {np.unique(a)[:5]}.")
    return p.astype(bool), r.astype(bool)


def skeleton(mask: np.ndarray) -> np.ndarray:
    """The binary skeleton of a 2D or 3D mask (scikit-image ``skeletonize``)."""
    from skimage.morphology import skeletonize

    return np.asarray(skeletonize(np.asarray(mask, dtype=bool)), dtype=bool)


def topology_precision_sensitivity(pred, ref) -> tuple[float, float]:
    """(Tprec, Tsens) of clDice (module docstring); NaN for a ratio whose skeleton is empty."""
    p, r = _masks(pred, ref)
    sp, sr = skeleton(p), skeleton(r)
    tprec = float((sp & r).sum() / sp.sum()) if sp.any() else float("nan")
    tsens = float((sr & p).sum() / sr.sum()) if sr.any() else float("nan")
    return tprec, tsens


def cldice_score(pred, ref) -> float:
    """clDice of a binary prediction against a binary reference (module docstring), in [0, 1].

    Raises:
        ValueError: shapes differ, masks are not 2D or 3D, or not binary.
    """
    p, r = _masks(pred, ref)
    if not p.any() or not r.any():
        return float(p.any() == r.any())
    tprec, tsens = topology_precision_sensitivity(p, r)
    return 2.0 * tprec * tsens / (tprec + tsens) if tprec + tsens > 0 else 0.0


def betti0(mask, connectivity: int | None = None) -> int:
    """Number of connected components of a binary mask; ``connectivity`` as scipy's ``generate_binary_structure``
    (1: faces; ``None``: full, 26 in 3D and 8 in 2D)."""
    m = np.asarray(mask, dtype=bool)
    rank = m.ndim if connectivity is None else int(connectivity)
    if not 1 <= rank <= m.ndim:
        raise ValueError(f"connectivity must be between 1 and {m.ndim} for a {m.ndim}D mask, got {connectivity!r}.")
    return int(label(m, structure=generate_binary_structure(m.ndim, rank))[1])


def betti0_error(pred, ref, connectivity: int | None = None) -> int:
    """``|b0(pred) - b0(ref)|`` (module docstring).

    Raises:
        ValueError: shapes differ, masks are not 2D or 3D, or not binary; a connectivity outside 1..ndim.
    """
    p, r = _masks(pred, ref)
    return abs(betti0(p, connectivity) - betti0(r, connectivity))
