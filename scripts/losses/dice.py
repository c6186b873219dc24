"""Dice and Jaccard (IoU) loss under MONAI's name, with the region sums its Tversky and generalized Dice share."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import SegmentationLoss
from ._checks import check_weights


def ignore_mask(target: torch.Tensor, ignore_index: int | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``(B, 1, *spatial)``: 1 where a voxel counts, 0 where ``ignore_index`` says to leave it out (None: keep all).
    Labels ``(B, 1, ...)``: the voxels labelled ``ignore_index``; one-hot ``(B, C, ...)``: those of class
    ``ignore_index`` when it is one, else (a sentinel such as -1 or 255) the voxels with no class at all."""
    if ignore_index is None:
        return None
    if target.shape[1] == 1:
        return (target != ignore_index).to(dtype)
    if 0 <= ignore_index < target.shape[1]:
        return 1 - target[:, ignore_index : ignore_index + 1].to(dtype)
    return (target.sum(1, keepdim=True) > 0).to(dtype)


def soft_confusion(
    voxel_sum: Callable[[torch.Tensor], torch.Tensor],
    p: torch.Tensor,
    g: torch.Tensor,
    order: int = 1,
    soft_label: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``TP, FP, FN`` per ``(b, c)`` (``voxel_sum`` sums the voxels). Hard labels, ``order=1``: ``TP = sum p g``,
    ``FP = sum p - TP``, ``FN = sum g - TP``. Otherwise from the ``L^order`` norms ``|t| = sum |t|^order``
    (Wang et al., "Dice semimetric losses", MICCAI 2023; exact for soft labels, the same for hard ones):
    ``TP = (|p| + |g| - |p - g|) / 2``, ``FP = |p| - TP``, ``FN = |g| - TP``; ``order=2`` gives V-Net's squares."""
    if order == 1 and not soft_label:
        tp = voxel_sum(p * g)
        return tp, voxel_sum(p) - tp, voxel_sum(g) - tp

    def norm(t: torch.Tensor) -> torch.Tensor:
        return voxel_sum(t.abs() if order == 1 else t.abs().pow(order))

    p_norm, g_norm = norm(p), norm(g)
    tp = (p_norm + g_norm - norm(p - g)) / 2
    return tp, p_norm - tp, g_norm - tp


def masked_activated(loss: SegmentationLoss, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(p, g)`` of the kept channels (:meth:`SegmentationLoss.activated`), 0 at the voxels ``loss.ignore_index``
    leaves out."""
    p, g = loss.activated(input, target)
    mask = ignore_mask(target, loss.ignore_index, p.dtype)
    return (p, g) if mask is None else (p * mask, g * mask)


class DiceLoss(SegmentationLoss):
    """Dice loss, or with ``jaccard=True`` the Jaccard (soft IoU) loss; a drop-in for MONAI 1.6.1's ``DiceLoss``.

    Milletari F., Navab N., Ahmadi S.-A., "V-Net: fully convolutional neural networks for volumetric medical
    image segmentation", 3DV 2016 (``squared_pred=True``: its squared denominator); Rahman M.A., Wang Y.,
    "Optimizing intersection-over-union in deep neural networks for image segmentation", ISVC 2016
    (``jaccard=True``). Per ``(b, c)``, with ``TP, FP, FN`` from :func:`soft_confusion`::

        Dice:    loss = 1 - (2 TP + smooth_nr) / (2 TP + FP + FN + smooth_dr)        (= sum p + sum g)
        Jaccard: loss = 1 - (2 TP + smooth_nr) / (2 (TP + FP + FN) + smooth_dr)    (= 2 |P u G|)

    then times ``weight[c]`` (when more than one channel is kept). ``ignore_index`` leaves voxels out of every
    sum (see :func:`ignore_mask`).

    Args:
        squared_pred: ``p^2`` and ``g^2`` in the denominator (V-Net). jaccard: the Jaccard loss.
        weight: per-class factors (a number or one per kept channel, >= 0); ignored with one kept channel.
        soft_label: the norm form of :func:`soft_confusion`, exact for soft targets.
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
        p, g = masked_activated(self, input, target)
        tp, fp, fn = soft_confusion(self.voxel_sum, p, g, 2 if self.squared_pred else 1, self.soft_label)
        denominator = 2 * (tp + fp + fn) if self.jaccard else 2 * tp + fp + fn
        loss = 1 - (2 * tp + self.smooth_nr) / (denominator + self.smooth_dr)
        if self.class_weight is not None and loss.shape[1] > 1:
            loss = loss * self.class_weight.to(loss)
        loss = loss[0] if self.batch else loss  # MONAI's "none" shape: (B, C', 1, ...), with batch=True (C', 1, ...)
        return loss.reshape(*loss.shape, *([1] * (input.ndim - 2)))
