"""Exponential logarithmic loss (Wong et al. 2018)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import check_range
from ._log_probs import Activated, LogProbLoss
from ._terms import dice_from, pow_tiny_floor, region_sums


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

    Numerics: ``-ln p`` comes from the logits (``-logsigmoid``, ``-log_softmax``), ``-ln Dice`` from a Dice
    floored at the smallest normal float; the bases of the powers ``x^0.3`` are floored at the smallest normal
    float (value exact to ~1e-11, gradient finite at a perfect prediction, where the slope is infinite).

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
        p, g = self.kept(a.p), self.kept(a.g)
        region = region_sums(p, g)
        if a.categorical:
            # per (b, c): sum_x g_c (-ln p_c)^gamma and the label count f_c; w_c is applied to the volume sums
            return *region, (a.g * pow_tiny_floor(-a.logp, self.gamma_cross)).sum(-1), a.g.sum(-1)
        logp, log1mp = self.kept(a.logp), self.kept(a.log1mp)
        cross1 = (g * pow_tiny_floor(-logp, self.gamma_cross)).sum(-1)
        cross0 = ((1 - g) * pow_tiny_floor(-log1mp, self.gamma_cross)).sum(-1)
        return *region, cross1, cross0, (1 - g).sum(-1)

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple:
        u = self.upstream(grads)
        g = self.kept(a.g)
        dp = self.full_channels(torch.addcmul(u[1], u[0], g))
        if a.categorical:  # cross_c = sum g_c f(-log p_c)
            return dp, -(u[3] * a.g * self.d_pow(-a.logp)), None
        d_cross1 = -(u[3] * g * self.d_pow(-self.kept(a.logp)))
        d_cross0 = -(u[4] * (1 - g) * self.d_pow(-self.kept(a.log1mp)))
        return dp, self.full_channels(d_cross1), self.full_channels(d_cross0)

    def d_pow(self, base: torch.Tensor) -> torch.Tensor:
        """Derivative of ``pow_tiny_floor(base, gamma_cross)``: zero where the floor is active (``torch.clamp_min``)."""
        gamma = self.gamma_cross
        if gamma >= 1:
            return base.pow(gamma - 1).mul_(gamma)
        tiny = torch.finfo(base.dtype).tiny
        above = torch.empty_like(base)
        torch.ge(base, tiny, out=above)
        return base.clamp_min(tiny).pow_(gamma - 1).mul_(above).mul_(gamma)

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
