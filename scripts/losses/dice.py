"""Dice and Jaccard (IoU) loss under MONAI's name, with the region sums its Tversky and generalized Dice share."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import SegmentationLoss
from ._checks import check_weights


class DiceLoss(SegmentationLoss):
    """Dice loss, or with ``jaccard=True`` the Jaccard (soft IoU) loss; a drop-in for MONAI 1.6.1's ``DiceLoss``.

    Milletari F., Navab N., Ahmadi S.-A., "V-Net: fully convolutional neural networks for volumetric medical
    image segmentation", 3DV 2016 (``squared_pred=True``: its squared denominator); Rahman M.A., Wang Y.,
    "Optimizing intersection-over-union in deep neural networks for image segmentation", ISVC 2016
    (``jaccard=True``). Per ``(b, c)``, with ``TP, FP, FN`` from :meth:`SegmentationLoss.confusion`::

        Dice:    loss = 1 - (2 TP + smooth_nr) / (2 TP + FP + FN + smooth_dr)        (= sum p + sum g)
        Jaccard: loss = 1 - (2 TP + smooth_nr) / (2 (TP + FP + FN) + smooth_dr)    (= 2 |P u G|)

    then times ``weight[c]`` (when more than one channel is kept). ``ignore_index`` leaves voxels out of every
    sum (see :func:`scripts.losses._base.ignore_mask`).

    Args:
        squared_pred: ``p^2`` and ``g^2`` in the denominator (V-Net). jaccard: the Jaccard loss.
        weight: per-class factors (a number or one per kept channel, >= 0); ignored with one kept channel.
        soft_label: the norm form of :meth:`SegmentationLoss.confusion`, exact for soft targets.
        ignore_index: a label (or one-hot sentinel) whose voxels are left out.
        Others as MONAI's ``DiceLoss`` and :class:`scripts.losses._base.SegmentationLoss`; ``compile=False``
        computes eagerly.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``, else
    ``(B, C, *spatial)``. ``reduction="none"`` gives MONAI's ``(B, C', 1, ..., 1)`` (one 1 per spatial dim;
    ``C'`` the kept channels), with ``batch=True`` ``(C', 1, ..., 1)``.

    Example:
        >>> loss = DiceLoss(softmax=True, to_onehot_y=True, include_background=False, compile=False)
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
        squared_pred: bool = False,
        jaccard: bool = False,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        weight: Sequence[float] | float | int | torch.Tensor | None = None,
        soft_label: bool = False,
        ignore_index: int | None = None,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.squared_pred = bool(squared_pred)
        self.jaccard = bool(jaccard)
        self.soft_label = bool(soft_label)
        self.ignore_index = ignore_index
        self.register_buffer("class_weight", check_weights("weight", weight))

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        super().check(input, target)
        kept = input.shape[1] - (not self.include_background)
        w = self.class_weight
        if w is not None and w.ndim > 0 and kept > 1 and w.numel() != kept:
            raise ValueError(
                f"weight has {w.numel()} entries but the loss sees {kept} channel(s); give one per class (without "
                "the background when include_background=False), or a single number."
            )

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        tp, fp, fn = self.confusion(p, g, 2 if self.squared_pred else 1, self.soft_label)
        denominator = 2 * (tp + fp + fn) if self.jaccard else 2 * tp + fp + fn
        loss = 1 - (2 * tp + self.smooth_nr) / (denominator + self.smooth_dr)
        if self.class_weight is not None and loss.shape[1] > 1:
            loss = loss * self.class_weight.to(loss)
        loss = loss[0] if self.batch else loss  # MONAI's "none" shape: (B, C', 1, ...), with batch=True (C', 1, ...)
        return loss.reshape(*loss.shape, *([1] * (input.ndim - 2)))
