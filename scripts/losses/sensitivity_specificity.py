"""Sensitivity-specificity loss (Brosch et al. 2015)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import ImbalanceLoss, check_range


class SensitivitySpecificityLoss(ImbalanceLoss):
    """Weighted sum of the mean squared error over the foreground and over the background.

    Brosch T. et al., "Deep convolutional encoder networks for multiple sclerosis lesion segmentation",
    MICCAI 2015, eq. 2. Per ``(b, c)``::

        loss = r * sum((g - p)^2 g) / (sum g + smooth_dr) + (1 - r) * sum((g - p)^2 (1 - g)) / (sum (1 - g) + smooth_dr)

    The first term measures sensitivity (errors on the lesion), the second specificity; ``r`` (default 0.05)
    trades them. Brosch et al. add a small constant to the denominators against an empty class; that is
    ``smooth_dr`` here. There is no numerator smoothing (it would charge an empty, correctly empty class), so
    the loss has no ``smooth_nr``; an empty foreground contributes 0 to the first term (an all-foreground class 0
    to the second), also with ``smooth_dr = 0``: the denominators are floored at the smallest normal float.
    The squared errors need
    second-order sums, so this loss has its own voxel terms: ``sum (g - p)^2 g``, ``sum (g - p)^2`` and ``sum g``
    (the background term is their difference).

    Modes: ``sigmoid=True``: each channel is its own binary problem; ``softmax=True``: one term per class.

    Args:
        r: weight of the sensitivity term, in [0, 1]. Others as :class:`scripts.losses._base.ImbalanceLoss`.

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
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, 0.0, smooth_dr, batch)
        self.r = check_range("r", r, low=0.0, high=1.0)

    def voxel_terms(self, p: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        sq_err = (g - p).square()
        return (sq_err * g).sum(-1), sq_err.sum(-1), g.sum(-1)

    def voxel_partials(self, p: torch.Tensor, g: torch.Tensor, grads: Sequence[torch.Tensor]) -> torch.Tensor:
        u_fg, u_sq = grads[0].unsqueeze(-1), grads[1].unsqueeze(-1)
        return torch.addcmul(u_sq, u_fg, g).mul_(p - g).mul_(2)  # d/dp (g - p)^2 = 2 (p - g)

    def head(self, sums: Sequence[torch.Tensor], n_voxels: int) -> torch.Tensor:
        err_fg, sq_err, sum_g = sums
        err_bg = sq_err - err_fg
        n = n_voxels
        # floored so that smooth_dr = 0 keeps an empty (all-foreground) class's term at 0 / tiny = 0, not 0/0
        tiny = torch.finfo(sum_g.dtype).tiny
        den_fg = (sum_g + self.smooth_dr).clamp_min(tiny)
        den_bg = (n - sum_g + self.smooth_dr).clamp_min(tiny)
        return self.r * err_fg / den_fg + (1 - self.r) * err_bg / den_bg
