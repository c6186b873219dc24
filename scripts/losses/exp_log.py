"""Exponential logarithmic loss (Wong et al. 2018)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ._activation import LazyPrims
from ._base import check_range
from ._log_probs import Activated, LogProbLoss
from ._terms import (
    SOFTPLUS_THRESHOLD,
    d_pow_tiny_floor_,
    dice_from,
    dot,
    is_binary,
    pow_tiny_floor,
    pow_tiny_floor_,
    region_sums,
)


def _softplus(t: torch.Tensor) -> torch.Tensor:
    return F.softplus(t, threshold=SOFTPLUS_THRESHOLD)


def _label_nll(a: Activated) -> torch.Tensor:
    """``-ln p_l`` of each voxel's label ``l``, ``(B, 1, n)``, for a one-hot ``g``: ``-sum_c g_c ln p_c`` (exact:
    one non-zero term)."""
    return (a.g * a.logp).sum(1, keepdim=True).neg_()


def _on_logits(a: Activated) -> bool:
    """Per-channel binary mode on sigmoid logits without autograd: computed from the logits directly."""
    return not a.categorical and isinstance(a.prims, LazyPrims) and a.prims.mode == "sigmoid"


class ExpLogLoss(LogProbLoss):
    """Exponential logarithmic loss: a weighted sum of a focal-like Dice term and a focal-like cross term.

    Wong K.C.L. et al., "3D segmentation with exponential logarithmic loss for highly unbalanced object sizes",
    MICCAI 2018::

        L      = w_dice E_i[ (-ln Dice_i)^gamma_dice ] + w_cross E_x[ w_l (-ln p_l(x))^gamma_cross ]
        Dice_i = (2 sum_x g_i p_i + smooth_nr) / (sum_x (g_i + p_i) + smooth_dr)
        w_l    = (sum_k f_k / f_l)^0.5

    ``i`` runs over the labels, ``l`` is the true label of voxel ``x``, ``f_k`` the voxel count of label ``k``
    in the batch. Defaults are the paper's: ``w_dice=0.8``, ``w_cross=0.2``, ``gamma_dice=gamma_cross=0.3``,
    and the pseudocount ``smooth_nr = smooth_dr = 1``. With soft targets, ``w_l (-ln p_l)^gamma`` becomes
    ``sum_l g_l w_l (-ln p_l)^gamma`` and ``f_k = sum g_k``; a label absent from the batch has no voxel that
    uses its weight (``f_k`` is floored at one voxel so that the unused weight is finite).

    Numerics: ``-ln p`` comes from the logits (``softplus(-x)``, ``-log_softmax``), ``-ln Dice`` from a Dice
    floored at the smallest normal float; the bases of the powers ``x^0.3`` are floored at the smallest normal
    float (value exact to ~1e-11, gradient finite at a perfect prediction, where the slope is infinite). In
    sigmoid mode the sliced passes take everything from the logits, and for a binary target one power per voxel
    (its own label's term) instead of two.

    Modes:

    - per-channel binary (``sigmoid=True``, or one channel): channel ``c`` is a binary problem; the Dice term
      is that of the foreground ``p_c`` (MONAI's convention for region terms), the cross term runs over both
      labels ``{0: 1 - p_c, 1: p_c}`` with ``f_1 = sum g_c``, ``f_0 = sum (1 - g_c)``.
      ``reduction="none"``: ``(B, C)``, ``w_dice (-ln Dice_{b,c})^gd + w_cross X_{b,c}``.
    - categorical (``softmax=True``, or 2+ channels of probabilities): ``i`` and ``l`` run over the classes.
      ``reduction="none"``: ``(B, C)``, ``w_dice (-ln Dice_{b,c})^gd + w_cross X_b`` with the per-sample cross
      term ``X_b`` broadcast over the classes, so that the mean over ``(b, c)`` is the loss.
      ``include_background=False`` drops the background from the Dice term only; the cross term keeps every
      class (without the background term it would not penalise false positives).

    ``batch=True`` pools the Dice sums over the batch (``(1, C)``); the label weights are always batch-wide.

    Args:
        w_dice, w_cross: weights of the two terms, >= 0. gamma_dice, gamma_cross: exponents, > 0.
        Others as :class:`scripts.losses._base.ImbalanceLoss`.

    Example:
        >>> loss = ExpLogLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        w_dice: float = 0.8,
        w_cross: float = 0.2,
        gamma_dice: float = 0.3,
        gamma_cross: float = 0.3,
        reduction: str = "mean",
        smooth_nr: float = 1.0,
        smooth_dr: float = 1.0,
        batch: bool = False,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        self.w_dice = check_range("w_dice", w_dice, low=0.0)
        self.w_cross = check_range("w_cross", w_cross, low=0.0)
        self.gamma_dice = check_range("gamma_dice", gamma_dice, low=0.0, low_open=True)
        self.gamma_cross = check_range("gamma_cross", gamma_cross, low=0.0, low_open=True)

    def needs_complement(self, categorical: bool) -> bool:
        return not categorical

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        if _on_logits(a):
            return self._logit_terms(self.kept(a.prims.x), self.kept(a.g))
        p, g = self.kept(a.p), self.kept(a.g)
        region = region_sums(p, g)
        if a.categorical:
            # per (b, c): sum_x g_c (-ln p_c)^gamma and the label count f_c; w_c is applied to the volume sums
            if self._one_hot(a):  # one power per voxel, of its label's -ln p
                f = pow_tiny_floor_(_label_nll(a), self.gamma_cross)
                return *region, dot(a.g, f), a.g.sum(-1)
            return *region, (a.g * pow_tiny_floor(-a.logp, self.gamma_cross)).sum(-1), a.g.sum(-1)
        logp, log1mp = self.kept(a.logp), self.kept(a.log1mp)
        cross1 = (g * pow_tiny_floor(-logp, self.gamma_cross)).sum(-1)
        cross0 = ((1 - g) * pow_tiny_floor(-log1mp, self.gamma_cross)).sum(-1)
        return *region, cross1, cross0, (1 - g).sum(-1)

    def _one_hot(self, a: Activated) -> bool:
        """Labels made one-hot on the slice (``to_onehot_y``), sliced pass without autograd: exactly one ``g_c = 1``
        per voxel, so ``sum_c g_c f(-ln p_c) = f(-ln p_l)`` with ``l`` the voxel's label."""
        return self.to_onehot_y and a.g.shape[1] > 1 and isinstance(a.prims, LazyPrims)

    def _logit_terms(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The per-channel binary sums from logits ``x``: ``-log p = softplus(-x)``, ``-log(1 - p) = softplus(x)``.
        For a binary target (every voxel of the slice 0 or 1) each voxel needs only its own label's term:
        ``softplus(s)``, ``s = x (1 - 2 g)``, is ``softplus(-x)`` where ``g = 1`` and ``softplus(x)`` where ``g = 0``
        (one power per voxel instead of two)."""
        p, ng, gamma = torch.sigmoid(x), torch.rsub(g, 1), self.gamma_cross
        if is_binary(g, ng):
            f = pow_tiny_floor_(_softplus(torch.addcmul(x, x, g, value=-2)), gamma)
            cross1, cross0 = dot(g, f), dot(ng, f)
        else:
            cross1 = dot(g, pow_tiny_floor_(_softplus(x.neg()), gamma))
            cross0 = dot(ng, pow_tiny_floor_(_softplus(x), gamma))
        return dot(p, g), p.sum(-1), g.sum(-1), cross1, cross0, ng.sum(-1)

    def _logit_grad(self, x: torch.Tensor, g: torch.Tensor, u: Sequence[torch.Tensor]) -> torch.Tensor:
        """d/dx of the sums of :meth:`_logit_terms` weighted by ``u``: with ``q = 1 - p``, ``f`` the power,
        ``p q (u_TP g + u_p) - u_cross1 g q f'(softplus(-x)) + u_cross0 (1 - g) p f'(softplus(x))``; for a binary
        target ``f'(softplus(s)) sigmoid(s) (u_cross0 (1 - g) - u_cross1 g)`` with ``sigmoid(s)`` = ``q`` or ``p``."""
        nx, ng, gamma = x.neg(), torch.rsub(g, 1), self.gamma_cross
        p, q = torch.sigmoid(x), torch.sigmoid(nx)
        if is_binary(g, ng):
            d = d_pow_tiny_floor_(_softplus(torch.addcmul(x, x, g, value=-2)), gamma)
            d.mul_(torch.lerp(p, q, g)).mul_((g * (u[3] + u[4]).neg_()).add_(u[4]))  # lerp: exact at 0 and 1
        else:
            d = d_pow_tiny_floor_(_softplus(nx), gamma).mul_(q).mul_(g).mul_(u[3]).neg_()
            d.addcmul_(d_pow_tiny_floor_(_softplus(x), gamma).mul_(p).mul_(ng), u[4])
        return d.addcmul_(p.mul_(q), (g * u[0]).add_(u[1]))

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple | torch.Tensor:
        u = self.upstream(grads)
        if _on_logits(a):
            return self.full_channels(self._logit_grad(self.kept(a.prims.x), self.kept(a.g), u))
        g = self.kept(a.g)
        dp = self.full_channels((g * u[0]).add_(u[1]))
        if a.categorical:  # cross_c = sum g_c f(-log p_c)
            if self._one_hot(a):
                d = d_pow_tiny_floor_(_label_nll(a), self.gamma_cross)
                return dp, (a.g * d).mul_(u[3]).neg_(), None
            return dp, -(u[3] * a.g * d_pow_tiny_floor_(-a.logp, self.gamma_cross)), None
        d_cross1 = -(u[3] * g * d_pow_tiny_floor_(-self.kept(a.logp), self.gamma_cross))
        d_cross0 = -(u[4] * (1 - g) * d_pow_tiny_floor_(-self.kept(a.log1mp), self.gamma_cross))
        return dp, self.full_channels(d_cross1), self.full_channels(d_cross0)

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        tp, sum_p, sum_g = sums[:3]
        dice = dice_from(tp, sum_p, sum_g, self.smooth_nr, self.smooth_dr)
        tiny = torch.finfo(dice.dtype).tiny
        dice_term = pow_tiny_floor(-dice.clamp(tiny, 1.0).log(), self.gamma_dice)
        if categorical:
            cross, counts = sums[3:]
            freq = counts.sum(0, keepdim=True)  # label weights are batch-wide
            w = (freq.sum() / freq.clamp_min(1.0)).sqrt()
            cross = (w * cross).sum(1, keepdim=True)
        else:
            cross1, cross0, count0 = sums[3:]
            f1, f0 = sum_g.sum(0, keepdim=True), count0.sum(0, keepdim=True)
            total = f0 + f1
            w1, w0 = (total / f1.clamp_min(1.0)).sqrt(), (total / f0.clamp_min(1.0)).sqrt()
            cross = w1 * cross1 + w0 * cross0
        return self.w_dice * dice_term + self.w_cross * (cross / n_voxels)
