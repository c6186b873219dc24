"""Two-class Dice loss, the survey's DL2 (Sudre et al. 2017)."""

from __future__ import annotations

import torch

from ._base import SegmentationLoss


class DiceTwoClassLoss(SegmentationLoss):
    """Dice loss over a binary problem's foreground *and* background: ``1 - (D_fg + D_bg) / 2``.

    Sudre C.H. et al., "Generalised Dice overlap as a deep learning loss function for highly unbalanced
    segmentations", DLMIA 2017 (the two-class Dice ``DL2``). Per ``(b, c)``::

        D(p, g) = (2 sum p g + smooth_nr) / (sum p + sum g + smooth_dr)
        loss    = 1 - (D(p, g) + D(1 - p, 1 - g)) / 2

    Sudre et al. write one sum of ``2 sum p g / sum (p + g)`` terms over the two classes with the smoothing
    left out; we smooth each Dice term as MONAI's ``DiceLoss`` does. Every channel is the binary problem
    ``[1 - p_c, p_c]`` against ``[1 - g_c, g_c]``: what MONAI's ``DiceLoss`` cannot express for a single sigmoid
    channel. For a 2-channel softmax input it equals ``DiceLoss`` with the background included; with more
    classes (softmax) each class is one-vs-rest.

    Args, shapes: as :class:`scripts.losses._base.SegmentationLoss`; ``reduction="none"`` gives ``(B, C)``
    (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = DiceTwoClassLoss(sigmoid=True)
        >>> loss(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 1, 8, 8))).shape
        torch.Size([])
    """

    def dice(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return (2 * self.voxel_sum(p * g) + self.smooth_nr) / (self.voxel_sum(p + g) + self.smooth_dr)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        return 1 - (self.dice(p, g) + self.dice(1 - p, 1 - g)) / 2
