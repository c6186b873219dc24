"""Focal Dice loss (Wang & Chung 2018 form), with an optional balanced voxel sampling."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch

from ._activation import Prims, SliceActivation
from ._base import ImbalanceLoss, check_input_target, check_range, device_type, reduce, safe_pow
from ._chunked import TermsKernel, voxel_sums

SAMPLINGS = (None, "balanced")


def balanced_mask(p: torch.Tensor, fg: torch.Tensor, neg_ratio: float) -> torch.Tensor:
    """Bool mask (B, C, *spatial): per (b, c) every foreground voxel (``fg``) plus the ``ceil(neg_ratio * n_fg)``
    background voxels of highest ``p`` (capped at the background's size), and at least one voxel when the
    foreground is empty. Selection is not differentiated (ties: first in order).

    The k-th highest background probability of each row is found by selection (``kthvalue``), not by sorting
    the row; only where several voxels tie at that value are the first ones in order picked among them."""
    flat_p = p.detach().flatten(2)
    fg = fg.flatten(2)
    n_fg = fg.sum(-1, keepdim=True)
    n_bg = fg.shape[-1] - n_fg
    k = torch.ceil(n_fg * neg_ratio).long()
    k = torch.where(n_fg == 0, torch.ones_like(k), k).minimum(n_bg)
    score = flat_p.masked_fill(fg, -math.inf)
    mask = fg.clone()
    n = score.shape[-1]
    for (b, c), kk in zip(itertools.product(range(k.shape[0]), range(k.shape[1])), k.flatten().tolist()):
        if kk == 0:
            continue
        row = score[b, c]
        threshold = torch.kthvalue(row, n - kk + 1).values  # the kk-th highest score
        above = row > threshold
        ties = (row == threshold).nonzero().flatten()
        above[ties[: kk - int(above.sum())]] = True
        mask[b, c] |= above
    return mask.view_as(p)


class FocalDiceLoss(ImbalanceLoss):
    """Focal Dice loss: ``1 - DSC ** (1/beta)`` per class, optionally on a balanced voxel sample.

    Wang P., Chung A.C.S., "Focal Dice loss and image dilation for brain tumor segmentation", DLMIA 2018.
    Per ``(b, c)``::

        DSC  = (2 TP + smooth_nr) / (sum p + sum g + smooth_dr)
        loss = 1 - DSC ** (1 / beta),   beta >= 1 (default 2)

    With ``beta > 1`` the slope ``DSC^(1/beta - 1) / beta`` is small for well-segmented classes (DSC near 1)
    and large for poorly segmented ones: training focuses on the hard classes, like the focal loss.
    Wang & Chung sum the class terms; ``reduction="mean"`` averages them over ``(b, c)``. The base ``DSC`` is
    clamped to ``>= 1e-7`` (the exponent is below 1) so that value and gradient stay finite when
    ``TP = 0``.

    ``sampling="balanced"`` is this project's reading of the abstract of Zhao et al., "Rethinking Dice loss
    for medical image segmentation", ICDM 2020 (the paper this loss was requested from; its full text, and
    so its exact formula and "balanced sampling strategy", are not available to us): per sample and class,
    the Dice sums run over all foreground voxels (``g > 0.5``) plus the ``ceil(neg_ratio * n_fg)`` hardest
    background voxels (highest predicted probability), at least one voxel. It is not Zhao et al.'s formula.

    Modes: ``sigmoid=True``: each channel is its own binary problem (foreground term only);
    ``softmax=True``: one term per class.

    Args:
        beta: >= 1; the exponent is ``1/beta``. sampling: ``None`` or ``"balanced"``. neg_ratio: >= 0,
        background voxels kept per foreground voxel with ``sampling="balanced"``.
        Others as :class:`scripts.losses._base.ImbalanceLoss`.

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
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        self.beta = check_range("beta", beta, low=1.0)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}.")
        self.sampling = sampling
        self.neg_ratio = check_range("neg_ratio", neg_ratio, low=0.0)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.sampling != "balanced":
            return super().forward(input, target)
        with torch.autocast(device_type=device_type(input), enabled=False):
            check_input_target(input, target, to_onehot_y=self.to_onehot_y, softmax=self.softmax)
            x, mode = self.activated_input(input)
            if not self.include_background and input.shape[1] == 1:
                raise ValueError("include_background=False needs at least 2 channels; input has 1.")
            activation = SliceActivation(mode)
            with torch.no_grad():  # the sample is chosen on the whole volume, then the sums run slice by slice
                p, g = self.slice_pair(activation.forward(x.detach().flatten(2)), target.flatten(2))
                mask = balanced_mask(p, g > 0.5, self.neg_ratio)
                del p, g

            def masked(prims: Prims, tc: torch.Tensor, mc: torch.Tensor) -> tuple[torch.Tensor, ...]:
                p, g = self.slice_pair(prims, tc)
                m = mc.to(p.dtype)
                return p * m, g * m, m

            def partials(made: tuple[torch.Tensor, ...], grads: Sequence[torch.Tensor]) -> tuple:
                pm, gm, m = made
                return self.full_channels(self.voxel_partials(pm, gm, grads).mul_(m)), None, None

            kernel = TermsKernel(activation, masked, lambda made: self.voxel_terms(*made[:2]), partials)
            sums, n_voxels = self.pool(voxel_sums(kernel, x, target, mask), input[0, 0].numel())
            return reduce(self.head(sums, n_voxels), self.reduction)

    def head(self, sums: Sequence[torch.Tensor], n_voxels: int) -> torch.Tensor:
        tp, sum_p, sum_g = sums
        dsc = (2 * tp + self.smooth_nr) / (sum_p + sum_g + self.smooth_dr)
        return 1 - safe_pow(dsc, 1 / self.beta)
