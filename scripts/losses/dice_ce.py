"""Dice + cross-entropy under MONAI's name, with per-channel binary cross-entropy for sigmoid regions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ._base import SegmentationLoss
from ._checks import check_range, check_weights
from .dice import DiceLoss


class DiceCELoss(SegmentationLoss):
    """``lambda_dice * Dice + lambda_ce * cross-entropy``; a drop-in for MONAI 1.6.1's ``DiceCELoss``, except for
    sigmoid regions (below).

    Dice as :class:`scripts.losses.dice.DiceLoss` (Milletari et al., V-Net, 3DV 2016; ``jaccard=True``: Rahman &
    Wang, ISVC 2016), with ``weight`` (without its background entry when ``include_background=False``). The
    cross-entropy term is taken from the logits, over all channels, whatever ``include_background`` and the
    activation of the Dice term::

        softmax CE (2+ channels):              CE  = -mean_x w_y log softmax(x)_y    (torch.nn.functional.cross_entropy:
                                                     labels or one-hot / soft targets, ``weight``, ``label_smoothing``)
        binary CE (1 channel, or sigmoid=True): BCE = -mean[w_c g log p + (1 - g) log(1 - p)],  p = sigmoid(x)
                                                     (binary_cross_entropy_with_logits, ``weight`` as ``pos_weight``)

    **Deliberate difference from MONAI.** With ``sigmoid=True`` and more than one channel, MONAI 1.6.1 takes the
    *softmax* cross-entropy over the channels, which treats them as mutually exclusive classes: wrong for
    overlapping regions (BraTS TC / WT / ET, every voxel of ET is also in TC and WT). Here that case takes the
    per-channel binary cross-entropy (the mean over channels and voxels of ``binary_cross_entropy_with_logits``,
    against the one-hot target with ``to_onehot_y=True``). With one channel, softmax or no activation we equal
    MONAI. ``label_smoothing`` applies to the softmax cross-entropy only (as MONAI's binary branch).

    Args:
        weight: per-class factors: the softmax CE's class weights, the BCE's ``pos_weight`` per channel, and the
            Dice term's class weights. lambda_dice, lambda_ce: the terms' factors (>= 0).
        label_smoothing: in ``[0, 1]``, of the softmax cross-entropy.
        reduction: ``"mean"`` or ``"sum"`` (of each term; as MONAI, ``"none"`` is not accepted).
        Others as :class:`scripts.losses.dice.DiceLoss`; ``compile=False`` computes eagerly.

    Shapes: input ``(B, C, *spatial)`` logits; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``, else
    ``(B, C, *spatial)``. Returns a scalar.

    Example:
        >>> loss = DiceCELoss(to_onehot_y=True, softmax=True, compile=False)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])

    Also unlike MONAI, bad input raises :class:`~scripts.losses._checks.LossInputError` (a ``ValueError`` and an
    ``AssertionError``): shape mismatch, labels outside ``[0, C)``, non-finite values, ``softmax=True`` or
    ``include_background=False`` with one channel; MONAI warns and carries on. Computed in float32 outside
    autocast (float64 input in float64).
    """

    check_values_first = True  # torch's cross_entropy indexes by label: bad labels are checked before it

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
        weight: Sequence[float] | torch.Tensor | None = None,
        lambda_dice: float = 1.0,
        lambda_ce: float = 1.0,
        label_smoothing: float = 0.0,
        *,
        compile: bool = True,
    ) -> None:
        reduction = getattr(reduction, "value", reduction)
        if reduction not in ("mean", "sum"):
            raise ValueError(f'reduction must be "mean" or "sum" (a Dice and a voxel term), got {reduction!r}.')
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        weight = check_weights("weight", weight)
        dice_weight = weight[1:] if weight is not None and weight.ndim > 0 and not include_background else weight
        dice_args = include_background, to_onehot_y, sigmoid, softmax, other_act, squared_pred, jaccard, reduction
        self.dice = DiceLoss(*dice_args, smooth_nr, smooth_dr, batch, dice_weight, compile=False)
        self.register_buffer("ce_weight", weight)
        self.lambda_dice = check_range("lambda_dice", lambda_dice, low=0.0)
        self.lambda_ce = check_range("lambda_ce", lambda_ce, low=0.0)
        self.label_smoothing = check_range("label_smoothing", label_smoothing, low=0.0, high=1.0)

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        self.dice.check(input, target)

    def cross_entropy(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n = input.shape[1]
        w = None if self.ce_weight is None else self.ce_weight.to(input)
        if self.sigmoid or n == 1:  # one binary problem per channel
            g = self.one_hot_target(target, n, input.dtype)
            pos_weight = None if w is None else w.reshape(-1, *([1] * (input.ndim - 2)))
            return F.binary_cross_entropy_with_logits(input, g, pos_weight=pos_weight, reduction=self.reduction)
        g = target[:, 0].long() if target.shape[1] == 1 else target.to(input.dtype)  # labels or class probabilities
        return F.cross_entropy(input, g, weight=w, reduction=self.reduction, label_smoothing=self.label_smoothing)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        dice = self.dice.reduced_formula(input, target)
        return self.lambda_dice * dice + self.lambda_ce * self.cross_entropy(input, target)
