"""The two parts of the Unified Focal loss family (Yeung et al. 2022), on background and rare-class members.

A *member* is one side of a binary or categorical problem: its clipped log-probabilities, log-complements and
target. Categorical mode: the background member is channel 0, the rare member channels 1..C-1. Per-channel
binary mode: for every channel ``c`` the background member is ``[1 - p_c]`` against ``1 - g_c`` and the rare
member ``[p_c]`` against ``g_c``. Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as in the reference code;
the clip is applied to ``log p`` and ``log(1 - p)`` taken from the logits, so ``p`` and ``1 - p`` stay exact
near the clip bounds even in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ._base import sum_dims
from ._log_probs import LOG_CLIP_HIGH, LOG_CLIP_LOW, Activated
from ._terms import pow_tiny_floor, voxel_mean


class Member(NamedTuple):
    logp: torch.Tensor  # log of the clipped probability
    log1mp: torch.Tensor  # log of 1 - the clipped probability
    g: torch.Tensor  # target of this member


def members(a: Activated, kept: Callable[[torch.Tensor], torch.Tensor]) -> tuple[Member, Member]:
    """(background, rare) members of an :class:`Activated`; ``kept`` drops channel 0 in per-channel mode."""
    logp = a.logp.clamp(LOG_CLIP_LOW, LOG_CLIP_HIGH)
    log1mp = a.log1mp.clamp(LOG_CLIP_LOW, LOG_CLIP_HIGH)
    if a.categorical:
        return Member(logp[:, :1], log1mp[:, :1], a.g[:, :1]), Member(logp[:, 1:], log1mp[:, 1:], a.g[:, 1:])
    logp, log1mp, g = kept(logp), kept(log1mp), kept(a.g)
    return Member(log1mp, logp, 1 - g), Member(logp, log1mp, g)


def focal_part(
    bg: Member, fg: Member, delta: float, gamma: float, symmetric: bool, categorical: bool, batch: bool
) -> torch.Tensor:
    """Mean over voxels of ``(1-delta) (1-p_0)^gamma (-g_0 log p_0) + sum_rare delta [(1-p_c)^gamma] (-g_c log p_c)``
    (the rare factor ``(1-p_c)^gamma`` only when ``symmetric``). ``(B, 1)`` categorical, ``(B, C)`` per channel."""
    bg_term = (1 - delta) * torch.exp(gamma * bg.log1mp) * (-bg.g * bg.logp)
    fg_term = delta * (-fg.g * fg.logp)
    if symmetric:
        fg_term = fg_term * torch.exp(gamma * fg.log1mp)
    if categorical:
        return voxel_mean(bg_term.sum(1, keepdim=True) + fg_term.sum(1, keepdim=True), batch)
    return voxel_mean(bg_term + fg_term, batch)


def one_minus_mti(m: Member, delta: float, smooth_nr: float, smooth_dr: float, batch: bool) -> torch.Tensor:
    """``1 - mTI`` per (b, k), ``mTI = (TP + s_nr) / (TP + delta FN + (1 - delta) FP + s_dr)``, written as
    ``(delta FN + (1 - delta) FP + s_dr - s_nr) / (TP + delta FN + (1 - delta) FP + s_dr)`` so that no
    cancellation hides a small base from the power ``1 - gamma``."""
    p, q = m.logp.exp(), m.log1mp.exp()
    dims = sum_dims(p.ndim, batch)
    tp, fn, fp = (m.g * p).sum(dims), (m.g * q).sum(dims), ((1 - m.g) * p).sum(dims)
    if batch:
        tp, fn, fp = tp[None], fn[None], fp[None]
    err = delta * fn + (1 - delta) * fp
    return (err + (smooth_dr - smooth_nr)).clamp_min(0) / (tp + err + smooth_dr)


def focal_tversky_part(
    bg: Member,
    fg: Member,
    delta: float,
    gamma: float,
    symmetric: bool,
    categorical: bool,
    batch: bool,
    smooth_nr: float,
    smooth_dr: float,
) -> torch.Tensor:
    """Per (b, c): background ``(1 - mTI_0)^(1-gamma)`` (``1 - mTI_0`` when not ``symmetric``), rare classes
    ``(1 - mTI_c)^(1-gamma)``. Categorical: ``(B, C)`` one per class; per channel: ``(B, C)``, the mean of the
    channel's two members."""
    bg_base = one_minus_mti(bg, delta, smooth_nr, smooth_dr, batch)
    fg_term = pow_tiny_floor(one_minus_mti(fg, delta, smooth_nr, smooth_dr, batch), 1 - gamma)
    bg_term = pow_tiny_floor(bg_base, 1 - gamma) if symmetric else bg_base
    if categorical:
        return torch.cat([bg_term, fg_term], 1)
    return (bg_term + fg_term) / 2
