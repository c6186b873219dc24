"""Sensitivity-specificity loss (Brosch et al. 2015)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss
from ._checks import check_range


class SensitivitySpecificityLoss(SegmentationLoss):
    """Weighted sum of the mean squared error over the foreground and over the background.

    Brosch T. et al., "Deep convolutional encoder networks for multiple sclerosis lesion segmentation",
    MICCAI 2015, eq. 2. Per ``(b, c)``::

        loss = r sum((g - p)^2 g) / (sum g + smooth_dr) + (1 - r) sum((g - p)^2 (1 - g)) / (sum (1 - g) + smooth_dr)

    The first term measures sensitivity (errors on the lesion), the second specificity; ``r`` (default 0.05)
    trades them. Brosch et al. add a small constant to the denominators against an empty class: ``smooth_dr``
    here. There is no numerator smoothing (it would charge an empty, correctly empty class), so the loss has no
    ``smooth_nr``; an empty foreground contributes 0 to the first term (an all-foreground class 0 to the second),
    also with ``smooth_dr = 0`` (the denominators are floored at the smallest normal float).

    Modes: ``sigmoid=True``: each channel is its own binary problem with ``r`` on its sensitivity.
    ``softmax=True``: each class one-vs-rest; the background (channel 0) is the complement problem, whose
    positives are the other classes' negatives, so its ``r`` and ``1 - r`` are swapped: with two channels both
    terms are then the paper's binary loss of the foreground (without the swap they mirror each other and ``r``
    cancels out of the mean).

    Args:
        r: weight of the sensitivity term, in [0, 1]. Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = SensitivitySpecificityLoss(sigmoid=True, r=0.05)
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
        r: float = 0.05,
        reduction: str = "mean",
        smooth_dr: float = 1e-5,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, 0.0, smooth_dr, batch, compile)
        self.r = check_range("r", r, low=0.0, high=1.0)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        sq_err = (g - p).square()
        tiny = torch.finfo(p.dtype).tiny
        sensitivity = self.voxel_sum(sq_err * g) / (self.voxel_sum(g) + self.smooth_dr).clamp_min(tiny)
        specificity = self.voxel_sum(sq_err * (1 - g)) / (self.voxel_sum(1 - g) + self.smooth_dr).clamp_min(tiny)
        r = self.positive_weights(self.r, input)
        return r * sensitivity + (1 - r) * specificity
