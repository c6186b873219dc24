"""Tversky loss (Salehi et al. 2017) under MONAI's name."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss
from ._checks import check_range


class TverskyLoss(SegmentationLoss):
    """Tversky loss; a drop-in for MONAI 1.6.1's ``TverskyLoss`` (MONAI's defaults ``alpha = beta = 0.5``: the
    Dice loss; the catalogue name ``tversky`` has the paper's 0.3 / 0.7).

    Salehi S.S.M., Erdogmus D., Gholipour A., "Tversky loss function for image segmentation using 3D fully
    convolutional deep networks", MLMI 2017. Per ``(b, c)``, with ``TP, FP, FN`` from
    :meth:`scripts.losses._base.SegmentationLoss.confusion`::

        loss = 1 - (TP + smooth_nr) / (TP + alpha FP + beta FN + smooth_dr)

    ``ignore_index`` leaves voxels out of every sum (:func:`scripts.losses._base.ignore_mask`).

    Args:
        alpha: weight of the false positives, >= 0. beta: weight of the false negatives, >= 0 (not both 0).
        soft_label: the norm form of the sums, exact for soft targets. ignore_index: a label (or one-hot
        sentinel) whose voxels are left out. Others as MONAI's ``TverskyLoss`` and
        :class:`scripts.losses._base.SegmentationLoss`; ``compile=False`` computes eagerly.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``, else
    ``(B, C, *spatial)``. ``reduction="none"`` gives MONAI's ``(B, C')`` (``C'`` the kept channels), with
    ``batch=True`` ``(C',)``.

    Example:
        >>> loss = TverskyLoss(softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7, compile=False)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])

    Unlike MONAI, bad input raises :class:`~scripts.losses._checks.LossInputError` (a ``ValueError`` and an
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
        alpha: float = 0.5,
        beta: float = 0.5,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        soft_label: bool = False,
        ignore_index: int | None = None,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.alpha = check_range("alpha", alpha, low=0.0)
        self.beta = check_range("beta", beta, low=0.0)
        if self.alpha + self.beta == 0:
            raise ValueError("alpha + beta must be > 0 (both 0 makes the Tversky index 1 for any prediction).")
        self.soft_label = bool(soft_label)
        self.ignore_index = ignore_index

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tp, fp, fn = self.confusion(*self.activated(input, target), soft_label=self.soft_label)
        loss = 1 - (tp + self.smooth_nr) / (tp + self.alpha * fp + self.beta * fn + self.smooth_dr)
        return loss[0] if self.batch else loss  # MONAI's "none" shape: (B, C'), with batch=True (C',)
