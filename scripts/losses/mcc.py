"""Matthews correlation coefficient loss (Abhishek & Hamarneh 2021)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss


class MCCLoss(SegmentationLoss):
    """Matthews correlation coefficient loss: one minus the soft MCC, which, unlike Dice, counts the true
    negatives and so penalises false positives on a large background.

    Abhishek K., Hamarneh G., "Matthews correlation coefficient loss for deep convolutional networks:
    application to skin lesion segmentation", ISBI 2021, eq. 3-5. Per ``(b, c)``, with the soft
    ``TP, FP, FN`` and ``TN = sum (1 - p)(1 - g)``::

        MCC  = (TP TN - FP FN + smooth_nr) / sqrt((TP + FP)(TP + FN)(TN + FP)(TN + FN) + smooth_dr)
        loss = 1 - MCC,   0 for a perfect prediction (FP = FN = 0)

    The smoothing terms (``smooth_nr = 0``, ``smooth_dr = 1e-5`` under the root) and the perfect-prediction
    case are MONAI 1.6.1's ``MCCLoss``, which is exact; ours gives its values (tested) and is compiled. With
    ``smooth_dr = 0`` a vanishing denominator (an empty or full target or prediction) gives ``MCC = 0``, the
    usual convention (MONAI: NaN).
    Sigmoid mode: each channel its own binary problem; softmax mode: each class one-vs-rest.

    Args: as :class:`scripts.losses._base.SegmentationLoss` (MONAI's order and defaults).

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = MCCLoss(sigmoid=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 2, (2, 3, 8, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        smooth_nr: float = 0.0,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        tp, fp, fn = self.confusion(p, g)
        tn = self.voxel_sum((1 - p) * (1 - g))
        squared = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn) + self.smooth_dr
        defined = squared > 0  # with smooth_dr = 0 an empty or full row or column leaves MCC undefined: 0
        denominator = torch.sqrt(torch.where(defined, squared, torch.ones_like(squared)))
        mcc = torch.where(defined, (tp * tn - fp * fn + self.smooth_nr) / denominator, torch.zeros_like(squared))
        return torch.where((fp == 0) & (fn == 0), torch.zeros_like(mcc), 1 - mcc)
