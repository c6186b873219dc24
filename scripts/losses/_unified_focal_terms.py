"""The two parts of the Unified Focal loss family (Yeung et al. 2022), on background and rare-class members.

A *member* is one side of a binary or categorical problem: its clipped log-probabilities, log-complements and
target. Categorical mode: the background member is channel 0, the rare member channels 1..C-1. Per-channel
binary mode: for every channel ``c`` the background member is ``[1 - p_c]`` against ``1 - g_c`` and the rare
member ``[p_c]`` against ``g_c``. Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as in the reference code;
the clip is applied to ``log p`` and ``log(1 - p)`` taken from the logits, so ``p`` and ``1 - p`` stay exact
near the clip bounds even in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from ._log_probs import LOG_CLIP_HIGH, LOG_CLIP_LOW, Activated
from ._terms import pow_tiny_floor


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


def focal_sums(bg: Member, fg: Member, delta: float, gamma: float, symmetric: bool, categorical: bool) -> torch.Tensor:
    """Sum over the voxels of ``(1-delta) (1-p_0)^gamma (-g_0 log p_0) + sum_rare delta [(1-p_c)^gamma] (-g_c log p_c)``
    (the rare factor ``(1-p_c)^gamma`` only when ``symmetric``): ``(B, 1)`` categorical, ``(B, C)`` per channel.
    Divided by the voxel count it is the focal part."""
    bg_term = (1 - delta) * torch.exp(gamma * bg.log1mp) * (-bg.g * bg.logp)
    fg_term = delta * (-fg.g * fg.logp)
    if symmetric:
        fg_term = fg_term * torch.exp(gamma * fg.log1mp)
    if categorical:
        return (bg_term.sum(1, keepdim=True) + fg_term.sum(1, keepdim=True)).sum(-1)
    return (bg_term + fg_term).sum(-1)


def tversky_sums(m: Member) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(TP, FN, FP)`` of a member, summed over the voxels, from the clipped ``p`` and ``1 - p``."""
    p, q = m.logp.exp(), m.log1mp.exp()
    return (m.g * p).sum(-1), (m.g * q).sum(-1), ((1 - m.g) * p).sum(-1)


def one_minus_mti(
    tp: torch.Tensor, fn: torch.Tensor, fp: torch.Tensor, delta: float, smooth_nr: float, smooth_dr: float
) -> torch.Tensor:
    """``1 - mTI`` per (b, k), ``mTI = (TP + s_nr) / (TP + delta FN + (1 - delta) FP + s_dr)``, written as
    ``(delta FN + (1 - delta) FP + s_dr - s_nr) / (TP + delta FN + (1 - delta) FP + s_dr)`` so that no
    cancellation hides a small base from the power ``1 - gamma``."""
    err = delta * fn + (1 - delta) * fp
    return (err + (smooth_dr - smooth_nr)).clamp_min(0) / (tp + err + smooth_dr)


def focal_tversky_part(
    bg_sums: Sequence[torch.Tensor],
    fg_sums: Sequence[torch.Tensor],
    delta: float,
    gamma: float,
    symmetric: bool,
    categorical: bool,
    smooth_nr: float,
    smooth_dr: float,
) -> torch.Tensor:
    """Per (b, c), from the members' :func:`tversky_sums` over the volume: background ``(1 - mTI_0)^(1-gamma)``
    (``1 - mTI_0`` when not ``symmetric``), rare classes ``(1 - mTI_c)^(1-gamma)``. Categorical: ``(B, C)`` one
    per class; per channel: ``(B, C)``, the mean of the channel's two members."""
    bg_base = one_minus_mti(*bg_sums, delta, smooth_nr, smooth_dr)
    fg_term = pow_tiny_floor(one_minus_mti(*fg_sums, delta, smooth_nr, smooth_dr), 1 - gamma)
    bg_term = pow_tiny_floor(bg_base, 1 - gamma) if symmetric else bg_base
    if categorical:
        return torch.cat([bg_term, fg_term], 1)
    return (bg_term + fg_term) / 2
