"""Dice + focal loss (Zhu et al. 2018, AnatomyNet) under MONAI's name, the focal term in the Dice term's mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import SegmentationLoss
from ._checks import check_range
from .dice import DiceLoss
from .focal import FocalLoss


class DiceFocalLoss(SegmentationLoss):
    """``lambda_dice * Dice + lambda_focal * Focal``; a drop-in for MONAI 1.6.1's ``DiceFocalLoss``, except for
    ``softmax=True`` (below).

    Zhu W., Huang Y., Zeng L., et al., "AnatomyNet: deep learning for fast and fully automated whole-volume
    segmentation of head and neck anatomy", Medical Physics 46(2), 2019 (online 2018): the Dice loss
    (:class:`scripts.losses.dice.DiceLoss`, Milletari et al. 2016) plus the focal loss
    (:class:`scripts.losses.focal.FocalLoss`, Lin et al. 2017, from the logits), both with ``include_background``,
    ``weight`` and ``reduction``; ``gamma`` and ``alpha`` are the focal term's.

    **Deliberate difference from MONAI.** MONAI 1.6.1 always takes the *sigmoid* focal term, even with
    ``softmax=True`` (MONAI issue #8242), so its two terms score different models of the same logits. Here the
    focal term follows the Dice term: ``softmax=True`` gives the softmax focal loss (MONAI's
    ``FocalLoss(use_softmax=True)``); ``sigmoid=True``, ``other_act`` or no activation give the sigmoid one, as
    MONAI.

    Args:
        gamma: the focal exponent. alpha: the focal ``alpha`` (``None``, a number or one value per kept channel).
        weight: per-class factors of both terms. lambda_dice, lambda_focal: the terms' factors (>= 0).
        Others as :class:`scripts.losses.dice.DiceLoss`; ``compile=False`` computes eagerly.

    Shapes: input ``(B, C, *spatial)`` logits; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``, else
    ``(B, C, *spatial)``. ``reduction="none"``: the Dice term's ``(B, C', 1, ..., 1)`` plus the focal term's
    ``(B, C', *spatial)``, broadcast to ``(B, C', *spatial)`` (as MONAI).

    Example:
        >>> loss = DiceFocalLoss(to_onehot_y=True, softmax=True, compile=False)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])

    Also unlike MONAI, bad input raises :class:`~scripts.losses._checks.LossInputError` (a ``ValueError`` and an
    ``AssertionError``): shape mismatch, labels outside ``[0, C)``, non-finite values, ``softmax=True`` or
    ``include_background=False`` with one channel; MONAI warns and carries on. Computed in float32 outside
    autocast (float64 input in float64).
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        squared_pred: bool = False,
        jaccard: bool = False,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        gamma: float = 2.0,
        weight: Sequence[float] | float | int | torch.Tensor | None = None,
        lambda_dice: float = 1.0,
        lambda_focal: float = 1.0,
        alpha: float | None = None,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        dice_args = include_background, to_onehot_y, sigmoid, softmax, other_act, squared_pred, jaccard, reduction
        self.dice = DiceLoss(*dice_args, smooth_nr, smooth_dr, batch, weight, compile=False)
        self.focal = FocalLoss(
            include_background, to_onehot_y, gamma, alpha, weight, reduction, use_softmax=softmax, compile=False
        )
        self.lambda_dice = check_range("lambda_dice", lambda_dice, low=0.0)
        self.lambda_focal = check_range("lambda_focal", lambda_focal, low=0.0)

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        self.dice.check(input, target)
        self.focal.check_classes(input.shape[1])

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        dice = self.dice.reduced_formula(input, target)
        return self.lambda_dice * dice + self.lambda_focal * self.focal.reduced_formula(input, target)
