"""Two-class Dice loss, the survey's DL2 (Sudre et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._base import ImbalanceLoss


class DiceTwoClassLoss(ImbalanceLoss):
    """Dice loss over a binary problem's foreground *and* background: ``1 - (D_fg + D_bg) / 2``.

    Sudre C.H. et al., "Generalised Dice overlap as a deep learning loss function for highly unbalanced
    segmentations", DLMIA 2017, eq. 1 (the two-class Dice ``DL2``). Per ``(b, c)``, with ``N`` the number of
    voxels summed over::

        D_fg = (2 TP + smooth_nr) / (sum p + sum g + smooth_dr)
        D_bg = (2 TN + smooth_nr) / ((N - sum p) + (N - sum g) + smooth_dr),   TN = N - sum p - sum g + TP
        loss = 1 - (D_fg + D_bg) / 2

    Sudre et al. write one sum of ``2 sum p g / sum (p + g)`` terms over the two classes with smoothing
    ``epsilon`` left out; we smooth each Dice term as MONAI's ``DiceLoss`` does. Every channel is treated as
    the binary problem ``[1 - p_c, p_c]`` against ``[1 - g_c, g_c]``: this is what MONAI's ``DiceLoss`` cannot
    express for a single sigmoid channel. For a 2-channel softmax input it equals ``DiceLoss`` with the
    background included; with C > 2 classes (softmax) each class is one-vs-rest. The background statistics are
    derived from ``TP``, ``sum p``, ``sum g`` and ``N`` (no second pass over the volume).

    Args, shapes: as :class:`scripts.losses._base.ImbalanceLoss`; ``reduction="none"`` gives ``(B, C)``.

    Example:
        >>> loss = DiceTwoClassLoss(sigmoid=True)
        >>> loss(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 1, 8, 8))).shape
        torch.Size([])
    """

    def head(self, sums: Sequence[torch.Tensor], n_voxels: int) -> torch.Tensor:
        tp, sum_p, sum_g = sums
        n = n_voxels
        tn = n - sum_p - sum_g + tp
        d_fg = (2 * tp + self.smooth_nr) / (sum_p + sum_g + self.smooth_dr)
        d_bg = (2 * tn + self.smooth_nr) / ((n - sum_p) + (n - sum_g) + self.smooth_dr)
        return 1 - (d_fg + d_bg) / 2
