"""Generalized Dice loss (Sudre et al. 2017) under MONAI's name."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss

W_TYPES = ("square", "simple", "uniform")


class GeneralizedDiceLoss(SegmentationLoss):
    """Generalized Dice loss; a drop-in for MONAI 1.6.1's ``GeneralizedDiceLoss``.

    Sudre C.H., Li W., Vercauteren T., Ourselin S., Cardoso M.J., "Generalised Dice overlap as a deep learning
    loss function for highly unbalanced segmentations", DLMIA 2017. Per sample (over the batch too with
    ``batch=True``), the classes' sums weighted before one ratio::

        w_c  = 1 / (sum g_c)^2   ("square"; "simple": 1 / sum g_c; "uniform": 1)
        loss = 1 - (2 sum_c w_c TP_c + smooth_nr) / (sum_c w_c (2 TP_c + FP_c + FN_c) + smooth_dr)

    (``2 TP + FP + FN = sum p + sum g``.) A class absent from the target has an infinite weight; it takes the
    largest finite weight of the sample (of the batch with ``batch=True``) instead, as MONAI does.

    Args:
        w_type: ``"square"`` (the paper), ``"simple"`` or ``"uniform"``.
        soft_label: ``TP, FP, FN`` in the norm form exact for soft targets (``SegmentationLoss.confusion``).
        Others as MONAI's ``GeneralizedDiceLoss`` and :class:`scripts.losses._base.SegmentationLoss`;
        ``compile=False`` computes eagerly.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``, else
    ``(B, C, *spatial)``. ``reduction="none"`` gives MONAI's ``(B, 1, 1, ..., 1)`` (one 1 per spatial dim), with
    ``batch=True`` ``(1, 1, ..., 1)`` of ``ndim - 1`` dims.

    Example:
        >>> loss = GeneralizedDiceLoss(softmax=True, to_onehot_y=True, compile=False)
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
        w_type: str = "square",
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        soft_label: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.w_type = str(getattr(w_type, "value", w_type))  # MONAI's Weight enum or its value
        if self.w_type not in W_TYPES:
            raise ValueError(f"w_type must be one of {W_TYPES}, got {w_type!r}.")
        self.soft_label = bool(soft_label)

    def class_weights(self, volume: torch.Tensor) -> torch.Tensor:
        """``w_c`` from the target volumes ``sum g_c``; an infinite one (absent class) is the row's largest finite."""
        if self.w_type == "uniform":
            return torch.ones_like(volume)
        w = volume.reciprocal() if self.w_type == "simple" else (volume * volume).reciprocal()
        infinite = torch.isinf(w)
        w = w.masked_fill(infinite, 0)
        return torch.where(infinite, w.amax(1, keepdim=True), w)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        tp, fp, fn = self.confusion(p, g, soft_label=self.soft_label)
        w = self.class_weights(self.voxel_sum(g))
        numerator = 2 * (w * tp).sum(1) + self.smooth_nr
        denominator = (w * (2 * tp + fp + fn)).sum(1) + self.smooth_dr
        loss = 1 - numerator / denominator
        spatial_ones = [1] * (input.ndim - 2)  # MONAI's "none" shape: (B, 1, 1, ...), with batch=True (1, 1, ...)
        return loss.reshape(1, *spatial_ones) if self.batch else loss.reshape(-1, 1, *spatial_ones)
