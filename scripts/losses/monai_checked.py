"""MONAI's own losses where they are already exact to their papers, behind this package's input handling.

MONAI 1.6.1's ``DiceLoss`` (Milletari et al. 2016; ``squared_pred=True`` is V-Net's squared denominator,
``jaccard=True`` the IoU loss of Rahman & Wang 2016), ``GeneralizedDiceLoss`` (Sudre et al. 2017),
``TverskyLoss`` (Salehi et al. 2017) and ``FocalLoss`` (Lin et al. 2017) compute their papers' formulas, so
the catalogue uses their formulas and configuration (each wrapper holds MONAI's module as ``monai_loss``).
For speed and memory (issue 6, ``docs/benchmarks.md``) the values are computed from this package's voxel sums,
slice by slice: the focal loss evaluates MONAI's per-voxel formula (``sigmoid_focal_loss`` /
``softmax_focal_loss``, written out in :mod:`scripts.losses._focal_terms` with a hand-written gradient: running
MONAI's module on each slice with autograd took 2-3x the time); the region losses evaluate MONAI's formula
(written out in each ``head``) on the slice-summed ``TP``, ``sum p``, ``sum g``; with ``other_act`` MONAI's
region module runs on the whole volume. The tests compare each with MONAI's own module.
The wrappers add what MONAI lacks:

- the checks of :func:`scripts.losses._base.check_input_target` (shape mismatch, labels outside ``[0, max(C, 2))``,
  non-finite input, softmax on one channel: ``ValueError`` naming the value; MONAI warns and carries on),
  and range checks on the hyper-parameters;
- float32 computation outside autocast (fp16 sums over more than 65,504 voxels overflow);
- one interface: ``sigmoid`` / ``softmax`` / ``to_onehot_y`` for every loss (MONAI's ``FocalLoss`` takes
  ``use_softmax``), the activation taken over all channels before ``include_background=False`` drops
  channel 0 (MONAI's ``FocalLoss`` drops it before its softmax);
- ``reduction="none"`` returns per ``(b, c)`` values of shape ``(B, C)`` (``(1, C)`` with ``batch=True``;
  ``(B, 1)`` / ``(1, 1)`` for the generalized Dice, which is one value per sample), like every loss here;
- no full-size probability, one-hot or product tensors: a fraction of MONAI's memory and time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.losses import DiceLoss, FocalLoss, GeneralizedDiceLoss, TverskyLoss
from torch.nn.modules.loss import _Loss

from ._activation import Prims, SliceActivation
from ._base import (
    ImbalanceLoss,
    check_activation,
    check_input_target,
    check_range,
    check_reduction,
    chunk_one_hot,
    device_type,
    reduce,
)
from ._chunked import TermsKernel, voxel_sums
from ._focal_terms import (
    per_channel,
    sigmoid_focal_grad,
    sigmoid_focal_sums,
    softmax_focal_partials,
    softmax_focal_sums,
)


def _per_sample_class(loss: torch.Tensor, n_rows: int) -> torch.Tensor:
    """MONAI's ``reduction="none"`` output (``(B, C, 1, ...)``, ``(C,)``, ...) as ``(n_rows, C)``."""
    return loss.reshape(n_rows, -1)


def _check_weights(name: str, value: float | Sequence[float] | torch.Tensor | None) -> None:
    if value is None:
        return
    try:
        values = torch.as_tensor(value, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a number or a sequence of numbers, got {value!r}.") from None
    if values.numel() == 0 or not torch.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}.")


class _MonaiRegionLoss(ImbalanceLoss):
    """A MONAI region loss: ``monai_loss`` holds its configuration.

    With ``sigmoid``/``softmax``/no activation the loss is computed from this package's slice-by-slice region
    sums (:class:`scripts.losses._base.ImbalanceLoss`) by :meth:`head`, which evaluates MONAI's formula on
    them (MONAI's module would build the full-size probability, one-hot and product tensors; the tests check
    both agree). With ``other_act`` (a callable not known to be element-wise) MONAI's module itself runs on
    the probabilities and one-hot target of the whole volume.
    """

    monai_loss: _Loss

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.other_act is None:
            return super().forward(input, target)
        with torch.autocast(device_type=device_type(input), enabled=False):
            p, g = self.prepare(input, target)
            return reduce(_per_sample_class(self.monai_loss(p, g), 1 if self.batch else p.shape[0]), self.reduction)


class CheckedDiceLoss(_MonaiRegionLoss):
    """Dice loss, MONAI's ``DiceLoss`` with checked inputs (Milletari et al. 2016, V-Net).

    Per ``(b, c)``: ``1 - (2 TP + smooth_nr) / (sum p + sum g + smooth_dr)``; ``squared_pred=True`` uses
    ``sum p^2 + sum g^2`` in the denominator (V-Net's form); ``jaccard=True`` gives the IoU loss
    ``1 - (2 TP + smooth_nr) / (2 (TP + FP + FN) + smooth_dr)`` (Rahman & Wang 2016). ``weight`` multiplies the
    per-class values (one per channel kept after ``include_background``).

    Args: as :class:`scripts.losses._base.ImbalanceLoss`, plus MONAI's ``squared_pred``, ``jaccard``, ``weight``.

    Shapes: input ``(B, C, *spatial)``, target ``(B, 1, *spatial)`` labels (``to_onehot_y=True``) or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, C)``.

    Example:
        >>> loss = CheckedDiceLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 1, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        squared_pred: bool = False,
        jaccard: bool = False,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        weight: Sequence[float] | float | torch.Tensor | None = None,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        _check_weights("weight", weight)
        self.monai_loss = DiceLoss(
            squared_pred=squared_pred,
            jaccard=jaccard,
            reduction="none",
            smooth_nr=self.smooth_nr,
            smooth_dr=self.smooth_dr,
            batch=batch,
            weight=weight,
        )

    def voxel_terms(self, p: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.monai_loss.squared_pred:  # MONAI's ord-2 terms: |p|^2, |g|^2, |p - g|^2
            return p.square().sum(-1), g.square().sum(-1), (p - g).square().sum(-1)
        return super().voxel_terms(p, g)

    def voxel_partials(self, p: torch.Tensor, g: torch.Tensor, grads: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.monai_loss.squared_pred:  # d/dp of |p|^2 and |p - g|^2
            u_pp, u_diff = grads[0].unsqueeze(-1), grads[2].unsqueeze(-1)
            return (u_pp * p).add_(u_diff * (p - g)).mul_(2)
        return super().voxel_partials(p, g, grads)

    def head(self, sums: Sequence[torch.Tensor], n_voxels: int) -> torch.Tensor:
        """MONAI's ``DiceLoss`` formula (``monai.losses.utils.compute_tp_fp_fn``, decoupled) on the sums."""
        if self.monai_loss.squared_pred:
            pred_o, ground_o, difference = sums
            tp = (pred_o + ground_o - difference) / 2
            fp, fn = pred_o - tp, ground_o - tp
        else:
            tp, sum_p, sum_g = sums
            fp, fn = sum_p - tp, sum_g - tp
        if not self.monai_loss.jaccard:
            fp, fn = 0.5 * fp, 0.5 * fn
        f = 1 - (2 * tp + self.smooth_nr) / (2 * (tp + fp + fn) + self.smooth_dr)
        class_weight = self.monai_loss.class_weight
        n_classes = f.shape[1]
        if class_weight is not None and n_classes != 1:
            if class_weight.ndim > 0 and class_weight.shape[0] != n_classes:
                raise ValueError(
                    "The length of the `weight` sequence should be the same as the number of classes. "
                    "If `include_background=False`, the weight should not include the background category class 0."
                )
            f = f * class_weight.to(f)
        return f


class CheckedGeneralizedDiceLoss(_MonaiRegionLoss):
    """Generalized Dice loss, MONAI's ``GeneralizedDiceLoss`` with checked inputs (Sudre et al. 2017).

    Per sample (or over the batch with ``batch=True``):
    ``1 - (2 sum_c w_c TP_c + smooth_nr) / (sum_c w_c (sum p_c + sum g_c) + smooth_dr)`` with
    ``w_c = 1 / (sum g_c)^2`` (``w_type="square"``, the paper's; ``"simple"``: ``1 / sum g_c``; ``"uniform"``: 1).
    An absent class has an infinite weight; MONAI replaces it with the largest finite weight of the sample.

    Shapes: as :class:`CheckedDiceLoss`, but ``reduction="none"`` gives ``(B, 1)`` (``(1, 1)`` with
    ``batch=True``): the classes are summed inside the ratio.
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        w_type: str = "square",
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        if w_type not in ("square", "simple", "uniform"):
            raise ValueError(f"w_type must be one of ('square', 'simple', 'uniform'), got {w_type!r}.")
        self.monai_loss = GeneralizedDiceLoss(
            w_type=w_type, reduction="none", smooth_nr=self.smooth_nr, smooth_dr=self.smooth_dr, batch=batch
        )

    def head(self, sums: Sequence[torch.Tensor], n_voxels: int) -> torch.Tensor:
        """MONAI's ``GeneralizedDiceLoss`` formula on the sums (one row per sample, or one pooled row)."""
        tp, sum_p, sum_g = sums
        fp, fn = 0.5 * (sum_p - tp), 0.5 * (sum_g - tp)
        denominator = 2 * (tp + fp + fn)
        w = self.monai_loss.w_func(sum_g.float())
        infs = torch.isinf(w)
        w = torch.where(infs, torch.zeros_like(w), w)
        w = w + infs * w.max(dim=1, keepdim=True).values
        numer = 2.0 * (tp * w).sum(1, keepdim=True) + self.smooth_nr
        denom = (denominator * w).sum(1, keepdim=True) + self.smooth_dr
        return 1.0 - numer / denom


class CheckedTverskyLoss(_MonaiRegionLoss):
    """Tversky loss, MONAI's ``TverskyLoss`` with checked inputs (Salehi et al. 2017).

    Per ``(b, c)``: ``1 - (TP + smooth_nr) / (TP + alpha FP + beta FN + smooth_dr)``; ``alpha`` weights false
    positives, ``beta`` false negatives. The paper's choice is alpha=0.3, beta=0.7 (the catalogue's ``tversky``
    default); MONAI's class default 0.5/0.5 is the Dice loss, kept here so that the class alone stays MONAI's.

    Shapes: as :class:`CheckedDiceLoss`.
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
        self.alpha = check_range("alpha", alpha, low=0.0)
        self.beta = check_range("beta", beta, low=0.0)
        if self.alpha + self.beta == 0:
            raise ValueError("alpha + beta must be > 0 (both 0 makes the Tversky index 1 for any prediction).")
        self.monai_loss = TverskyLoss(
            alpha=self.alpha,
            beta=self.beta,
            reduction="none",
            smooth_nr=self.smooth_nr,
            smooth_dr=self.smooth_dr,
            batch=batch,
        )

    def head(self, sums: Sequence[torch.Tensor], n_voxels: int) -> torch.Tensor:
        """MONAI's ``TverskyLoss`` formula on the sums (``FP = sum p - TP``, ``FN = sum g - TP``)."""
        tp, sum_p, sum_g = sums
        fp, fn = self.alpha * (sum_p - tp), self.beta * (sum_g - tp)
        return 1.0 - (tp + self.smooth_nr) / (tp + fp + fn + self.smooth_dr)


class CheckedFocalLoss(_Loss):
    """Focal loss, MONAI's ``FocalLoss`` on logits with checked inputs (Lin et al. 2017).

    Per voxel and channel: ``-alpha_t (1 - p_t)^gamma log p_t``. ``sigmoid=True``: each channel is a binary
    problem, ``alpha_t = alpha`` on positives and ``1 - alpha`` on negatives (Lin's definition, gamma=2,
    alpha=0.25). ``softmax=True``: ``p_t`` is the softmax probability of the true class; a scalar ``alpha``
    weights channel 0 (background) by ``1 - alpha`` and every other channel by ``alpha`` (MONAI's multi-class
    form). A sequence ``alpha`` gives per-channel weights (on positives only in sigmoid mode, as MONAI).
    ``weight`` (scalar or per channel) multiplies the per-channel loss.

    Differs from calling MONAI directly: ``sigmoid``/``softmax`` instead of ``use_softmax`` (one of them is
    required: the loss needs logits); the softmax runs over all channels before ``include_background=False``
    drops channel 0 (MONAI drops it first and then ignores a scalar alpha); ``alpha``/``weight`` sequences
    have one entry per channel kept; ``reduction="none"`` gives the spatial mean per ``(b, c)``, shape
    ``(B, C)``, so that ``"mean"`` and ``"sum"`` (MONAI's sum of per-(b, c) spatial means) reduce it.

    Computed as MONAI's formulas (:mod:`scripts.losses._focal_terms`, the same values to float rounding) slice
    by slice with a hand-written gradient, in float32 (float64 for float64 input, where MONAI casts to float32);
    ``monai_loss`` holds MONAI's module of the same configuration.

    Example:
        >>> loss = CheckedFocalLoss(sigmoid=True, gamma=2.0, alpha=0.25)
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        weight: Sequence[float] | float | torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=check_reduction(str(reduction)))
        check_activation(sigmoid, softmax, None)
        if not (sigmoid or softmax):
            raise ValueError("focal loss takes logits: set sigmoid=True (multi-label) or softmax=True (multi-class).")
        self.include_background = include_background
        self.to_onehot_y = to_onehot_y
        self.sigmoid = sigmoid
        self.softmax = softmax
        self.gamma = check_range("gamma", gamma, low=0.0)
        if alpha is not None:
            if isinstance(alpha, (int, float)):
                check_range("alpha", alpha, low=0.0, high=1.0)
            else:
                for a in alpha:
                    check_range("alpha (each entry)", a, low=0.0, high=1.0)
        self.alpha = alpha
        _check_weights("weight", weight)
        self.register_buffer("class_weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32))
        self.class_weight: torch.Tensor | None
        per_channel_alpha = alpha is not None and not isinstance(alpha, (int, float))
        # with a per-channel alpha MONAI's loss is built per call, once the channel count is known
        self.monai_loss = (
            None
            if per_channel_alpha
            else FocalLoss(gamma=self.gamma, alpha=alpha, reduction="none", use_softmax=softmax)
        )

    def _monai(self, n_channels: int) -> FocalLoss:
        """MONAI's loss on all channels; a per-channel ``alpha`` given for the kept channels gets a (dropped)
        background entry so that MONAI sees one per channel."""
        if self.monai_loss is not None:
            return self.monai_loss
        alpha = [float(a) for a in self.alpha]
        n_kept = n_channels - (0 if self.include_background else 1)
        if len(alpha) != n_kept:
            raise ValueError(f"alpha has {len(alpha)} entries but the loss sees {n_kept} channel(s).")
        if not self.include_background:
            alpha = [0.0, *alpha]
        return FocalLoss(gamma=self.gamma, alpha=alpha, reduction="none", use_softmax=self.softmax)

    def _alpha(self, n_channels: int) -> float | list[float] | None:
        """``alpha`` for all ``n_channels`` (MONAI's check of a per-channel alpha's length); a per-channel alpha
        given for the kept channels gets a (dropped) background entry."""
        self._monai(n_channels)
        if self.alpha is None or isinstance(self.alpha, (int, float)):
            return self.alpha
        alpha = [float(a) for a in self.alpha]
        return alpha if self.include_background else [0.0, *alpha]

    def _kernel(self, n_channels: int, alpha: float | list[float] | None) -> TermsKernel:
        """The slice kernel of MONAI's focal formula (:mod:`scripts.losses._focal_terms`): sums of the focal
        terms per ``(b, c)``, without ``-alpha_c`` in softmax mode (applied to the sums by :meth:`forward`)."""
        gamma, onehot = self.gamma, self.to_onehot_y and n_channels > 1

        def target_of(like: torch.Tensor, tc: torch.Tensor) -> torch.Tensor:
            return chunk_one_hot(tc, n_channels, like.dtype) if onehot else tc.to(like.dtype)

        if self.softmax:
            activation = SliceActivation("softmax", logs=True, complement=False, probs=gamma != 0)

            def make(prims: Prims, tc: torch.Tensor) -> tuple:
                return prims, target_of(prims.logp, tc)

            def terms(made: tuple) -> tuple[torch.Tensor]:
                prims, t = made
                return softmax_focal_sums(prims.p if gamma != 0 else None, prims.logp, t, gamma)

            def partials(made: tuple, grads: Sequence[torch.Tensor]) -> tuple:
                prims, t = made
                dp, dlogp = softmax_focal_partials(prims.p, prims.logp, t, gamma, grads[0].unsqueeze(-1))
                return dp, dlogp, None

            return TermsKernel(activation, make, terms, partials)

        # sigmoid: the kernel reads the logits themselves (activation "none") and returns d/dx
        def make_logits(prims: Prims, tc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, object]:
            x = prims.p
            a = per_channel(alpha, x) if isinstance(alpha, list) else alpha
            return x, target_of(x, tc), a

        def logit_terms(made: tuple) -> tuple[torch.Tensor]:
            x, t, a = made
            return sigmoid_focal_sums(x, t, gamma, a)

        def logit_partials(made: tuple, grads: Sequence[torch.Tensor]) -> tuple:
            x, t, a = made
            return sigmoid_focal_grad(x, t, gamma, a, grads[0].unsqueeze(-1)), None, None

        return TermsKernel(SliceActivation("none"), make_logits, logit_terms, logit_partials)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=device_type(input), enabled=False):
            check_input_target(input, target, to_onehot_y=self.to_onehot_y, softmax=self.softmax)
            n_channels = input.shape[1]
            alpha = self._alpha(n_channels)
            (loss,) = voxel_sums(self._kernel(n_channels, alpha), input, target)
            loss = loss / input[0, 0].numel()
            if self.softmax:  # FL_c = -alpha_c (1 - p_c)^gamma t_c log p_c: -alpha_c on the sums
                if alpha is None:
                    loss = -loss
                else:
                    alpha = alpha if isinstance(alpha, list) else [1 - alpha] + [alpha] * (n_channels - 1)
                    loss = loss * -per_channel(alpha, loss)[..., 0]
            if not self.include_background:
                if n_channels == 1:
                    raise ValueError("include_background=False needs at least 2 channels; input has 1.")
                loss = loss[:, 1:]
            if self.class_weight is not None:
                w = self.class_weight.to(loss).flatten()
                if w.numel() not in (1, loss.shape[1]):
                    raise ValueError(f"weight has {w.numel()} entries but the loss sees {loss.shape[1]} channel(s).")
                loss = loss * w
            return reduce(loss, self.reduction)
