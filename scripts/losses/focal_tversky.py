"""Focal Tversky loss (Abraham & Khan 2019)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss, pow_floored
from ._checks import check_range


class FocalTverskyLoss(SegmentationLoss):
    """Focal Tversky loss: the Tversky loss raised to a power, per class, before the class mean.

    Abraham N., Khan N.M., "A novel focal Tversky loss function with improved attention U-Net for lesion
    segmentation", ISBI 2019, eq. 3-4. Per ``(b, c)``::

        TI   = (TP + smooth_nr) / (TP + alpha FP + beta FN + smooth_dr)
        loss = (1 - TI) ** gamma

    The paper writes the exponent as ``1/gamma`` with ``gamma = 4/3``; here ``gamma`` *is* the exponent (default
    0.75 = 3/4). Its ``alpha`` (0.7) multiplies false negatives; here, as in Salehi's Tversky loss and MONAI,
    ``alpha`` weights false positives (0.3) and ``beta`` false negatives (0.7): the same loss. The paper sums the
    class terms; ``reduction="mean"`` averages them over ``(b, c)`` (a constant factor). The power is applied per
    class before any reduction (applying it after the class mean, as some libraries do, is a different loss).
    ``1 - TI`` is floored at 0 (``TI`` exceeds 1 near a perfect prediction when ``smooth_nr > smooth_dr``), and
    for ``gamma < 1`` at the smallest normal float, where the slope is infinite. ``gamma = 1`` is the Tversky loss.

    Modes: ``sigmoid=True``: each channel its own binary problem (foreground term only, as MONAI's region
    losses); ``softmax=True``: one term per class.

    Args:
        alpha: weight of false positives, >= 0. beta: weight of false negatives, >= 0. gamma: exponent, > 0.
        Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = FocalTverskyLoss(softmax=True, to_onehot_y=True)
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
        alpha: float = 0.3,
        beta: float = 0.7,
        gamma: float = 0.75,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.alpha = check_range("alpha", alpha, low=0.0)
        self.beta = check_range("beta", beta, low=0.0)
        if self.alpha + self.beta == 0:
            raise ValueError("alpha + beta must be > 0 (both 0 makes the Tversky index 1 for any prediction).")
        self.gamma = check_range("gamma", gamma, low=0.0, low_open=True)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tp, fp, fn = self.confusion(*self.activated(input, target))
        ti = (tp + self.smooth_nr) / (tp + self.alpha * fp + self.beta * fn + self.smooth_dr)
        return pow_floored((1 - ti).clamp_min(0), self.gamma)
