"""The Unified Focal loss family (Yeung, Sala, Schönlieb, Rundo 2022): focal, focal Tversky and unified losses,
each in a symmetric and an asymmetric variant.

Yeung M., Sala E., Schönlieb C.-B., Rundo L., "Unified Focal loss: Generalising Dice and cross entropy-based
losses to handle class imbalanced medical image segmentation", Computerized Medical Imaging and Graphics 95,
2022, 102026. Reference code: github.com/mlyg/unified-focal-loss (Keras, binary). Notation: ``p`` clipped to
``[1e-7, 1 - 1e-7]``, ``g`` one-hot, channel 0 the background, ``c >= 1`` the rare classes::

    mTI_c = (TP_c + 1e-7) / (TP_c + delta FN_c + (1 - delta) FP_c + 1e-7)        (delta weights false negatives)

    focal part, per voxel summed over classes, then the mean over voxels (and batch):
        background              (1 - delta) (1 - p_0)^gamma (-g_0 log p_0)
        rare, symmetric         delta (1 - p_c)^gamma (-g_c log p_c)
        rare, asymmetric        delta (-g_c log p_c)                     (no suppression of the rare classes)

    focal Tversky part, mean over batch and classes:
        background, symmetric   (1 - mTI_0)^(1 - gamma)
        background, asymmetric  1 - mTI_0                                (no enhancement of the background)
        rare                    (1 - mTI_c)^(1 - gamma)

    unified = weight * focal part + (1 - weight) * focal Tversky part

Decisions where the paper, its code and other implementations disagree:

- ``weight`` (lambda) multiplies the focal part, as the paper's printed equation does; its Figure 1 and the
  reference code put it on the focal Tversky part (identical at the default 0.5; asked in the authors'
  repository, issue 23, unanswered). MONAI does the same as here.
- The printed asymmetric focal Tversky equation sums the two class terms; the reference code averages them
  (issue 22). We average, as the code does.
- The printed asymmetric focal equation has a typo in its background log term, confirmed by the first author
  (issue 19); the code, followed here, is right.
- The reference code indexes channels as ``[:, :, :, k]``, wrong for 3D volumes; the 3D results here come from
  the formula. Defaults of the parts are the reference code's (focal: delta=0.7, gamma=2; focal Tversky:
  delta=0.7, gamma=0.75); the unified losses' are the paper's (weight=0.5, delta=0.6, gamma=0.5).
- In the focal Tversky part ``gamma`` enters as the exponent ``1 - gamma`` (in Abraham & Khan's focal Tversky
  loss gamma itself is the exponent).

Modes: ``softmax=True`` (or 2+ channels of probabilities without activation): the background is suppressed,
every other class enhanced; with two channels this is the binary reference code exactly.
``sigmoid=True`` (or one channel): each channel ``c`` is its own binary problem ``[1 - p_c, p_c]`` against
``[1 - g_c, g_c]`` (e.g. BraTS regions TC/WT/ET), and the loss is the mean over channels; one sigmoid channel
equals the two-channel reference on ``[1 - p, p]``.

Numerics: computed in float32 (float64 input stays float64) outside autocast; ``log p`` and ``log(1 - p)``
come from the logits and are clipped in log space to ``[log 1e-7, log(1 - 1e-7)]`` (the reference's clip of
``p``, exact near the bounds); ``P = exp(clip log p)``, ``Q = exp(clip log(1 - p))``, ``(1 - p)^gamma`` is
``exp(gamma log Q)``; ``1 - mTI`` is computed from FN and FP without cancellation and floored at the smallest
normal float before the power ``1 - gamma`` (finite gradient at mTI = 1).

Empty classes: with the reference's smoothing of 1e-7, an empty class predicted empty still has
``FP >= 1e-7 N`` from the clipped probabilities (``N`` voxels), so ``mTI = 1 / (1 + (1 - delta) N)`` and its
focal Tversky term is close to 1, as in the reference code. ``smooth_nr = smooth_dr = 1`` makes it close to 0.

Shapes: input ``(B, C, *spatial)`` logits (probabilities without activation); target ``(B, 1, *spatial)``
labels with ``to_onehot_y=True`` or ``(B, C, *spatial)`` values in [0, 1]. ``reduction="none"`` returns a
tensor that broadcasts against ``(B, C)``; each class documents its exact shape.

MONAI 1.6.1's ``AsymmetricUnifiedFocalLoss`` is not a reference: it applies no activation, ignores channels
beyond the second, defaults delta to 0.7, and its focal term is half the reference's (it averages the two
class terms instead of summing them).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._base import PROB_CLIP, SegmentationLoss, pow_floored
from ._checks import check_range

LOG_CLIP = (math.log(PROB_CLIP), math.log1p(-PROB_CLIP))

# A member of a binary or categorical problem: its clipped log-probability, the log of its complement, its target.
Member = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class _UnifiedFocalFamily(SegmentationLoss):
    """The family's shared formulas. ``focal_weight``: the weight of the focal part (1: focal loss only; 0: focal
    Tversky only; ``weight``: the unified loss)."""

    symmetric: bool
    categorical_keeps_background = True

    def __init__(
        self,
        common: tuple,
        delta: float,
        gamma: float,
        focal_weight: float,
        gamma_high: float | None,
        smooth_nr: float = 1e-7,
        smooth_dr: float = 1e-7,
        batch: bool = False,
        compile: bool = True,
    ) -> None:
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.delta = check_range("delta", delta, low=0.0, high=1.0)
        self.gamma = check_range("gamma", gamma, low=0.0, high=gamma_high)
        self.focal_weight = focal_weight

    def members(self, input: torch.Tensor, target: torch.Tensor) -> tuple[Member, Member]:
        """``(background member, rare member)``. Categorical: channel 0 and channels 1..C-1. Per-channel binary:
        ``[1 - p_c]`` against ``1 - g_c`` and ``[p_c]`` against ``g_c``, for every kept channel."""
        log_p = self.log_probabilities(input).clamp(*LOG_CLIP)
        log_q = self.log_complements(input).clamp(*LOG_CLIP)
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        if self.categorical(input.shape[1]):
            return (log_p[:, :1], log_q[:, :1], g[:, :1]), (log_p[:, 1:], log_q[:, 1:], g[:, 1:])
        log_p, log_q, g = self.kept(log_p), self.kept(log_q), self.kept(g)
        return (log_q, log_p, 1 - g), (log_p, log_q, g)

    def focal_part(self, background: Member, rare: Member, categorical: bool) -> torch.Tensor:
        """Mean over voxels of ``(1-delta) (1-p_0)^gamma (-g_0 log p_0) + delta [(1-p_c)^gamma] (-g_c log p_c)``:
        per sample ``(B, 1)`` (categorical, the rare classes summed) or per ``(b, c)``."""
        log_p, log_q, g = background
        bg = (1 - self.delta) * torch.exp(self.gamma * log_q) * (-g * log_p)
        log_p, log_q, g = rare
        fg = self.delta * (-g * log_p)
        if self.symmetric:
            fg = fg * torch.exp(self.gamma * log_q)
        per_voxel = bg + fg.sum(1, keepdim=True) if categorical else bg + fg
        return self.voxel_sum(per_voxel) / self.voxel_count(per_voxel)

    def one_minus_mti(self, member: Member) -> torch.Tensor:
        """``1 - mTI`` per ``(b, c)``, ``mTI = (TP + s_nr) / (TP + delta FN + (1 - delta) FP + s_dr)``, written as
        ``(delta FN + (1 - delta) FP + s_dr - s_nr) / (TP + delta FN + (1 - delta) FP + s_dr)``: no cancellation
        hides a small base from the power ``1 - gamma``."""
        log_p, log_q, g = member
        p, q = torch.exp(log_p), torch.exp(log_q)
        tp, fn, fp = self.voxel_sum(g * p), self.voxel_sum(g * q), self.voxel_sum((1 - g) * p)
        err = self.delta * fn + (1 - self.delta) * fp
        return (err + (self.smooth_dr - self.smooth_nr)).clamp_min(0) / (tp + err + self.smooth_dr)

    def focal_tversky_part(self, background: Member, rare: Member, categorical: bool) -> torch.Tensor:
        """Per ``(b, c)``: background ``(1 - mTI_0)^(1 - gamma)`` (``1 - mTI_0`` when asymmetric), rare classes
        ``(1 - mTI_c)^(1 - gamma)``; per-channel binary: the mean of the channel's two members."""
        bg = self.one_minus_mti(background)
        if self.symmetric:
            bg = pow_floored(bg, 1 - self.gamma)
        fg = pow_floored(self.one_minus_mti(rare), 1 - self.gamma)
        return torch.cat([bg, fg], 1) if categorical else (bg + fg) / 2

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        categorical = self.categorical(input.shape[1])
        background, rare = self.members(input, target)
        if self.focal_weight == 1:
            return self.focal_part(background, rare, categorical)
        tversky = self.focal_tversky_part(background, rare, categorical)
        if self.focal_weight == 0:
            return tversky
        focal = self.focal_part(background, rare, categorical)
        return self.focal_weight * focal + (1 - self.focal_weight) * tversky


class _FocalPart(_UnifiedFocalFamily):
    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        delta: float = 0.7,
        gamma: float = 2.0,
        reduction: str = "mean",
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(common, delta, gamma, 1.0, None, compile=compile)


class SymmetricFocalLoss(_FocalPart):
    """Symmetric focal loss of the family (Yeung et al. 2022), every class suppressed: per voxel
    ``(1 - delta) (1 - p_0)^gamma (-g_0 log p_0) + sum_{c>=1} delta (1 - p_c)^gamma (-g_c log p_c)``, mean over
    voxels. ``delta`` (in [0, 1], default 0.7) weights the rare classes, ``gamma`` (>= 0, default 2) focuses.
    ``include_background=False`` only in sigmoid mode. ``reduction="none"``: ``(B, 1)`` categorical, ``(B, C)``
    sigmoid.

    Example:
        >>> loss = SymmetricFocalLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 2, 8, 8), torch.randint(0, 2, (2, 1, 8, 8))).shape
        torch.Size([])
    """

    symmetric = True


class AsymmetricFocalLoss(_FocalPart):
    """Asymmetric focal loss of the family (Yeung et al. 2022), only the background suppressed: per voxel
    ``(1 - delta) (1 - p_0)^gamma (-g_0 log p_0) + sum_{c>=1} delta (-g_c log p_c)``, mean over voxels. Arguments
    and shapes as :class:`SymmetricFocalLoss`.

    Example:
        >>> AsymmetricFocalLoss(sigmoid=True)(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8))).shape
        torch.Size([])
    """

    symmetric = False


class _FocalTverskyPart(_UnifiedFocalFamily):
    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        delta: float = 0.7,
        gamma: float = 0.75,
        reduction: str = "mean",
        smooth_nr: float = 1e-7,
        smooth_dr: float = 1e-7,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(common, delta, gamma, 0.0, 1.0, smooth_nr, smooth_dr, batch, compile)


class SymmetricFocalTverskyLoss(_FocalTverskyPart):
    """Symmetric focal Tversky loss of the family (Yeung et al. 2022), every class enhanced: per ``(b, c)``
    ``(1 - mTI_c)^(1 - gamma)``, ``mTI = (TP + smooth_nr) / (TP + delta FN + (1 - delta) FP + smooth_dr)``, mean
    over classes and batch. ``delta`` (in [0, 1], default 0.7) weights false negatives, ``gamma`` (in [0, 1],
    default 0.75) enters as the exponent ``1 - gamma``; smoothing 1e-7 as the reference code; ``batch=True``
    pools TP / FN / FP over the batch. ``reduction="none"``: ``(B, C)`` (``(1, C)`` with ``batch=True``; in sigmoid
    mode each entry the mean of the channel's two members).

    Example:
        >>> loss = SymmetricFocalTverskyLoss(softmax=True, to_onehot_y=True, reduction="none")
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 1, 8, 8))).shape
        torch.Size([2, 3])
    """

    symmetric = True


class AsymmetricFocalTverskyLoss(_FocalTverskyPart):
    """Asymmetric focal Tversky loss of the family (Yeung et al. 2022), only rare classes enhanced: background
    ``1 - mTI_0``, rare classes ``(1 - mTI_c)^(1 - gamma)``, averaged as the reference code (the printed equation
    sums them, issue 22). Arguments and shapes as :class:`SymmetricFocalTverskyLoss`.

    Example:
        >>> AsymmetricFocalTverskyLoss(sigmoid=True)(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8))).shape
        torch.Size([])
    """

    symmetric = False


class _Unified(_UnifiedFocalFamily):
    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        weight: float = 0.5,
        delta: float = 0.6,
        gamma: float = 0.5,
        reduction: str = "mean",
        smooth_nr: float = 1e-7,
        smooth_dr: float = 1e-7,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        weight = check_range("weight", weight, low=0.0, high=1.0)
        super().__init__(common, delta, gamma, weight, 1.0, smooth_nr, smooth_dr, batch, compile)
        self.weight = weight


class SymmetricUnifiedFocalLoss(_Unified):
    """Symmetric Unified Focal loss (Yeung et al. 2022):
    ``weight * SymmetricFocal(delta, gamma) + (1 - weight) * SymmetricFocalTversky(delta, gamma)``, ``weight`` on
    the focal part as the printed equation (the reference code puts it on the Tversky part; identical at 0.5).
    Defaults weight=0.5, delta=0.6, gamma=0.5 (all in [0, 1]); smoothing and ``batch`` of the Tversky part
    (``batch=True`` also averages the focal part over the batch). ``reduction="none"``: ``(B, C)`` (``(1, C)``
    with ``batch=True``), the per-sample categorical focal part broadcast over the classes.

    Example:
        >>> loss = SymmetricUnifiedFocalLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    symmetric = True


class AsymmetricUnifiedFocalLoss(_Unified):
    """Asymmetric Unified Focal loss (Yeung et al. 2022):
    ``weight * AsymmetricFocal(delta, gamma) + (1 - weight) * AsymmetricFocalTversky(delta, gamma)``: background
    suppressed, rare classes enhanced. Arguments and shapes as :class:`SymmetricUnifiedFocalLoss`; how MONAI
    1.6.1's class of the same name differs: the module docstring.

    Example:
        >>> loss = AsymmetricUnifiedFocalLoss(sigmoid=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 2, (2, 3, 8, 8, 8))).shape
        torch.Size([])
    """

    symmetric = False
