"""The two parts of the Unified Focal loss family (Yeung et al. 2022): voxel sums, their gradients, and the
per-(b, c) formulas on background and rare-class members.

A *member* is one side of a binary or categorical problem: its clipped log-probabilities, log-complements and
target. Categorical mode: the background member is channel 0, the rare member channels 1..C-1. Per-channel
binary mode: for every channel ``c`` the background member is ``[1 - p_c]`` against ``1 - g_c`` and the rare
member ``[p_c]`` against ``g_c``. Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as in the reference code;
the clip is applied to ``log p`` and ``log(1 - p)`` taken from the logits (``A = clip(log p)``,
``B = clip(log(1 - p))``, ``P = exp(A)``, ``Q = exp(B)``), so ``p`` and ``1 - p`` stay exact near the clip
bounds even in float32.

The sums over the voxels (:func:`unified_terms`), per slice of the voxels:

- focal part: ``sum_x (1-delta) Q_0^gamma (-g_0 A_0) + sum_rare delta [Q_c^gamma] (-g_c A_c)`` per sample
  (categorical, ``(B, 1)``), or per channel ``(1-delta) P^gamma (-(1-g) B) + delta [Q^gamma] (-g A)``
  (per-channel binary, ``(B, C)``); ``[.]`` only in the symmetric variant;
- focal Tversky part, categorical: ``TP = sum g P``, ``FN = sum g Q``, ``FP = sum (1-g) P`` per channel;
  per-channel binary: ``sum g P``, ``sum (1-g) P``, ``sum g Q``, ``sum (1-g) Q`` per channel, from which both
  members' ``TP, FN, FP`` follow (the background member swaps ``P`` and ``Q`` and ``g`` and ``1 - g``).

:func:`unified_partials` is their gradient w.r.t. ``log p`` and ``log(1 - p)`` (hand-written: the family's
terms are the most expensive of the package to differentiate by autograd, slice after slice). On sigmoid
logits both are computed from the logits directly (:mod:`scripts.losses._unified_focal_logits`), on softmax
logits from the probabilities without log-sum-exps (:mod:`scripts.losses._unified_focal_softmax`): fewer passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ._activation import LOG_CLIP_HIGH, LOG_CLIP_LOW, PROB_CLIP, LazyPrims
from ._log_probs import Activated
from ._terms import pow_tiny_floor
from ._unified_focal_logits import logit_grad, logit_terms
from ._unified_focal_softmax import softmax_grad, softmax_terms


@dataclass(frozen=True)
class UnifiedConfig:
    """What one loss of the family computes: which parts, and their parameters."""

    delta: float
    gamma: float
    symmetric: bool
    focal: bool
    tversky: bool
    kept: Callable[[torch.Tensor], torch.Tensor]  # drops channel 0 (per-channel mode, include_background=False)
    one_hot: bool = False  # labels made one-hot on the slice (to_onehot_y): one class per voxel (symmetric: used)


def _clipped(a: Activated) -> tuple[torch.Tensor, torch.Tensor]:
    return a.logp.clamp(LOG_CLIP_LOW, LOG_CLIP_HIGH), a.log1mp.clamp(LOG_CLIP_LOW, LOG_CLIP_HIGH)


def _clipped_probs(
    a: Activated, clip_logp: torch.Tensor, clip_log1mp: torch.Tensor, kept: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``P = exp(clip(log p))`` and ``Q = exp(clip(log(1 - p)))`` of the (kept) clipped logs. In sigmoid mode
    these are the clipped ``sigmoid(x)`` and ``sigmoid(-x)`` (equal to rounding, and more exact), which cost
    less than two exponentials and are needed by the backward pass anyway."""
    prims = a.prims
    if isinstance(prims, LazyPrims) and prims.mode == "sigmoid":
        return kept(prims.p).clamp(PROB_CLIP, 1 - PROB_CLIP), kept(prims.q).clamp(PROB_CLIP, 1 - PROB_CLIP)
    return clip_logp.exp(), clip_log1mp.exp()


def _inside_clip(t: torch.Tensor) -> torch.Tensor:
    """Float mask of ``LOG_CLIP_LOW <= t <= LOG_CLIP_HIGH``, where ``torch.clamp`` passes gradient (written
    by comparisons into float tensors: several times faster than bool tensors cast to float)."""
    low, high = torch.empty_like(t), torch.empty_like(t)
    torch.ge(t, LOG_CLIP_LOW, out=low)
    torch.le(t, LOG_CLIP_HIGH, out=high)
    return low.mul_(high)


def _times(t: torch.Tensor, *factors: torch.Tensor | float, inplace: bool) -> torch.Tensor:
    """``t * factors...``, in place on the fresh tensor ``t`` when autograd is off (the sliced forward pass)."""
    for f in factors:
        t = t.mul_(f) if inplace else t * f
    return t


def _from_logits(a: Activated) -> bool:
    """Per-channel binary mode on sigmoid logits without autograd: :mod:`scripts.losses._unified_focal_logits`."""
    return not a.categorical and isinstance(a.prims, LazyPrims) and a.prims.mode == "sigmoid"


def _from_softmax(a: Activated) -> bool:
    """Categorical mode on softmax logits without autograd: :mod:`scripts.losses._unified_focal_softmax`."""
    return a.categorical and isinstance(a.prims, LazyPrims) and a.prims.mode == "softmax"


def _logit_args(a: Activated, cfg: UnifiedConfig) -> tuple:
    return cfg.kept(a.prims.x), cfg.kept(a.g), cfg.delta, cfg.gamma, cfg.symmetric, cfg.focal, cfg.tversky


def _softmax_args(a: Activated, cfg: UnifiedConfig) -> tuple:
    return a.prims, a.g, cfg.delta, cfg.gamma, cfg.symmetric, cfg.focal, cfg.tversky, cfg.one_hot


def unified_terms(a: Activated, cfg: UnifiedConfig) -> tuple[torch.Tensor, ...]:
    """The voxel sums of one slice: ``(focal,)`` if ``cfg.focal``, then the Tversky sums if ``cfg.tversky``."""
    if _from_logits(a):
        return logit_terms(*_logit_args(a, cfg))
    if _from_softmax(a):
        return softmax_terms(*_softmax_args(a, cfg))
    ip = not torch.is_grad_enabled()
    clip_logp, clip_log1mp = _clipped(a)
    delta, gamma = cfg.delta, cfg.gamma
    out = []
    if a.categorical:
        g = a.g
        if cfg.focal:
            bg = _times(torch.exp(gamma * clip_log1mp[:, :1]), g[:, :1], clip_logp[:, :1], -(1 - delta), inplace=ip)
            fg = _times(g[:, 1:] * clip_logp[:, 1:], -delta, inplace=ip)
            if cfg.symmetric:
                fg = _times(fg, torch.exp(gamma * clip_log1mp[:, 1:]), inplace=ip)
            out.append((bg.sum(1, keepdim=True) + fg.sum(1, keepdim=True)).sum(-1))
        if cfg.tversky:
            p, q = _clipped_probs(a, clip_logp, clip_log1mp, cfg.kept)
            out += [(g * p).sum(-1), (g * q).sum(-1), ((1 - g) * p).sum(-1)]  # TP, FN, FP
        return tuple(out)
    clip_logp, clip_log1mp, g = cfg.kept(clip_logp), cfg.kept(clip_log1mp), cfg.kept(a.g)
    ng = 1 - g
    if cfg.focal:
        bg = _times(torch.exp(gamma * clip_logp), ng, clip_log1mp, -(1 - delta), inplace=ip)
        fg = _times(g * clip_logp, -delta, inplace=ip)
        if cfg.symmetric:
            fg = _times(fg, torch.exp(gamma * clip_log1mp), inplace=ip)
        out.append((bg.add_(fg) if ip else bg + fg).sum(-1))
    if cfg.tversky:
        p, q = _clipped_probs(a, clip_logp, clip_log1mp, cfg.kept)
        out += [(g * p).sum(-1), (ng * p).sum(-1), (g * q).sum(-1), (ng * q).sum(-1)]
    return tuple(out)


def member_sums(
    sums: Sequence[torch.Tensor], categorical: bool
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """``((TP, FN, FP) of the background member, (TP, FN, FP) of the rare member)`` from the Tversky sums."""
    if categorical:
        tp, fn, fp = sums
        return (tp[:, :1], fn[:, :1], fp[:, :1]), (tp[:, 1:], fn[:, 1:], fp[:, 1:])
    gp, ngp, gq, ngq = sums
    return (ngq, ngp, gq), (gp, gq, ngp)


def unified_partials(
    a: Activated, cfg: UnifiedConfig, grads: Sequence[torch.Tensor]
) -> tuple[None, torch.Tensor, torch.Tensor] | torch.Tensor:
    """``(None, d/d log p, d/d log(1 - p))`` of ``sum_k grads[k] * unified_terms(a)[k]`` (all channels); on
    sigmoid logits, the gradient w.r.t. the logits themselves."""
    if _from_logits(a):
        dx = logit_grad(*_logit_args(a, cfg), grads)
        if dx.shape[1] != a.g.shape[1]:  # channel 0 dropped: no gradient there
            dx = torch.cat([torch.zeros_like(dx[:, :1]), dx], 1)
        return dx
    if _from_softmax(a):
        return softmax_grad(*_softmax_args(a, cfg), grads)
    clip_logp, clip_log1mp = _clipped(a)
    delta, gamma = cfg.delta, cfg.gamma
    grads = [g.unsqueeze(-1) for g in grads]
    if not a.categorical:
        clip_logp, clip_log1mp = cfg.kept(clip_logp), cfg.kept(clip_log1mp)
    g = a.g if a.categorical else cfg.kept(a.g)
    ng = 1 - g
    d_logp = torch.zeros_like(clip_logp)
    d_log1mp = torch.zeros_like(clip_log1mp)
    if cfg.focal:
        u = grads.pop(0)
        if a.categorical:  # background: (1-delta) exp(gamma B_0) (-g_0 A_0); rare: delta [exp(gamma B_c)] (-g_c A_c)
            w = torch.exp(gamma * clip_log1mp[:, :1]).mul_(g[:, :1]).mul_(u).mul_(-(1 - delta))
            d_logp[:, :1] += w
            d_log1mp[:, :1].addcmul_(w, clip_logp[:, :1], value=gamma)
            w = (g[:, 1:] * u).mul_(-delta)
            if cfg.symmetric:
                w.mul_(torch.exp(gamma * clip_log1mp[:, 1:]))
                d_log1mp[:, 1:].addcmul_(w, clip_logp[:, 1:], value=gamma)
            d_logp[:, 1:] += w
        else:  # background: (1-delta) exp(gamma A) (-(1-g) B); rare: delta [exp(gamma B)] (-g A)
            w = torch.exp(gamma * clip_logp).mul_(ng).mul_(u).mul_(-(1 - delta))
            d_log1mp += w
            d_logp.addcmul_(w, clip_log1mp, value=gamma)
            w = (g * u).mul_(-delta)
            if cfg.symmetric:
                w.mul_(torch.exp(gamma * clip_log1mp))
                d_log1mp.addcmul_(w, clip_logp, value=gamma)
            d_logp += w
    if cfg.tversky:
        p, q = _clipped_probs(a, clip_logp, clip_log1mp, cfg.kept)
        if a.categorical:  # TP = sum g P, FN = sum g Q, FP = sum (1-g) P
            u_tp, u_fn, u_fp = grads
            d_logp.addcmul_(u_tp * g + u_fp * ng, p)
            d_log1mp.addcmul_(u_fn * g, q)
        else:  # sum g P, sum (1-g) P, sum g Q, sum (1-g) Q
            u_gp, u_ngp, u_gq, u_ngq = grads
            d_logp.addcmul_(u_gp * g + u_ngp * ng, p)
            d_log1mp.addcmul_(u_gq * g + u_ngq * ng, q)
    if not a.categorical and d_logp.shape[1] != a.logp.shape[1]:  # channel 0 dropped: no gradient there
        zero = torch.zeros_like(a.logp[:, :1])
        d_logp, d_log1mp = torch.cat([zero, d_logp], 1), torch.cat([zero, d_log1mp], 1)
    return None, d_logp.mul_(_inside_clip(a.logp)), d_log1mp.mul_(_inside_clip(a.log1mp))


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
    """Per (b, c), from the members' ``(TP, FN, FP)`` over the volume: background ``(1 - mTI_0)^(1-gamma)``
    (``1 - mTI_0`` when not ``symmetric``), rare classes ``(1 - mTI_c)^(1-gamma)``. Categorical: ``(B, C)`` one
    per class; per channel: ``(B, C)``, the mean of the channel's two members."""
    bg_base = one_minus_mti(*bg_sums, delta, smooth_nr, smooth_dr)
    fg_term = pow_tiny_floor(one_minus_mti(*fg_sums, delta, smooth_nr, smooth_dr), 1 - gamma)
    bg_term = pow_tiny_floor(bg_base, 1 - gamma) if symmetric else bg_base
    if categorical:
        return torch.cat([bg_term, fg_term], 1)
    return (bg_term + fg_term) / 2
