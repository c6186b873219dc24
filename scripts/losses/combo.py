"""Combo loss (Taghanaki et al. 2019)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import check_range
from ._log_probs import Activated, LogProbLoss
from ._terms import dice_from, region_sums


class ComboLoss(LogProbLoss):
    """Combo loss: a weighted binary cross-entropy minus the Dice coefficient.

    Taghanaki S.A. et al., "Combo loss: Handling input and output imbalance in multi-organ segmentation",
    Computerized Medical Imaging and Graphics 75, 2019, binary form::

        L    = alpha wBCE - (1 - alpha) DSC
        wBCE = -1/N sum_x [ beta g ln p + (1 - beta) (1 - g) ln(1 - p) ]
        DSC  = (2 sum_x p g + smooth_nr) / (sum_x p + sum_x g + smooth_dr)

    ``alpha`` trades cross-entropy against Dice, ``beta`` weights the positives (``beta > 0.5`` penalises false
    negatives more). Defaults ``alpha = beta = 0.5``. The loss is negative near a good prediction (its
    minimum is ``-(1 - alpha)``), as in the paper. Logs from the logits (``logsigmoid``; in softmax mode
    ``log_softmax`` and a log-sum-exp over the other channels for ``ln(1 - p)``); with probabilities as input,
    of ``p`` clipped to ``[1e-7, 1 - 1e-7]``. Not copied from the Unified Focal reference code, which applies
    ``beta`` to the background channel.

    Generalisation (the paper's formula is binary): every channel (``sigmoid=True``) or every class
    (``softmax=True``, one class against the rest, ``p_c`` its softmax probability) is a binary problem, and
    the loss is the mean over them. With two softmax channels and ``include_background=False`` this is the
    binary formula on ``p_1`` exactly.

    Args:
        alpha: weight of the cross-entropy term, in [0, 1]. beta: weight of the positives, in [0, 1].
        Others as :class:`scripts.losses._base.ImbalanceLoss` (``batch=True`` pools the Dice sums and averages
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
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        self.alpha = check_range("alpha", alpha, low=0.0, high=1.0)
        self.beta = check_range("beta", beta, low=0.0, high=1.0)

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        p, g, logp, log1mp = self.kept(a.p), self.kept(a.g), self.kept(a.logp), self.kept(a.log1mp)
        return (g * logp).sum(-1), ((1 - g) * log1mp).sum(-1), *region_sums(p, g)

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple:
        u = self.upstream(grads)
        g = self.kept(a.g)
        dp = (g * u[2]).add_(u[3])
        return self.full_channels(dp), self.full_channels(u[0] * g), self.full_channels(u[1] * (1 - g))

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        pos, neg, tp, sum_p, sum_g = sums
        wbce = -(self.beta * pos + (1 - self.beta) * neg) / n_voxels
        dsc = dice_from(tp, sum_p, sum_g, self.smooth_nr, self.smooth_dr)
        return self.alpha * wbce - (1 - self.alpha) * dsc
