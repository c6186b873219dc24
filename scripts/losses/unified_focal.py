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
come from the logits and are clipped in log space (the same clip as the reference, exact near the bounds);
``(1 - p)^gamma`` is ``exp(gamma log(1 - p))``; ``1 - mTI`` is computed from FN and FP without cancellation and
floored at the smallest normal float before the power ``1 - gamma`` (finite gradient at mTI = 1). The sliced
passes (issue 6) compute the same values to rounding in fewer passes: from the clipped logits in sigmoid mode
(``scripts/losses/_unified_focal_logits.py``), from the softmax probabilities, with ``1 - p_c`` as the sum of
the other probabilities, in softmax mode (``scripts/losses/_unified_focal_softmax.py``).

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

from collections.abc import Callable, Sequence

import torch

from ._base import check_range
from ._log_probs import Activated, LogProbLoss
from ._unified_focal_terms import UnifiedConfig, focal_tversky_part, member_sums, unified_partials, unified_terms


class _UnifiedFocalFamily(LogProbLoss):
    """Shared by the family: the background cannot be dropped in categorical mode; voxel sums and their
    hand-written gradients from :mod:`scripts.losses._unified_focal_terms`."""

    symmetric: bool
    focal_part = True
    tversky_part = True

    def __init__(
        self,
        include_background: bool,
        to_onehot_y: bool,
        sigmoid: bool,
        softmax: bool,
        other_act: Callable | None,
        reduction: str,
        smooth_nr: float = 1e-7,
        smooth_dr: float = 1e-7,
        batch: bool = False,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        if softmax:
            self.check_categorical_background(True)

    def check_mode(self, categorical: bool) -> None:
        self.check_categorical_background(categorical)

    def needs_probs(self, categorical: bool) -> bool:
        return False

    def config(self) -> UnifiedConfig:
        args = (self.delta, self.gamma, self.symmetric, self.focal_part, self.tversky_part, self.kept)
        # labels: focal terms at each voxel's class only (measured faster for the symmetric variants only)
        return UnifiedConfig(*args, one_hot=self.to_onehot_y and self.symmetric)

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        return unified_terms(a, self.config())

    def activated_partials(
        self, a: Activated, grads: Sequence[torch.Tensor]
    ) -> tuple[None, torch.Tensor, torch.Tensor]:
        return unified_partials(a, self.config(), grads)

    def tversky(self, sums: Sequence[torch.Tensor], categorical: bool) -> torch.Tensor:
        bg, fg = member_sums(sums, categorical)
        args = (self.delta, self.gamma, self.symmetric, categorical, self.smooth_nr, self.smooth_dr)
        return focal_tversky_part(bg, fg, *args)


class _FocalPart(_UnifiedFocalFamily):
    tversky_part = False

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
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        self.delta = check_range("delta", delta, low=0.0, high=1.0)
        self.gamma = check_range("gamma", gamma, low=0.0)

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        return sums[0] / n_voxels


class SymmetricFocalLoss(_FocalPart):
    """Symmetric focal loss of the Unified Focal family (Yeung et al. 2022): every class suppressed.

    Per voxel ``(1 - delta) (1 - p_0)^gamma (-g_0 log p_0) + sum_{c>=1} delta (1 - p_c)^gamma (-g_c log p_c)``,
    mean over voxels; see the module docstring for conventions and modes.

    Args:
        delta: weight of the rare classes (the background gets ``1 - delta``), in [0, 1]; default 0.7.
        gamma: focusing exponent, >= 0; default 2. Others as :class:`scripts.losses._base.ImbalanceLoss`
        (``include_background=False`` only in sigmoid mode, where it drops channel 0).

    Shapes: as in the module docstring. ``reduction="none"``: ``(B, 1)`` per sample (categorical), ``(B, C)``
    per sample and channel (sigmoid).

    Example:
        >>> loss = SymmetricFocalLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 2, 8, 8), torch.randint(0, 2, (2, 1, 8, 8))).shape
        torch.Size([])
    """

    symmetric = True


class AsymmetricFocalLoss(_FocalPart):
    """Asymmetric focal loss of the Unified Focal family (Yeung et al. 2022): only the background suppressed.

    Per voxel ``(1 - delta) (1 - p_0)^gamma (-g_0 log p_0) + sum_{c>=1} delta (-g_c log p_c)``, mean over
    voxels; see the module docstring for conventions and modes.

    Args: as :class:`SymmetricFocalLoss` (delta=0.7, gamma=2).

    Shapes: as in the module docstring. ``reduction="none"``: ``(B, 1)`` per sample (categorical), ``(B, C)``
    per sample and channel (sigmoid).

    Example:
        >>> loss = AsymmetricFocalLoss(sigmoid=True)
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8))).shape
        torch.Size([])
    """

    symmetric = False


class _FocalTverskyPart(_UnifiedFocalFamily):
    focal_part = False

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
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        self.delta = check_range("delta", delta, low=0.0, high=1.0)
        self.gamma = check_range("gamma", gamma, low=0.0, high=1.0)

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        return self.tversky(sums, categorical)


class SymmetricFocalTverskyLoss(_FocalTverskyPart):
    """Symmetric focal Tversky loss of the Unified Focal family (Yeung et al. 2022): every class enhanced.

    Per (b, c): ``(1 - mTI_c)^(1 - gamma)`` for every class, mean over classes (and batch);
    ``mTI = (TP + smooth_nr) / (TP + delta FN + (1 - delta) FP + smooth_dr)``; see the module docstring.

    Args:
        delta: weight of false negatives (false positives get ``1 - delta``), in [0, 1]; default 0.7.
        gamma: enhancement parameter in [0, 1], the exponent is ``1 - gamma``; default 0.75.
        smooth_nr, smooth_dr: default 1e-7, the reference code's epsilon. ``batch=True`` pools TP/FN/FP over the
        batch. Others as :class:`SymmetricFocalLoss`.

    Shapes: as in the module docstring. ``reduction="none"``: ``(B, C)`` (``(1, C)`` with ``batch=True``); in
    sigmoid mode each entry is the mean of the channel's background and foreground terms.

    Example:
        >>> loss = SymmetricFocalTverskyLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 1, 8, 8))).shape
        torch.Size([])
    """

    symmetric = True


class AsymmetricFocalTverskyLoss(_FocalTverskyPart):
    """Asymmetric focal Tversky loss of the Unified Focal family (Yeung et al. 2022): only rare classes enhanced.

    Per (b, c): background ``1 - mTI_0``, rare classes ``(1 - mTI_c)^(1 - gamma)``, mean over classes (and
    batch), as the reference code (the printed equation sums the two terms, issue 22).

    Args: as :class:`SymmetricFocalTverskyLoss` (delta=0.7, gamma=0.75).

    Shapes: as in the module docstring. ``reduction="none"``: ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = AsymmetricFocalTverskyLoss(sigmoid=True)
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8))).shape
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
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, smooth_nr, smooth_dr, batch
        )
        self.weight = check_range("weight", weight, low=0.0, high=1.0)
        self.delta = check_range("delta", delta, low=0.0, high=1.0)
        self.gamma = check_range("gamma", gamma, low=0.0, high=1.0)

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        focal = sums[0] / n_voxels
        return self.weight * focal + (1 - self.weight) * self.tversky(sums[1:], categorical)


class SymmetricUnifiedFocalLoss(_Unified):
    """Symmetric Unified Focal loss (Yeung et al. 2022)::

        L = weight * SymmetricFocal(delta, gamma) + (1 - weight) * SymmetricFocalTversky(delta, gamma)

    ``weight`` on the focal part as the paper's printed equation (the reference code puts it on the Tversky
    part; identical at 0.5). See the module docstring for conventions and modes.

    Args:
        weight: lambda, in [0, 1]; default 0.5. delta: in [0, 1]; default 0.6. gamma: in [0, 1]; default 0.5
        (the focal exponent, and ``1 - gamma`` the focal Tversky exponent). smooth_nr, smooth_dr, batch: of the
        focal Tversky part (``batch=True`` also averages the focal part over the batch).

    Shapes: as in the module docstring. ``reduction="none"``: ``(B, C)`` (``(1, C)`` with ``batch=True``),
    ``weight F + (1 - weight) T_{b,c}`` where in categorical mode the per-sample focal part ``F_b`` is broadcast
    over the classes, so that the mean over ``(b, c)`` is the loss; in sigmoid mode each entry is channel
    ``c``'s binary loss.

    Example:
        >>> loss = SymmetricUnifiedFocalLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    symmetric = True


class AsymmetricUnifiedFocalLoss(_Unified):
    """Asymmetric Unified Focal loss (Yeung et al. 2022)::

        L = weight * AsymmetricFocal(delta, gamma) + (1 - weight) * AsymmetricFocalTversky(delta, gamma)

    Background suppressed (focal modulation) and rare classes enhanced (focal Tversky power), defaults
    weight=0.5, delta=0.6, gamma=0.5. See :class:`SymmetricUnifiedFocalLoss` for arguments and the module
    docstring for conventions, modes and how MONAI 1.6.1's class of the same name differs.

    Shapes: as in the module docstring. ``reduction="none"``: as :class:`SymmetricUnifiedFocalLoss`.

    Example:
        >>> loss = AsymmetricUnifiedFocalLoss(sigmoid=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 2, (2, 3, 8, 8, 8))).shape
        torch.Size([])
    """

    symmetric = False
