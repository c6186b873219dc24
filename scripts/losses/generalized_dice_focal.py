"""Generalised Dice + focal loss under MONAI's name, the focal term in the GDL term's mode (as ``dice_focal``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import SegmentationLoss
from ._checks import check_range
from .focal import FocalLoss
from .generalized_dice import GeneralizedDiceLoss


class GeneralizedDiceFocalLoss(SegmentationLoss):
    """``lambda_gdl * GDL + lambda_focal * Focal``; a drop-in for MONAI 1.6.1's ``GeneralizedDiceFocalLoss``,
    except for ``softmax=True`` (below).

    The generalised Dice loss (:class:`scripts.losses.generalized_dice.GeneralizedDiceLoss`, Sudre et al., DLMIA
    2017, class weights ``w_type``) plus the focal loss (:class:`scripts.losses.focal.FocalLoss`, Lin et al.,
    ICCV 2017, from the logits, exponent ``gamma``, no ``alpha``); ``weight`` scales the focal term's classes only,
    as MONAI's.

    **Deliberate difference from MONAI** (as :class:`scripts.losses.dice_focal.DiceFocalLoss`, MONAI #8242): with
    ``softmax=True`` MONAI 1.6.1 takes the *sigmoid* focal term; here the focal term follows the GDL term and is
    the softmax focal loss (MONAI's ``FocalLoss(use_softmax=True)``). ``sigmoid=True``, ``other_act`` or no
    activation give the sigmoid focal term, as MONAI.

    Args:
        w_type: GDL class weights (``"square"``, ``"simple"``, ``"uniform"``). gamma: the focal exponent.
        weight: per-class factors of the focal term. lambda_gdl, lambda_focal: the terms' factors (>= 0).
        Others as :class:`scripts.losses.generalized_dice.GeneralizedDiceLoss`; ``compile=False`` computes
        eagerly.

    Shapes: input ``(B, C, *spatial)`` logits; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``, else
    ``(B, C, *spatial)``. ``reduction="none"``: the GDL term's ``(B, 1, 1, ..., 1)`` (``(1, 1, ...)`` with
    ``batch=True``) plus the focal term's ``(B, C', *spatial)``, broadcast (as MONAI).

    Example:
        >>> loss = GeneralizedDiceFocalLoss(to_onehot_y=True, softmax=True, compile=False)
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
        w_type: str = "square",
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        gamma: float = 2.0,
        weight: Sequence[float] | float | int | torch.Tensor | None = None,
        lambda_gdl: float = 1.0,
        lambda_focal: float = 1.0,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.generalized_dice = GeneralizedDiceLoss(
            *common[:5], w_type, reduction, smooth_nr, smooth_dr, batch, compile=False
        )
        self.focal = FocalLoss(
            include_background, to_onehot_y, gamma, None, weight, reduction, use_softmax=softmax, compile=False
        )
        self.lambda_gdl = check_range("lambda_gdl", lambda_gdl, low=0.0)
        self.lambda_focal = check_range("lambda_focal", lambda_focal, low=0.0)

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        self.generalized_dice.check(input, target)
        self.focal.check_classes(input.shape[1])

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        gdl = self.generalized_dice.reduced_formula(input, target)
        return self.lambda_gdl * gdl + self.lambda_focal * self.focal.reduced_formula(input, target)
