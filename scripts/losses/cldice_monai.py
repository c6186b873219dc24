"""Drop-ins for MONAI's ``SoftclDiceLoss`` and ``SoftDiceclDiceLoss`` (MONAI 1.6.1's names, signatures and defaults)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from .cldice import ClDiceLoss, soft_skeleton
from .dice import DiceLoss


def _renamed(input, target, y_pred, y_true, owner: str) -> tuple:
    """The 1.4 keyword names ``y_pred`` / ``y_true``, which MONAI 1.6.1 declares deprecated (to be removed in 1.8)
    but whose call fails there with ``TypeError: missing a required argument: 'input'``; accepted here, with a
    warning, so that MONAI 1.5's own test (which uses them) runs unchanged."""
    if y_pred is not None or y_true is not None:
        warnings.warn(
            f"{owner}: y_pred / y_true are deprecated (as MONAI's, since 1.5): use input / target.",
            FutureWarning,
            stacklevel=3,
        )
    return (y_pred if input is None else input), (y_true if target is None else target)


class SoftclDiceLoss(ClDiceLoss):
    """MONAI's ``SoftclDiceLoss`` (MONAI 1.6.1): soft clDice (Shit et al., CVPR 2021) per **image**, summed over
    the kept channels and the voxels at once, with MONAI's defaults: ``iter_=3`` skeleton iterations (the
    catalogue's ``cldice`` follows the authors' code: 10) and the harmonic mean with ``smooth`` in its
    denominator::

        Tprec = (sum_{c,x} S(p) g + smooth_nr) / (sum_{c,x} S(p) + smooth_dr)
        Tsens = (sum_{c,x} S(g) p + smooth_nr) / (sum_{c,x} S(g) + smooth_dr)
        loss_b = 1 - 2 Tprec Tsens / (Tprec + Tsens + smooth)

    The soft skeleton is :func:`scripts.losses.cldice.soft_skeleton` (the authors' and MONAI's, each erosion
    computed once). ``reduction="none"``: ``(B,)``. Forward takes ``input`` / ``target`` (and the deprecated
    ``y_pred`` / ``y_true``, see :func:`_renamed`).

    Example:
        >>> loss = SoftclDiceLoss(compile=False)
        >>> round(float(loss(torch.ones(2, 1, 8, 8), torch.ones(2, 1, 8, 8))), 4)  # smooth 1e-4: 5e-5
        0.0
    """

    def __init__(
        self,
        iter_: int = 3,
        smooth_nr: float = 1.0,
        smooth_dr: float = 1.0,
        smooth: float = 1e-4,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, False, iter_, compile=compile)
        self.iter = iter_
        self.smooth = float(smooth)

    def forward(self, input=None, target=None, *, y_pred=None, y_true=None) -> torch.Tensor:
        return super().forward(*_renamed(input, target, y_pred, y_true, type(self).__name__))

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        skel_p, skel_g = soft_skeleton(p, self.iterations), soft_skeleton(g, self.iterations)
        per_image = tuple(range(1, p.ndim))
        tprec = ((skel_p * g).sum(per_image) + self.smooth_nr) / (skel_p.sum(per_image) + self.smooth_dr)
        tsens = ((skel_g * p).sum(per_image) + self.smooth_nr) / (skel_g.sum(per_image) + self.smooth_dr)
        return 1 - 2 * tprec * tsens / (tprec + tsens + self.smooth)


class SoftDiceclDiceLoss(torch.nn.Module):
    """MONAI's ``SoftDiceclDiceLoss`` (MONAI 1.6.1): ``(1 - alpha) DiceLoss + alpha SoftclDiceLoss``, each with
    the same flags (MONAI's ``DiceLoss`` per ``(b, c)``, :class:`SoftclDiceLoss` per image), ``alpha`` in
    ``[0, 1]``, MONAI's defaults (``iter_=3``, ``smooth=1e-4``). As MONAI's, ``reduction="none"`` adds a
    ``(B, C, 1, ...)`` Dice to a ``(B,)`` clDice by broadcasting. The catalogue's ``dice_cldice`` follows the
    authors' code instead (10 iterations, per ``(b, c)``).

    Example:
        >>> loss = SoftDiceclDiceLoss(compile=False)
        >>> round(float(loss(torch.ones(2, 1, 8, 8), torch.ones(2, 1, 8, 8))), 4)  # smooth 1e-4: 5e-5
        0.0
    """

    def __init__(
        self,
        iter_: int = 3,
        alpha: float = 0.5,
        smooth_nr: float = 1.0,
        smooth_dr: float = 1.0,
        smooth: float = 1e-4,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        *,
        compile: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] but got {alpha}.")
        # MONAI one-hots the labels once and hands both terms the one-hot target; here each term one-hots them
        # itself (the same values; each checks the label values)
        act = {"to_onehot_y": to_onehot_y, "sigmoid": sigmoid, "softmax": softmax, "other_act": other_act}
        act["reduction"] = reduction
        self.dice = DiceLoss(include_background, smooth_nr=smooth_nr, smooth_dr=smooth_dr, compile=compile, **act)
        self.cldice = SoftclDiceLoss(iter_, smooth_nr, smooth_dr, smooth, include_background, compile=compile, **act)
        self.alpha = alpha
        self.to_onehot_y = to_onehot_y

    def forward(self, input=None, target=None, *, y_pred=None, y_true=None) -> torch.Tensor:
        input, target = _renamed(input, target, y_pred, y_true, type(self).__name__)
        if input.dim() != target.dim():
            raise ValueError(f"input and target need the same number of dims, got {input.shape} and {target.shape}.")
        if target.shape[1] not in (1, input.shape[1]):
            raise ValueError(
                f"target needs 1 channel (labels) or the input's {input.shape[1]}: got shapes {tuple(input.shape)} "
                f"and {tuple(target.shape)}."
            )
        return (1.0 - self.alpha) * self.dice(input, target) + self.alpha * self.cldice(input, target)
