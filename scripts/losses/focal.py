"""Focal loss (Lin et al. 2017) under MONAI's name."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ._base import SegmentationLoss, ignore_mask, pow_floored
from ._checks import check_range, check_weights


class FocalLoss(SegmentationLoss):
    """Focal loss; a drop-in for MONAI 1.6.1's ``FocalLoss`` (its ``sigmoid_focal_loss`` / ``softmax_focal_loss``).

    Lin T.-Y., Goyal P., Girshick R., He K., Dollar P., "Focal loss for dense object detection", ICCV 2017.
    Per voxel and channel, from the logits ``x`` (``g`` the target)::

        sigmoid (use_softmax=False): FL = -alpha_t (1 - p_t)^gamma [g log p + (1 - g) log(1 - p)],  p = sigmoid(x)
                                     1 - p_t = sigmoid(x (1 - 2g))      (1 - p where g = 1, p where g = 0)
                                     alpha_t = alpha g + (1 - alpha)(1 - g)
        softmax (use_softmax=True):  FL = -alpha_c (1 - p_c)^gamma g_c log p_c,  p = softmax(x)
                                     alpha_c = 1 - alpha for channel 0, alpha for the others

    A sequence ``alpha`` gives ``alpha_c`` per channel (sigmoid: on the voxels with ``g = 1`` only). Then times
    ``weight[c]``. ``include_background=False`` drops channel 0 *before* the softmax (as MONAI; a scalar ``alpha``
    is then ignored, with a warning). ``ignore_index`` zeroes the logits, targets and loss of the voxels it
    leaves out (:func:`scripts.losses._base.ignore_mask`) and the means count only the others. Softmax with
    ``gamma < 1``: ``1 - p`` is floored at the smallest normal float (:func:`scripts.losses._base.pow_floored`),
    so the gradient stays finite where ``p`` rounds to 1 (MONAI's is NaN there).

    Reduction, as MONAI: ``"mean"``: the mean over all values (with ``ignore_index``: their sum over the number of
    voxels kept); ``"sum"``: the sum over ``(b, c)`` of the spatial means; ``"none"``: per voxel.

    Args:
        gamma: the focusing exponent, >= 0. alpha: ``None``, a number in ``[0, 1]`` or one factor (>= 0) per kept
            channel.
        weight: per-class factors (a number, or one per kept channel, >= 0). use_softmax: the softmax form.
        ignore_index: a label (or one-hot sentinel) whose voxels are left out. Others as MONAI's ``FocalLoss``;
        ``compile=False`` computes eagerly.

    Shapes: input ``(B, C, *spatial)`` (or ``(B, C)``) logits; target ``(B, 1, *spatial)`` labels with
    ``to_onehot_y=True``, else ``(B, C, *spatial)``. ``reduction="none"`` gives MONAI's ``(B, C', *spatial)``
    (``C'`` the kept channels).

    Example:
        >>> loss = FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0, compile=False)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])

    Unlike MONAI, bad input raises :class:`~scripts.losses._checks.LossInputError` (a ``ValueError`` and an
    ``AssertionError``): shape mismatch, labels outside ``[0, C)``, non-finite values, ``use_softmax=True`` or
    ``include_background=False`` with one channel; MONAI warns and carries on. Computed in float32 outside
    autocast; float64 stays float64 (MONAI: float32).
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        weight: Sequence[float] | float | int | torch.Tensor | None = None,
        reduction: str = "mean",
        use_softmax: bool = False,
        ignore_index: int | None = None,
        *,
        compile: bool = True,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, not use_softmax, bool(use_softmax), reduction=reduction, compile=compile
        )
        self.gamma = check_range("gamma", gamma, low=0.0)
        self.use_softmax = bool(use_softmax)
        self.ignore_index = ignore_index
        if alpha is not None and not isinstance(alpha, (int, float)):
            alpha = check_weights("alpha", alpha)  # a sequence: per-class factors (MONAI's tests use 2.0)
            alpha = alpha.item() if alpha.ndim == 0 else alpha
        self.alpha = check_range("alpha", alpha, 0.0, 1.0) if isinstance(alpha, (int, float)) else alpha
        self.register_buffer("class_weight", check_weights("weight", weight))

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        if isinstance(input, torch.Tensor) and isinstance(target, torch.Tensor) and input.ndim == target.ndim == 2:
            input, target = input[..., None], target[..., None]  # (B, C) classification logits, as MONAI
        super().check(input, target)
        self.check_classes(input.shape[1])

    def check_classes(self, n_channels: int) -> None:
        """``weight`` and ``alpha`` against the number of kept channels; the warning of an ignored ``alpha``."""
        kept = n_channels - (not self.include_background)
        w = self.class_weight
        if w is not None and w.ndim > 0 and (kept == 1 or w.numel() != kept):
            raise ValueError(
                f"weight has {w.numel()} entries but the loss sees {kept} channel(s); give one per class (without "
                "the background when include_background=False), or a single number."
            )
        if isinstance(self.alpha, torch.Tensor) and self.alpha.numel() != kept:
            raise ValueError(
                f"alpha has {self.alpha.numel()} entries but the loss sees {kept} channel(s): the length of alpha "
                "must match the number of classes (without the background when include_background=False)."
            )
        if self.use_softmax and not self.include_background and isinstance(self.alpha, float):
            warnings.warn(
                "FocalLoss: include_background=False, the scalar alpha is ignored with use_softmax=True.", stacklevel=3
            )

    def alpha_factor(self, g: torch.Tensor) -> torch.Tensor | None:
        """``alpha_t`` (sigmoid) or ``alpha_c`` (softmax) broadcasting against ``g``; None without ``alpha``."""
        alpha, ones = self.alpha, [1] * (g.ndim - 2)
        if alpha is None or (isinstance(alpha, float) and self.use_softmax and not self.include_background):
            return None
        if isinstance(alpha, float) and not self.use_softmax:
            return alpha * g + (1 - alpha) * (1 - g)
        if isinstance(alpha, float):  # softmax: 1 - alpha on the background, alpha on the other classes
            alpha = torch.tensor([1 - alpha] + [alpha] * (g.shape[1] - 1))
        alpha = alpha.to(g).view(-1, *ones)
        return alpha if self.use_softmax else torch.where(g == 1, alpha, 1)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = self.kept(input)
        g = self.kept(self.one_hot_target(target, input.shape[1], input.dtype))
        mask = ignore_mask(target, self.ignore_index, input.dtype)
        if mask is not None:
            x, g = x * mask, g * mask
        if self.use_softmax:
            log_p = torch.log_softmax(x, 1)
            loss = -pow_floored(-torch.expm1(log_p), self.gamma) * g * log_p  # (1 - p)^gamma, finite slope at p = 1
        else:
            bce = -(g * F.logsigmoid(x) + (1 - g) * F.logsigmoid(-x))
            loss = torch.exp(self.gamma * F.logsigmoid(x * (1 - 2 * g))) * bce  # (1 - p_t)^gamma in log space
        alpha = self.alpha_factor(g)
        if alpha is not None:
            loss = alpha * loss
        if mask is not None:
            loss = loss * mask
        if self.class_weight is not None:
            loss = loss * self.class_weight.to(loss).view(-1, *([1] * (loss.ndim - 2)))
        return loss

    def reduced_formula(self, input: torch.Tensor, target: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        loss = self.formula(input, target)
        mask = ignore_mask(target, self.ignore_index, loss.dtype)
        spatial = tuple(range(2, loss.ndim))
        if self.reduction == "none":
            return loss
        if mask is None:
            return loss.mean() if self.reduction == "mean" else loss.mean(spatial).sum()
        if self.reduction == "mean":
            return loss.sum() / mask.sum().clamp_min(torch.finfo(torch.float32).eps)
        return (loss.sum(spatial) / mask.sum(spatial).clamp_min(torch.finfo(torch.float32).eps)).sum()
