"""The Unified Focal family's voxel sums in categorical (softmax) mode, computed from the probabilities: the
formulas of :mod:`scripts.losses._unified_focal_terms` without log-sum-exps, and their gradient w.r.t. the
logits in one expression.

With ``p = softmax(x)``, the clipped primitives of the reference code are, for every channel ``c``::

    P_c = clamp(p_c, 1e-7, 1 - 1e-7)       A_c = clip(log p_c) = clamp(log_softmax(x)_c)  (= log P_c)
    Q_c = clamp(1 - p_c, 1e-7, 1 - 1e-7)   with 1 - p_c = sum_{k != c} p_k

``1 - p_c`` as the sum of the other probabilities has no cancellation: it is exact to rounding also where
``p_c`` is close to 1, as ``exp(log(1 - p_c))`` from a log-sum-exp over the other logits is, for a fraction of
its cost. Both clips pass gradient where ``1e-7 <= p_c <= 1 - 1e-7``. The sums, per ``(b, c)``, with
``w_0 = 1 - delta``, ``w_c = delta`` and ``[.]`` on channel 0 always, on the rare channels in the symmetric
variant only::

    focal:    F_c = sum_x g_c A_c [Q_c^gamma]      (the focal part, per sample, is -sum_c w_c F_c)
    Tversky:  TP_c = sum_x g_c P_c,  FN_c = sum_x g_c Q_c,  FP_c = sum_x (1 - g_c) P_c

Gradient, for the upstream gradients ``u_f`` (focal part, ``(B, 1)``) and ``u_TP, u_FN, u_FP``: the derivatives
w.r.t. ``A_c`` and ``p_c`` (through ``P_c``, and through ``Q_c`` with ``dQ_c/dp_c = -1``)::

    dA_c = -w_c u_f g_c [Q_c^gamma]
    dp_c = u_TP g_c + u_FP (1 - g_c) + u_FN g_c - [gamma Q_c^(gamma - 1)] (-w_c u_f) g_c A_c

each where its clip passes gradient, then the softmax Jacobian ``dx = dA + p dp - p sum_c (dA_c + p_c dp_c)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._activation import LOG_CLIP_HIGH, LOG_CLIP_LOW, PROB_CLIP, LazyPrims, others_sum
from ._terms import dot


def _clip(t: torch.Tensor) -> torch.Tensor:
    return t.clamp(PROB_CLIP, 1 - PROB_CLIP)


def _inside(clipped: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """Float mask of where the clip left the value unchanged (where ``torch.clamp`` passes gradient)."""
    out = torch.empty_like(raw)
    return torch.eq(clipped, raw, out=out)


def _modulated(q: torch.Tensor, gamma: float) -> torch.Tensor:
    """``Q^gamma`` as a new tensor (of all channels, symmetric variants; of channel 0, asymmetric ones)."""
    return q.pow(gamma) if gamma != 1 else q.clone()


def _weights(n: int, delta: float, like: torch.Tensor) -> torch.Tensor:
    """``(1, C, 1)``: ``1 - delta`` for the background, ``delta`` for the rare classes."""
    w = torch.full((1, n, 1), delta, dtype=like.dtype, device=like.device)
    w[:, 0] = 1 - delta
    return w


def _label(g: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``t`` at each voxel's label, ``(B, 1, n)``, for a one-hot ``g`` (``sum_c g_c t_c``: one non-zero term)."""
    return (g * t).sum(1, keepdim=True)


def _label_modulation(g: torch.Tensor, q: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """For a one-hot ``g`` (symmetric variants): ``(M_l, dM_l/dQ_l) = (Q_l^gamma, gamma Q_l^(gamma - 1))`` at each
    voxel's label ``l``."""
    q_l = _label(g, q)
    m_l = _modulated(q_l, gamma)
    return m_l, m_l.div(q_l).mul_(gamma)


def softmax_terms(
    prims: LazyPrims,
    g: torch.Tensor,
    delta: float,
    gamma: float,
    symmetric: bool,
    focal: bool,
    tversky: bool,
    one_hot: bool = False,
) -> tuple[torch.Tensor, ...]:
    """The voxel sums of a slice (softmax primitives ``prims`` and one-hot target ``g``, ``(B, C, n)``, no
    autograd): ``(focal part (B, 1),)`` if ``focal``, then ``(TP, FN, FP)`` (each ``(B, C)``) if ``tversky``.
    ``one_hot`` (symmetric variants): ``g`` has one class per voxel (labels), so the focal terms are computed at
    that class only."""
    p = prims.p
    big_p = _clip(p)
    q_all = tversky or symmetric
    q = _clip(others_sum(p)) if q_all else _clip(p[:, 1:].sum(1, keepdim=True))
    out = []
    if focal and one_hot and symmetric:  # F_c = sum_x g_c A_l M_l
        m_l, _ = _label_modulation(g, q, gamma)
        w = _weights(p.shape[1], delta, p)[..., 0]
        out.append((dot(g, _label(g, big_p).log_().mul_(m_l)) * w).sum(1, keepdim=True).neg_())
    elif focal:
        f = prims.logp.clamp(LOG_CLIP_LOW, LOG_CLIP_HIGH).mul_(g)  # g A
        if symmetric:
            f.mul_(_modulated(q, gamma))
        else:
            f[:, :1].mul_(_modulated(q[:, :1], gamma))
        w = _weights(p.shape[1], delta, p)[..., 0]
        out.append((f.sum(-1) * w).sum(1, keepdim=True).neg_())
    if tversky:
        out += [dot(g, big_p), dot(g, q), dot(torch.rsub(g, 1), big_p)]
    return tuple(out)


def softmax_grad(
    prims: LazyPrims,
    g: torch.Tensor,
    delta: float,
    gamma: float,
    symmetric: bool,
    focal: bool,
    tversky: bool,
    one_hot: bool,
    grads: Sequence[torch.Tensor],
) -> torch.Tensor:
    """``d(sum_k grads[k] * softmax_terms(...)[k]) / dx`` for the logits ``x`` of ``p = softmax(x)``."""
    grads = [u.unsqueeze(-1) for u in grads]
    p = prims.p
    big_p = _clip(p)
    q_all = tversky or symmetric
    q_raw = others_sum(p) if q_all else p[:, 1:].sum(1, keepdim=True)
    q = _clip(q_raw)
    d_a, d_p, d_q = None, None, None  # d/dA, d/dP, d/dQ (each (B, C, n); d_q (B, 1, n) for channel 0 only)
    if focal and one_hot and symmetric:  # at each voxel's label l only: dA_l = uw_l M_l, dQ_l = uw_l A_l dM_l/dQ_l
        uw = _label(g, grads.pop(0) * _weights(p.shape[1], delta, p).neg_())
        m_l, dm_l = _label_modulation(g, q, gamma)
        d_q = g * _label(g, big_p).log_().mul_(uw).mul_(dm_l)
        d_a = g * uw.mul_(m_l)
    elif focal:
        uw = grads.pop(0) * _weights(p.shape[1], delta, p).neg_()  # dF_c: -w_c u_f, (B, C, 1)
        gu = g * uw
        if symmetric:
            m = _modulated(q, gamma)
            d_q = prims.logp.clamp(LOG_CLIP_LOW, LOG_CLIP_HIGH).mul_(gu).mul_(m.div(q)).mul_(gamma)
            d_a = gu.mul_(m)
        else:
            m0 = _modulated(q[:, :1], gamma)
            d_q = big_p[:, :1].log().mul_(gu[:, :1]).mul_(m0.div(q[:, :1])).mul_(gamma)  # channel 0: log P_0
            d_a = gu
            d_a[:, :1].mul_(m0)
    if tversky:
        u_tp, u_fn, u_fp = grads
        d_p = (g * (u_tp - u_fp)).add_(u_fp)
        fn = g * u_fn
        if d_q is not None:
            fn[:, : d_q.shape[1]].add_(d_q)
        d_q = fn
    inside_p = _inside(big_p, p)
    # d/dp = d/dP - d/dQ (dQ/dp = -1), each where its clip passes gradient
    dp = d_p.mul_(inside_p) if d_p is not None else torch.zeros_like(p)
    if d_q is not None:
        inside_q = _inside(q, q_raw)
        dp[:, : d_q.shape[1]].addcmul_(d_q, inside_q, value=-1)
    dx = dp.mul_(p)  # p dp
    if d_a is not None:
        dx.addcmul_(d_a, inside_p)  # + dA
    return dx.addcmul_(p, dx.sum(1, keepdim=True), value=-1)
