"""Cross-entropy + Dice loss, with a per-channel binary cross-entropy for multi-label (sigmoid) inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import check_range
from ._log_probs import Activated, LogProbLoss
from ._terms import binary_ce, categorical_ce, dice_from, region_sums


class BCEDiceLoss(LogProbLoss):
    """Weighted sum of the Dice loss and the cross-entropy, the common compound baseline.

    ::

        L    = lambda_dice Dice + lambda_ce CE
        Dice = 1 - (2 TP + smooth_nr) / (sum p + sum g + smooth_dr)       per (b, c), Milletari et al. 2016

    - ``sigmoid=True`` (or one channel): ``CE`` is the binary cross-entropy of each channel,
      ``-mean_x [g log p + (1 - g) log(1 - p)]`` per ``(b, c)``: right for overlapping regions (BraTS
      TC/WT/ET). MONAI 1.6.1's ``DiceCELoss(sigmoid=True)`` takes a softmax cross-entropy over the channels as
      soon as there is more than one: wrong for multi-label targets.
    - ``softmax=True`` (or 2+ channels of probabilities): ``CE = -mean_x sum_c g_c log p_c`` per sample, over
      all classes (``include_background=False`` drops the background from the Dice term only, as MONAI's
      ``DiceCELoss``). Here ``reduction="mean"`` equals MONAI's ``DiceCELoss`` (softmax) exactly.

    Logs from the logits (``logsigmoid`` / ``log_softmax``); with probabilities as input, of ``p`` clipped to
    ``[1e-7, 1 - 1e-7]``.

    Args:
        lambda_dice, lambda_ce: weights of the two terms, >= 0. Others as
        :class:`scripts.losses._base.ImbalanceLoss` (``batch=True`` pools the Dice sums and averages the
        cross-entropy over the batch).

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``. ``reduction="none"`` gives ``(B, C)`` (``(1, C)`` with ``batch=True``): per-channel
    mode ``lambda_dice Dice_{b,c} + lambda_ce BCE_{b,c}``; categorical mode ``lambda_dice Dice_{b,c} +
    lambda_ce CE_b``, the per-sample cross-entropy broadcast over the classes, so that the mean over ``(b, c)``
    is the loss.

    Example:
        >>> loss = BCEDiceLoss(sigmoid=True)
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
        lambda_dice: float = 1.0,
        lambda_ce: float = 1.0,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        self.lambda_dice = check_range("lambda_dice", lambda_dice, low=0.0)
        self.lambda_ce = check_range("lambda_ce", lambda_ce, low=0.0)

    def needs_complement(self, categorical: bool) -> bool:
        return not categorical

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        if a.categorical:
            ce = categorical_ce(a.logp, a.g)
        else:
            ce = binary_ce(self.kept(a.logp), self.kept(a.log1mp), self.kept(a.g))
        return ce.sum(-1), *region_sums(self.kept(a.p), self.kept(a.g))

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple:
        u = self.upstream(grads)
        g = self.kept(a.g)
        dp = self.full_channels((g * u[1]).add_(u[2]))
        if a.categorical:
            return dp, -(u[0] * a.g), None
        return dp, self.full_channels(-(u[0] * g)), self.full_channels(u[0] * (g - 1))

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        ce, tp, sum_p, sum_g = sums
        dice = 1 - dice_from(tp, sum_p, sum_g, self.smooth_nr, self.smooth_dr)
        return self.lambda_dice * dice + self.lambda_ce * (ce / n_voxels)
