"""MONAI's focal loss (``monai.losses.FocalLoss``, 1.6.1; Lin et al., ICCV 2017) as voxel sums of one slice,
with the gradient written by hand (used by :class:`scripts.losses.monai_checked.CheckedFocalLoss`).

MONAI's formulas, per voxel and channel, ``x`` the logits and ``t`` the (one-hot / binary) target:

- sigmoid (``sigmoid_focal_loss``): ``FL = a(t) M B`` with ``M = sigmoid(s)^gamma``, ``s = x (1 - 2t)`` and
  ``B = x - x t - logsigmoid(x)`` (binary cross-entropy with logits). For a binary target ``sigmoid(s) = 1 - p_t``
  and ``B = -log p_t``: Lin's ``-alpha_t (1 - p_t)^gamma log p_t``. ``a(t) = alpha t + (1 - alpha)(1 - t)`` for a
  scalar ``alpha``; ``alpha_c`` where ``t == 1`` and 1 elsewhere for one ``alpha`` per channel; 1 without alpha.
  Gradient (``p = sigmoid(x)``, ``dB/dx = 1 - t - sigmoid(-x) = p - t``, ``dM/ds = gamma M sigmoid(-s)``)::

      dFL/dx = a(t) M [ gamma sigmoid(-s) (1 - 2t) B + p - t ]

- softmax (``softmax_focal_loss``): ``FL_c = -alpha_c (1 - p_c)^gamma t_c log p_c``, ``p = softmax(x)``. The
  sums here are ``S_c = sum_x t_c (1 - p_c)^gamma log p_c``; ``-alpha_c`` multiplies the sums (per channel,
  constant over the voxels). Gradient w.r.t. the primitives ``p`` and ``log p`` (the softmax Jacobian is
  applied by :mod:`scripts.losses._activation`)::

      dS_c/dlog p_c = t_c (1 - p_c)^gamma,    dS_c/dp_c = -gamma t_c (1 - p_c)^(gamma - 1) log p_c

Numerics: ``B`` is computed as ``softplus(x) - x t`` (``x - logsigmoid(x) = softplus(x)``); ``M`` as
``sigmoid(s)^gamma`` where MONAI takes ``exp(gamma logsigmoid(s))`` (equal to rounding; ``pow`` is a square
or a square root for gamma 2 and 0.5). For ``gamma < 1`` the base of ``(1 - p_c)^(gamma - 1)`` is floored at
the smallest normal float: MONAI's autograd gives ``0 * inf = NaN`` at ``p_c = 1``, where the derivative is 0.

Each function computes in place on its own temporaries (the sliced passes run without autograd); with autograd
on (a target that requires grad) the sums are MONAI's formulas, written out, so that autograd differentiates
them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ._terms import SOFTPLUS_THRESHOLD


def _alpha_factor(
    t: torch.Tensor, alpha: float | torch.Tensor | None, scale: torch.Tensor | None = None
) -> torch.Tensor | None:
    """``a(t)`` of the sigmoid form (times ``scale``, ``(B, C, 1)``, if given): scalar alpha, one alpha per
    channel (``(1, C, 1)``), or None (then ``scale`` itself)."""
    if alpha is None:
        return scale
    if isinstance(alpha, torch.Tensor):
        a = torch.where(t == 1, alpha.to(t), torch.ones((), dtype=t.dtype, device=t.device))
        return a if scale is None else a.mul_(scale)
    one = torch.ones((), dtype=t.dtype, device=t.device) if scale is None else scale
    return (t * (one * (2 * alpha - 1))).add_(one * (1 - alpha))  # alpha t + (1 - alpha)(1 - t)


def sigmoid_focal_sums(
    x: torch.Tensor, t: torch.Tensor, gamma: float, alpha: float | torch.Tensor | None
) -> tuple[torch.Tensor]:
    """``(sum_x FL,)`` per ``(b, c)`` of a slice ``(B, C, n)`` of logits and target (sigmoid form)."""
    if torch.is_grad_enabled():  # MONAI's sigmoid_focal_loss, for autograd
        loss = (x - x * t - F.logsigmoid(x)) * torch.exp(F.logsigmoid(-x * (t * 2 - 1)) * gamma)
        a = _alpha_factor(t, alpha)
        return ((loss if a is None else a * loss).sum(-1),)
    f = F.softplus(x, threshold=SOFTPLUS_THRESHOLD).addcmul_(x, t, value=-1)  # B
    if gamma != 0:
        m = torch.addcmul(x, x, t, value=-2).sigmoid_()
        f.mul_(m if gamma == 1 else m.pow_(gamma))  # M
    a = _alpha_factor(t, alpha)
    return ((f if a is None else f.mul_(a)).sum(-1),)


def sigmoid_focal_grad(
    x: torch.Tensor, t: torch.Tensor, gamma: float, alpha: float | torch.Tensor | None, u: torch.Tensor
) -> torch.Tensor:
    """``d(sum_k u_k S_k)/dx`` of a slice for the upstream gradient ``u`` of the sums, ``(B, C, 1)``."""
    dx = torch.sigmoid(x).sub_(t)  # p - t
    if gamma != 0:
        s = torch.addcmul(x, x, t, value=-2)
        m = torch.sigmoid(s)
        if gamma != 1:
            m.pow_(gamma)
        b = F.softplus(x, threshold=SOFTPLUS_THRESHOLD).addcmul_(x, t, value=-1)
        h = s.neg_().sigmoid_().mul_(b)  # sigmoid(-s) B
        dx.add_(h, alpha=gamma).addcmul_(t, h, value=-2 * gamma).mul_(m)
    return dx.mul_(_alpha_factor(t, alpha, u))


def softmax_focal_sums(
    p: torch.Tensor | None, logp: torch.Tensor, t: torch.Tensor, gamma: float
) -> tuple[torch.Tensor]:
    """``(S,)`` per ``(b, c)``, ``S_c = sum_x t_c (1 - p_c)^gamma log p_c``, of a slice (softmax form)."""
    if torch.is_grad_enabled():
        f = t * logp
        return ((f if gamma == 0 else (1 - p).pow(gamma) * f).sum(-1),)
    f = t * logp
    if gamma != 0:
        m = torch.rsub(p, 1)
        f.mul_(m if gamma == 1 else m.pow_(gamma))
    return (f.sum(-1),)


def softmax_focal_partials(
    p: torch.Tensor | None, logp: torch.Tensor, t: torch.Tensor, gamma: float, u: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``(d/dp, d/dlog p)`` of ``sum_c u_c S_c`` for the upstream gradient ``u``, ``(B, C, 1)``."""
    ut = t * u
    if gamma == 0:
        return None, ut
    m = torch.rsub(p, 1)
    if gamma == 1:
        return torch.mul(ut, logp).neg_(), ut.mul_(m)
    m_low = m if gamma >= 1 else m.clamp_min(torch.finfo(m.dtype).tiny)
    dp = m_low.pow(gamma - 1).mul_(ut)  # t (1 - p)^(gamma - 1) u
    dlogp = dp * m if gamma >= 1 else ut.mul_(m.pow_(gamma))
    return dp.mul_(logp).mul_(-gamma), dlogp


def per_channel(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """``values`` as a ``(1, C, 1)`` tensor of ``like``'s dtype and device."""
    return torch.as_tensor(list(values), dtype=like.dtype, device=like.device).view(1, -1, 1)
