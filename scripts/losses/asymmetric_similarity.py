"""Asymmetric similarity loss (Hashemi et al., IEEE Access 2018): the F-beta score's loss."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss
from ._checks import check_range


class AsymmetricSimilarityLoss(SegmentationLoss):
    """``1 - F_beta`` per ``(b, c)``, false negatives weighted ``beta^2`` times the false positives.

    Hashemi S.R., Salehi S.S.M., Erdogmus D., Prabhu S.P., Warfield S.K., Gholipour A., "Asymmetric loss functions
    and deep densely-connected networks for highly-imbalanced medical image segmentation: application to multiple
    sclerosis lesion detection", IEEE Access 7, 2019 (online 2018), eq. 5::

        F_beta = (TP + smooth_nr) / (TP + beta^2 / (1 + beta^2) FN + 1 / (1 + beta^2) FP + smooth_dr)

    (``(1 + beta^2) TP / ((1 + beta^2) TP + beta^2 FN + FP)`` divided through), ``beta = 1.5`` and smoothing 1 as
    the paper and SegLossOdyssey's ``AsymLoss``; soft ``TP, FP, FN`` per sample and channel (over the batch with
    ``batch=True``). SegLossOdyssey returns ``-mean F_beta``; ours ``1 - F_beta``: the same gradient.

    Args:
        beta: the F-score's beta (>= 0; 1 is the Dice loss with smoothing on the half sums).
        Others as :class:`scripts.losses.dice.DiceLoss`; ``compile=False`` computes eagerly.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``, else
    ``(B, C, *spatial)``. ``reduction="none"``: ``(B, C')``, with ``batch=True`` ``(1, C')``.

    Example:
        >>> loss = AsymmetricSimilarityLoss(softmax=True, to_onehot_y=True, compile=False)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        beta: float = 1.5,
        reduction: str = "mean",
        smooth_nr: float = 1.0,
        smooth_dr: float = 1.0,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.beta = check_range("beta", beta, low=0.0)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tp, fp, fn = self.confusion(*self.activated(input, target))
        w_fn = self.beta**2 / (1 + self.beta**2)
        return 1 - (tp + self.smooth_nr) / (tp + w_fn * fn + (1 - w_fn) * fp + self.smooth_dr)
