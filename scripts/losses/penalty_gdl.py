"""Penalty generalised Dice loss (Yang et al., MIDL 2019)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_range
from .generalized_dice import GeneralizedDiceLoss


class PenaltyGeneralizedDiceLoss(GeneralizedDiceLoss):
    """The generalised Dice loss with false positives and negatives penalised harder.

    Yang S., Kweon J., Kim Y.-H., "Major vessel segmentation on X-ray coronary angiography using deep networks
    with a novel penalty loss function", MIDL 2019 (extended abstract)::

        pGD = GD / (1 + k (1 - GD)),   GD the generalised Dice loss of
        :class:`scripts.losses.generalized_dice.GeneralizedDiceLoss` (same arguments), k = 2.5 (the paper's)

    per sample (one value per batch with ``batch=True``), then reduced. ``k = 0`` is the generalised Dice loss.
    SegLossOdyssey (JunMa11, ``PenaltyGDiceLoss``) applies the penalty to ``-GD score`` (its ``GDiceLoss`` returns
    ``-2 (I + s) / (U + s)``, not ``1 - ...``), which is not the paper's loss: ours is the corrected line, and
    the authors apply it once to the batch mean, ours per sample as every loss here (equal for one sample).

    Args:
        k: the penalty (>= 0). Others as :class:`~scripts.losses.generalized_dice.GeneralizedDiceLoss`.

    Shapes: input and target as :class:`~scripts.losses.generalized_dice.GeneralizedDiceLoss`;
    ``reduction="none"`` gives ``(B, 1)`` (``(1, 1)`` with ``batch=True``), one value per sample.

    Example:
        >>> loss = PenaltyGeneralizedDiceLoss(softmax=True, to_onehot_y=True, compile=False)
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
        w_type: str = "square",
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        soft_label: bool = False,
        k: float = 2.5,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, w_type, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, soft_label, compile=compile)
        self.k = check_range("k", k, low=0.0)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        gd = super().formula(input, target).reshape(-1, 1)  # per sample, as the other losses of this package
        return gd / (1 + self.k * (1 - gd))
