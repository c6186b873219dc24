"""Dice + focal loss (Zhu et al. 2018, AnatomyNet), the focal term in the Dice term's activation mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ._activation import LazyPrims, others_sum
from ._base import check_range
from ._log_probs import Activated, LogProbLoss
from ._terms import SOFTPLUS_THRESHOLD, dice_from, dot, is_binary, region_sums


def _softplus(t: torch.Tensor) -> torch.Tensor:
    return F.softplus(t, threshold=SOFTPLUS_THRESHOLD)


def _power(t: torch.Tensor, gamma: float) -> torch.Tensor:
    """``t ** gamma`` in place (``pow`` squares for 2)."""
    return t if gamma == 1 else t.pow_(gamma)


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
    ``[1e-7, 1 - 1e-7]``. The sliced passes (issue 6) compute the same values (to rounding) in fewer passes: in
    sigmoid mode from the logits (``-log p = softplus(-x)``, ``(1 - p)^gamma = sigmoid(-x)^gamma``; for a binary
    target one term per voxel, ``sigmoid(s)^gamma softplus(s)``, ``s = x (1 - 2g)``); in softmax mode with
    ``gamma >= 1``, ``(1 - p_c)^gamma`` as a power of the sum of the other probabilities (no cancellation).

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

    def fast_mode(self, a: Activated) -> str | None:
        """``"logits"`` (sigmoid logits: every term from ``x``) or ``"probs"`` (softmax with ``gamma >= 1``:
        ``1 - p_c`` as the sum of the other probabilities, no ``log(1 - p)``) for the sliced passes without
        autograd; None for the generic log-space path."""
        if not isinstance(a.prims, LazyPrims):
            return None
        if a.prims.mode == "sigmoid" and not a.categorical:
            return "logits"
        if a.prims.mode == "softmax" and a.categorical and self.gamma >= 1:
            return "probs"
        return None

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        fast = self.fast_mode(a)
        if fast == "logits":  # focal = g Q^gamma softplus(-x) + (1 - g) P^gamma softplus(x)
            x, g = self.kept(a.prims.x), self.kept(a.g)
            p, q, ng = torch.sigmoid(x), torch.sigmoid(x.neg()), torch.rsub(g, 1)
            if is_binary(g, ng):  # one term per voxel: sigmoid(s)^gamma softplus(s), s = x (1 - 2g)
                f = _power(torch.lerp(p, q, g), self.gamma).mul_(_softplus(torch.addcmul(x, x, g, value=-2)))
                return f.sum(-1), *region_sums(p, g)
            focal = dot(_power(q.clone(), self.gamma).mul_(g), _softplus(x.neg()))
            return focal.add_(dot(_power(p.clone(), self.gamma).mul_(_softplus(x)), ng)), *region_sums(p, g)
        if fast == "probs":  # focal = -(1 - p)^gamma g log p, 1 - p_c = sum_{k != c} p_k
            p, g, logp = self.kept(a.p), self.kept(a.g), self.kept(a.logp)
            e1 = _power(self.kept(others_sum(a.p)), self.gamma)
            return dot(e1.mul_(g), logp).neg_(), *region_sums(p, g)
        p, g, logp, log1mp = self.kept(a.p), self.kept(a.g), self.kept(a.logp), self.kept(a.log1mp)
        focal = -torch.exp(self.gamma * log1mp) * g * logp
        if not a.categorical:
            focal = focal - torch.exp(self.gamma * logp) * (1 - g) * log1mp
        return focal.sum(-1), *region_sums(p, g)

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple | torch.Tensor:
        u = self.upstream(grads)
        fast = self.fast_mode(a)
        if fast == "logits":
            return self.full_channels(self._logit_grad(self.kept(a.prims.x), self.kept(a.g), u))
        if fast == "probs":  # d/dp through 1 - p: gamma (1 - p)^(gamma - 1) g log p; d/dlog p: -(1 - p)^gamma g
            g, logp, gamma = self.kept(a.g), self.kept(a.logp), self.gamma
            q = self.kept(others_sum(a.p))
            ug = g * u[0]
            dp = q.pow(gamma - 1).mul_(ug).mul_(logp).mul_(gamma) if gamma != 1 else ug * logp
            dp.add_(g * u[1]).add_(u[2])
            return self.full_channels(dp), self.full_channels(ug.mul_(_power(q, gamma)).neg_()), None
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
        dp = (g * u[1]).add_(u[2])
        return self.full_channels(dp), self.full_channels(dlogp), self.full_channels(dlog1mp)

    def _logit_grad(self, x: torch.Tensor, g: torch.Tensor, u: Sequence[torch.Tensor]) -> torch.Tensor:
        """d/dx of the per-channel binary sums, ``P = sigmoid(x)``, ``Q = sigmoid(-x)``: focal
        ``u_f [(1 - g) P^gamma (gamma Q softplus(x) + P) - g Q^gamma (gamma P softplus(-x) + Q)]``, region
        ``P Q (u_TP g + u_p)``."""
        gamma, nx, ng = self.gamma, x.neg(), torch.rsub(g, 1)
        p, q = torch.sigmoid(x), torch.sigmoid(nx)
        if is_binary(g, ng):  # (1 - 2g) sigmoid(s)^gamma (gamma sigmoid(-s) softplus(s) + sigmoid(s)) u_f
            sig_s, sig_ns = torch.lerp(p, q, g), torch.lerp(q, p, g)  # lerp: exact at weights 0 and 1
            h = _softplus(torch.addcmul(x, x, g, value=-2)).mul_(sig_ns).mul_(gamma).add_(sig_s)
            bg = h.mul_(_power(sig_s, gamma)).mul_((g * u[0]).mul_(-2).add_(u[0]))
        else:
            bg = torch.addcmul(p, q, _softplus(x), value=gamma).mul_(_power(p.clone(), gamma)).mul_(ng)
            fg = torch.addcmul(q, p, _softplus(nx), value=gamma)
            bg.sub_(fg.mul_(_power(q.clone(), gamma)).mul_(g)).mul_(u[0])
        return bg.addcmul_(p.mul_(q), (g * u[1]).add_(u[2]))

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        focal, tp, sum_p, sum_g = sums
        dice = 1 - dice_from(tp, sum_p, sum_g, self.smooth_nr, self.smooth_dr)
        return self.lambda_dice * dice + self.lambda_focal * (focal / n_voxels)
