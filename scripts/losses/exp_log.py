"""Exponential logarithmic loss (Wong et al. 2018)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss, pow_floored
from ._checks import check_range


class ExpLogLoss(SegmentationLoss):
    """Exponential logarithmic loss: a weighted sum of a focal-like Dice term and a focal-like cross term.

    Wong K.C.L. et al., "3D segmentation with exponential logarithmic loss for highly unbalanced object sizes",
    MICCAI 2018::

        L      = w_dice E_i[ (-ln Dice_i)^gamma_dice ] + w_cross E_x[ w_l (-ln p_l(x))^gamma_cross ]
        Dice_i = (2 sum_x g_i p_i + smooth_nr) / (sum_x (g_i + p_i) + smooth_dr)
        w_l    = (sum_k f_k / f_l)^0.5

    ``i`` runs over the labels, ``l`` is the true label of voxel ``x``, ``f_k`` the voxel count of label ``k``
    in the batch. Defaults are the paper's: ``w_dice=0.8``, ``w_cross=0.2``, ``gamma_dice=gamma_cross=0.3``, and
    the pseudocount ``smooth_nr = smooth_dr = 1``. With soft targets ``w_l (-ln p_l)^gamma`` becomes ``sum_l g_l
    w_l (-ln p_l)^gamma`` and ``f_k = sum g_k``; ``f_k`` is floored at one voxel so that the weight of a label
    absent from the batch (used by no voxel) is finite. ``-ln p`` comes from the logits; ``Dice`` and the bases
    of the powers ``x^0.3`` are floored at the smallest normal float (value exact to ~1e-11, gradient finite at
    a perfect prediction, where the slope is infinite).

    Modes:

    - per-channel binary (``sigmoid=True``, or one channel): channel ``c`` is a binary problem; the Dice term is
      that of the foreground ``p_c`` (MONAI's convention for region terms), the cross term runs over both labels
      ``{0: 1 - p_c, 1: p_c}`` with ``f_1 = sum g_c``, ``f_0 = sum (1 - g_c)``. ``reduction="none"``: ``(B, C)``.
    - categorical (``softmax=True``, or 2+ channels of probabilities): ``i`` and ``l`` run over the classes.
      ``reduction="none"``: ``(B, C)``, ``w_dice (-ln Dice_{b,c})^gd + w_cross X_b`` with the per-sample cross
      term ``X_b`` broadcast over the classes, so that the mean over ``(b, c)`` is the loss.
      ``include_background=False`` drops the background from the Dice term only; the cross term keeps every
      class (without the background term it would not penalise false positives).

    ``batch=True`` pools the Dice sums and the cross term over the batch (``(1, C)``); the label weights are
    always batch-wide.

    Args:
        w_dice, w_cross: weights of the two terms, >= 0. gamma_dice, gamma_cross: exponents, > 0.
        Others as :class:`scripts.losses._base.SegmentationLoss`.

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
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.w_dice = check_range("w_dice", w_dice, low=0.0)
        self.w_cross = check_range("w_cross", w_cross, low=0.0)
        self.gamma_dice = check_range("gamma_dice", gamma_dice, low=0.0, low_open=True)
        self.gamma_cross = check_range("gamma_cross", gamma_cross, low=0.0, low_open=True)

    @staticmethod
    def batch_count(g: torch.Tensor) -> torch.Tensor:
        """``f``: the voxels of each label in the batch, ``(1, C, 1, ...)``."""
        return g.sum((0, *range(2, g.ndim)), keepdim=True)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        dice = (2 * self.voxel_sum(p * g) + self.smooth_nr) / (self.voxel_sum(p + g) + self.smooth_dr)
        dice_term = pow_floored(-dice.clamp(torch.finfo(dice.dtype).tiny, 1.0).log(), self.gamma_dice)
        n = self.voxel_count(input)
        if self.categorical(input.shape[1]):  # every class, the background too
            g = self.one_hot_target(target, input.shape[1], input.dtype)
            f = self.batch_count(g)
            w = (f.sum(1, keepdim=True) / f.clamp_min(1.0)).sqrt()
            cross = w * g * pow_floored(-self.log_probabilities(input), self.gamma_cross)
            cross_term = self.voxel_sum(cross).sum(1, keepdim=True) / n
        else:  # the labels {0: 1 - p_c, 1: p_c} of each channel
            f1, f0 = self.batch_count(g), self.batch_count(1 - g)
            w1, w0 = ((f0 + f1) / f1.clamp_min(1.0)).sqrt(), ((f0 + f1) / f0.clamp_min(1.0)).sqrt()
            logp, log1mp = self.kept(self.log_probabilities(input)), self.kept(self.log_complements(input))
            gamma = self.gamma_cross
            cross = w1 * g * pow_floored(-logp, gamma) + w0 * (1 - g) * pow_floored(-log1mp, gamma)
            cross_term = self.voxel_sum(cross) / n
        return self.w_dice * dice_term + self.w_cross * cross_term
