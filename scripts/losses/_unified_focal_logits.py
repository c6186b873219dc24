"""The Unified Focal family's voxel sums in per-channel binary (sigmoid) mode, computed from the logits: the
formulas of :mod:`scripts.losses._unified_focal_terms` in fewer passes over a slice, and their gradient
w.r.t. the logits in one expression.

Clipping ``p`` to ``[1e-7, 1 - 1e-7]`` is clipping the logit to ``[-c, c]``, ``c = log((1 - 1e-7) / 1e-7)``
(the sigmoid is monotone). With ``xc = clamp(x, -c, c)`` the clipped primitives are, each in one pass::

    A = clip(log p)       = -softplus(-xc)        P = exp(A) = sigmoid(xc)
    B = clip(log(1 - p))  = -softplus(xc)         Q = exp(B) = sigmoid(-xc)

and both clips pass gradient where ``|x| <= c`` (``dA/dx = Q``, ``dB/dx = -P`` there, 0 outside). The sums per
``(b, c)``, ``g`` the target and ``[.]`` only in the symmetric variant::

    focal:    sum_x (1 - delta) P^gamma (1 - g) (-B) + delta [Q^gamma] g (-A)
    Tversky:  sum_x g P,  (1 - g) P,  g Q,  (1 - g) Q

For the upstream gradients ``u_f`` (focal) and ``u_gp, u_ngp, u_gq, u_ngq`` (Tversky) of these sums::

    dx = u_f (1 - delta) P^gamma (1 - g) (gamma Q (-B) + P)
         - u_f delta g [Q^gamma (Q + gamma P (-A))  or, asymmetric,  Q]
         + P Q ((u_gp - u_gq) g + (u_ngp - u_ngq) (1 - g))          (times 1 where |x| <= c, else 0)

The values are those of the log-space clip of the reference code to float rounding (``P^gamma`` here is
``exp(gamma A)`` there); the tests check value and gradient against the generic path through autograd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ._activation import PROB_CLIP
from ._terms import is_binary

CLIP_LOGIT = math.log((1 - PROB_CLIP) / PROB_CLIP)


def _power(t: torch.Tensor, gamma: float) -> torch.Tensor:
    """``t ** gamma`` as a new tensor (``pow`` squares for 2 and takes the square root for 0.5)."""
    return t.clone() if gamma == 1 else t.pow(gamma)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum_x a b`` over the last axis."""
    return (a * b).sum(-1)


def _binary_focal(
    xc: torch.Tensor, g: torch.Tensor, sig_s: torch.Tensor, gamma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """For a binary target, symmetric variant: ``(b, M)`` with ``s = xc (1 - 2g)``, ``b = softplus(s)`` (``-B`` where
    ``g = 0``, ``-A`` where ``g = 1``) and ``M = sigmoid(s)^gamma`` (``P^gamma`` / ``Q^gamma``)."""
    return F.softplus(torch.addcmul(xc, xc, g, value=-2)), _power(sig_s, gamma)


def logit_terms(
    x: torch.Tensor, g: torch.Tensor, delta: float, gamma: float, symmetric: bool, focal: bool, tversky: bool
) -> tuple[torch.Tensor, ...]:
    """The voxel sums of a slice of logits ``x`` and target ``g`` (kept channels, compute dtype, no autograd):
    ``(focal,)`` if ``focal``, then ``(sum g P, sum (1-g) P, sum g Q, sum (1-g) Q)`` if ``tversky``.

    For a binary target each voxel has one focal term, of its own label (see :func:`_binary_focal`): one
    ``softplus`` and one power per voxel instead of two (symmetric variants; the asymmetric ones need one power
    only, and measured faster in the general form)."""
    xc = x.clamp(-CLIP_LOGIT, CLIP_LOGIT)
    nxc = xc.neg()
    ng = torch.rsub(g, 1)
    p = torch.sigmoid(xc)
    q = torch.sigmoid(nxc) if tversky or (focal and symmetric) else None
    out = []
    if focal and symmetric and is_binary(g, ng):  # (asymmetric: measured slower than the general form)
        b, m = _binary_focal(xc, g, torch.lerp(p, q, g), gamma)
        f = b.mul_(m)
        out.append(_dot(ng, f).mul_(1 - delta).add_(_dot(g, f), alpha=delta))
    elif focal:
        bg = _power(p, gamma).mul_(F.softplus(xc)).mul_(ng)
        fg = F.softplus(nxc).mul_(g)
        if symmetric:
            fg.mul_(_power(q, gamma))
        out.append(bg.sum(-1).mul_(1 - delta).add_(fg.sum(-1), alpha=delta))
    if tversky:
        out += [_dot(g, p), _dot(ng, p), _dot(g, q), _dot(ng, q)]
    return tuple(out)


def logit_grad(
    x: torch.Tensor,
    g: torch.Tensor,
    delta: float,
    gamma: float,
    symmetric: bool,
    focal: bool,
    tversky: bool,
    grads: Sequence[torch.Tensor],
) -> torch.Tensor:
    """``d(sum_k grads[k] * logit_terms(...)[k]) / dx`` for the upstream gradients ``grads`` (each ``(B, K)``).
    For a binary target (symmetric) the focal part is ``w M b`` (:func:`_binary_focal`, ``w = 1 - delta`` or
    ``delta``), whose derivative is ``w (1 - 2g) M (gamma sigmoid(-s) b + sigmoid(s))``."""
    grads = [u.unsqueeze(-1) for u in grads]
    xc = x.clamp(-CLIP_LOGIT, CLIP_LOGIT)
    nxc = xc.neg()
    ng = torch.rsub(g, 1)
    p, q = torch.sigmoid(xc), torch.sigmoid(nxc)
    dx = None
    if focal and symmetric and is_binary(g, ng):  # (asymmetric: the general form needs one softplus too)
        u = grads.pop(0)
        sig_s, sig_ns = torch.lerp(p, q, g), torch.lerp(q, p, g)  # lerp: exact at weights 0 and 1
        b, m = _binary_focal(xc, g, sig_s.clone(), gamma)
        dx = b.mul_(sig_ns).mul_(gamma).add_(sig_s).mul_(m).mul_((g * u).neg_().add_(u * (1 - delta)))  # w (1 - 2g) u_f
    elif focal:
        u = grads.pop(0)
        dx = torch.addcmul(p, q, F.softplus(xc), value=gamma).mul_(_power(p, gamma)).mul_(ng).mul_(u * (1 - delta))
        if symmetric:
            fg = torch.addcmul(q, p, F.softplus(nxc), value=gamma).mul_(_power(q, gamma)).mul_(g)
        else:
            fg = q * g
        dx.addcmul_(fg, u, value=-delta)
    if tversky:
        u_gp, u_ngp, u_gq, u_ngq = grads
        c_ng = u_ngp - u_ngq
        coef = (g * (u_gp - u_gq - c_ng)).add_(c_ng)  # (an out-of-place addcmul broadcasting c_ng is slow)
        pq = p.mul_(q).mul_(coef)
        dx = pq if dx is None else dx.add_(pq)
    inside = torch.empty_like(x)
    torch.eq(xc, x, out=inside)  # |x| <= c: where the clip passes gradient
    return dx.mul_(inside)
