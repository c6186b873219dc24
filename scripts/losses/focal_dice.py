"""Focal Dice loss (Wang & Chung 2018 form), with an optional balanced voxel sampling."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch

from ._base import SegmentationLoss, pow_floored
from ._checks import check_range

SAMPLINGS = (None, "balanced")


def balanced_mask(p: torch.Tensor, fg: torch.Tensor, neg_ratio: float) -> torch.Tensor:
    """Bool mask like ``p``: per ``(b, c)`` every foreground voxel (``fg``) plus the ``ceil(neg_ratio * n_fg)``
    background voxels of highest ``p`` (at most the background's size; one when the foreground is empty). Ties
    at the threshold: the first voxels in order. The k-th highest value is found by selection, not a sort."""
    score = p.detach().flatten(2).masked_fill(fg.flatten(2), -math.inf)
    n_fg = fg.flatten(2).sum(-1)
    n_bg = score.shape[-1] - n_fg
    k = torch.where(n_fg == 0, 1, torch.ceil(n_fg * neg_ratio).long()).minimum(n_bg)
    mask = fg.flatten(2).clone()
    for (b, c), kk in zip(itertools.product(*map(range, k.shape)), k.flatten().tolist()):
        if kk > 0:
            row = score[b, c]
            threshold = torch.kthvalue(row, row.numel() - kk + 1).values
            chosen = row > threshold
            ties = (row == threshold).nonzero().flatten()
            chosen[ties[: kk - int(chosen.sum())]] = True
            mask[b, c] |= chosen
    return mask.view_as(p)


class FocalDiceLoss(SegmentationLoss):
    """Focal Dice loss: ``1 - DSC ** (1/beta)`` per class, optionally on a balanced voxel sample.

    Wang P., Chung A.C.S., "Focal Dice loss and image dilation for brain tumor segmentation", DLMIA 2018.
    Per ``(b, c)``::

        DSC  = (2 TP + smooth_nr) / (sum p + sum g + smooth_dr)
        loss = 1 - DSC ** (1 / beta),   beta >= 1 (default 2)

    With ``beta > 1`` the slope ``DSC^(1/beta - 1) / beta`` is small for well-segmented classes and large for
    poorly segmented ones: training focuses on the hard classes, like the focal loss. Wang & Chung sum the class
    terms; ``reduction="mean"`` averages them over ``(b, c)``. ``DSC`` is floored at the smallest normal float
    (the exponent is below 1) so that value and gradient stay finite when ``TP = 0``.

    ``sampling="balanced"`` is this project's reading of the abstract of Zhao et al., "Rethinking Dice loss for
    medical image segmentation", ICDM 2020 (its full text, and so its exact formula and "balanced sampling
    strategy", are not available to us): per sample and class the Dice sums run over all foreground voxels
    (``g > 0.5``) plus the ``ceil(neg_ratio * n_fg)`` hardest background voxels (highest predicted
    probability), at least one voxel. It is not Zhao et al.'s formula. The sample is chosen eagerly, outside
    ``torch.compile`` (a selection per row), and not differentiated.

    Modes: ``sigmoid=True``: each channel is its own binary problem (foreground term only); ``softmax=True``:
    one term per class.

    Args:
        beta: >= 1; the exponent is ``1/beta``. sampling: ``None`` or ``"balanced"``. neg_ratio: >= 0,
        background voxels kept per foreground voxel with ``sampling="balanced"``.
        Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = FocalDiceLoss(sigmoid=True, beta=2.0, sampling="balanced")
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        beta: float = 2.0,
        sampling: str | None = None,
        neg_ratio: float = 1.0,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.beta = check_range("beta", beta, low=1.0)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}.")
        self.sampling = sampling
        self.neg_ratio = check_range("neg_ratio", neg_ratio, low=0.0)

    def extra_inputs(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.sampling != "balanced":
            return ()
        with torch.no_grad():
            p, g = self.activated(input, target)
            return (balanced_mask(p, g > 0.5, self.neg_ratio),)

    def formula(self, input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        p, g = self.activated(input, target)
        if mask is not None:
            p, g = p * mask, g * mask
        dsc = (2 * self.voxel_sum(p * g) + self.smooth_nr) / (self.voxel_sum(p + g) + self.smooth_dr)
        return 1 - pow_floored(dsc, 1 / self.beta)
