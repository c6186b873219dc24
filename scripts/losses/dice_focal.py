"""Dice + focal loss (Zhu et al. 2018, AnatomyNet), the focal term in the Dice term's activation mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import check_range
from ._log_probs import Activated, LogProbLoss
from ._terms import dice_from, region_sums


class DiceFocalLoss(LogProbLoss):
    """Weighted sum of the Dice loss and the focal loss, both in the same activation mode.

    Zhu W. et al., "AnatomyNet: Deep learning for fast and fully automated whole-volume segmentation of head
    and neck anatomy", Medical Physics 46(2), 2019 (arXiv 2018); focal term of Lin et al., ICCV 2017. Per
    ``(b, c)``::

        L     = lambda_dice Dice + lambda_focal Focal
        Dice  = 1 - (2 TP + smooth_nr) / (sum p + sum g + smooth_dr)
        Focal = mean_x FL(x)

    - ``sigmoid=True`` (or one channel): channel ``c`` is binary,
      ``FL = -[ g (1 - p)^gamma log p + (1 - g) p^gamma log(1 - p) ]``;
    - ``softmax=True`` (or 2+ channels of probabilities): ``FL = -(1 - p_c)^gamma g_c log p_c`` per class.

    This is what MONAI's ``DiceLoss`` + ``FocalLoss(use_softmax=softmax)`` compute (``reduction="mean"``
    averages the focal term over classes and voxels, MONAI's convention; AnatomyNet sums it over classes, a
    factor ``C`` that ``lambda_focal`` absorbs). MONAI 1.6.1's ``DiceFocalLoss`` always takes a sigmoid focal
    term, even with ``softmax=True`` (MONAI issue #8242); here it follows the Dice term. Differences from
    MONAI's ``FocalLoss``: the softmax runs over all channels before ``include_background=False`` drops
    channel 0 (as for the Dice term), and soft targets use the two-term form above.

    Numerics: logs from the logits (``logsigmoid``; ``log_softmax`` and a log-sum-exp over the other channels
    for ``log(1 - p_c)``), the modulating factor as ``exp(gamma log(1 - p))``, so value and gradient are
    finite at logits of +-1e4 and for any ``gamma >= 0``. With probabilities as input, logs of ``p`` clipped to
    ``[1e-7, 1 - 1e-7]``.

    Args:
        lambda_dice, lambda_focal: weights of the two terms, >= 0. gamma: focusing exponent, >= 0.
        Others as :class:`scripts.losses._base.ImbalanceLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = DiceFocalLoss(softmax=True, to_onehot_y=True)
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
        lambda_dice: float = 1.0,
        lambda_focal: float = 1.0,
        gamma: float = 2.0,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        self.lambda_dice = check_range("lambda_dice", lambda_dice, low=0.0)
        self.lambda_focal = check_range("lambda_focal", lambda_focal, low=0.0)
        self.gamma = check_range("gamma", gamma, low=0.0)

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        p, g, logp, log1mp = self.kept(a.p), self.kept(a.g), self.kept(a.logp), self.kept(a.log1mp)
        focal = -torch.exp(self.gamma * log1mp) * g * logp
        if not a.categorical:
            focal = focal - torch.exp(self.gamma * logp) * (1 - g) * log1mp
        return focal.sum(-1), *region_sums(p, g)

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple:
        u = self.upstream(grads)
        g, logp, log1mp = self.kept(a.g), self.kept(a.logp), self.kept(a.log1mp)
        gamma, u_focal = self.gamma, u[0]
        e1 = torch.exp(gamma * log1mp)  # (1 - p)^gamma
        if a.categorical:  # focal = -e1 g log p
            dlogp = -(u_focal * e1 * g)
            dlog1mp = dlogp * logp * gamma
        else:  # focal = -e1 g log p - e0 (1 - g) log(1 - p), e0 = p^gamma
            e0, ng = torch.exp(gamma * logp), 1 - g
            dlogp = -u_focal * (e1 * g + gamma * e0 * ng * log1mp)
            dlog1mp = -u_focal * (gamma * e1 * g * logp + e0 * ng)
        dp = torch.addcmul(u[2], u[1], g)
        return self.full_channels(dp), self.full_channels(dlogp), self.full_channels(dlog1mp)

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        focal, tp, sum_p, sum_g = sums
        dice = 1 - dice_from(tp, sum_p, sum_g, self.smooth_nr, self.smooth_dr)
        return self.lambda_dice * dice + self.lambda_focal * (focal / n_voxels)
