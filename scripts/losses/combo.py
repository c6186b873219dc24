"""Combo loss (Taghanaki et al. 2019)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss
from ._checks import check_range


class ComboLoss(SegmentationLoss):
    """Combo loss: a weighted binary cross-entropy minus the Dice coefficient.

    Taghanaki S.A. et al., "Combo loss: Handling input and output imbalance in multi-organ segmentation",
    Computerized Medical Imaging and Graphics 75, 2019, binary form::

        L    = alpha wBCE - (1 - alpha) DSC
        wBCE = -1/N sum_x [ beta g ln p + (1 - beta) (1 - g) ln(1 - p) ]
        DSC  = (2 sum_x p g + smooth_nr) / (sum_x p + sum_x g + smooth_dr)

    ``alpha`` trades cross-entropy against Dice, ``beta`` weights the positives (``beta > 0.5`` penalises false
    negatives more). Defaults ``alpha = beta = 0.5``. The loss is negative near a good prediction (its minimum
    is ``-(1 - alpha)``), as in the paper. Logs from the logits (``logsigmoid``; ``log_softmax`` and a
    log-sum-exp over the other channels for ``ln(1 - p)``); with probabilities as input, of ``p`` clipped to
    ``[1e-7, 1 - 1e-7]``. Not copied from the Unified Focal reference code, which applies ``beta`` to the
    background channel.

    Beyond the binary paper: every channel (``sigmoid=True``) or every class (``softmax=True``, one class
    against the rest) is a binary problem, and the loss is the mean over them. In softmax mode the background
    (channel 0) is the complement problem, its positives the foreground's negatives, so it takes ``1 - beta`` on
    its positives: with two channels its cross-entropy term equals the foreground's, the paper's binary wBCE
    (without the swap the two mirror each other and ``beta`` cancels out of the mean). With two softmax channels
    and ``include_background=False`` this is the binary formula on ``p_1`` exactly.

    Args:
        alpha: weight of the cross-entropy term, in [0, 1]. beta: weight of the positives, in [0, 1].
        Others as :class:`scripts.losses._base.SegmentationLoss` (``batch=True`` pools the Dice sums and averages
        the cross-entropy over the batch).

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = ComboLoss(sigmoid=True)
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
        alpha: float = 0.5,
        beta: float = 0.5,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.alpha = check_range("alpha", alpha, low=0.0, high=1.0)
        self.beta = check_range("beta", beta, low=0.0, high=1.0)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        logp, log1mp = self.kept(self.log_probabilities(input)), self.kept(self.log_complements(input))
        beta = self.positive_weights(self.beta, input).view(1, -1, *([1] * (input.ndim - 2)))
        wbce = -self.voxel_sum(beta * g * logp + (1 - beta) * (1 - g) * log1mp) / self.voxel_count(input)
        dsc = (2 * self.voxel_sum(p * g) + self.smooth_nr) / (self.voxel_sum(p + g) + self.smooth_dr)
        return self.alpha * wbce - (1 - self.alpha) * dsc
