"""Soft clDice and Dice + soft clDice (Shit et al., CVPR 2021) for thin tubular structures."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._base import SegmentationLoss
from ._checks import LossInputError, check_range

# by the input's ndim: 1D (the same definition on one axis; the authors' code is 2D / 3D), 2D, 3D
POOLS = {3: F.max_pool1d, 4: F.max_pool2d, 5: F.max_pool3d}


def soft_erode(img: torch.Tensor) -> torch.Tensor:
    """Soft erosion: the minimum over the cross-shaped 3-neighbourhood (one min-pool per axis, as the authors)."""
    pool = POOLS[img.ndim]
    n = img.ndim - 2
    eroded = None
    for axis in range(n):
        kernel = tuple(3 if i == axis else 1 for i in range(n))
        padding = tuple(1 if i == axis else 0 for i in range(n))
        p = -pool(-img, kernel, (1,) * n, padding)
        eroded = p if eroded is None else torch.min(eroded, p)
    return eroded


def soft_dilate(img: torch.Tensor) -> torch.Tensor:
    """Soft dilation: the maximum over the full 3x3(x3) neighbourhood."""
    return POOLS[img.ndim](img, 3, 1, 1)


def check_iterations(iterations: object) -> int:
    """The soft skeleton's iteration count: an integer >= 0, else a ``ValueError``."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}.")
    return iterations


def check_skeleton_input(loss: object, input: torch.Tensor) -> None:
    """A ``LossInputError`` for an input whose spatial dims the soft skeleton cannot pool (1 to 3 only)."""
    if input.ndim not in POOLS:
        raise LossInputError(
            f"{type(loss).__name__} needs 1D, 2D or 3D input (B, C, H[, W[, D]]); got {input.ndim - 2} spatial "
            f"dims (shape {tuple(input.shape)}): the soft skeleton pools over 1 to 3 axes."
        )


# Left out of the compiled graph: inductor's max-pool kernels made the compiled loss 1.7x slower than eager at
# (2, 3, 64^3) on a CPU (4.9 s vs 2.9 s per forward + backward, one thread), ATen's pooling the same in both;
# not measured on a GPU. The rest of the formula is compiled around it.
@torch.compiler.disable
def soft_skeleton(img: torch.Tensor, iterations: int) -> torch.Tensor:
    """The soft skeleton of ``img`` (``(B, C, H, W[, D])`` in ``[0, 1]``) after ``iterations`` erosions.

    The authors' loop erodes each image twice, once to step (``img = erode(img)``) and once inside the next opening
    (``dilate(erode(img))``); both are the same erosion, computed here once: the same values, a third of the
    pooling (3x faster eager at (2, 3, 64^3) on a CPU)."""
    eroded = soft_erode(img)
    skel = F.relu(img - soft_dilate(eroded))
    for _ in range(iterations):
        img, eroded = eroded, soft_erode(eroded)
        delta = F.relu(img - soft_dilate(eroded))
        skel = skel + F.relu(delta - skel * delta)
    return skel


class ClDiceLoss(SegmentationLoss):
    """Soft clDice loss.

    Shit S., Paetzold J.C., et al., "clDice - a novel topology-preserving loss function for tubular structure
    segmentation", CVPR 2021 (code: github jocpae/clDice). Per ``(b, c)``, with ``S(.)`` the soft skeleton
    (:func:`soft_skeleton`, ``iterations`` erosions) of the probabilities ``p`` and the target ``g``::

        Tprec = (sum S(p) g + smooth_nr) / (sum S(p) + smooth_dr)
        Tsens = (sum S(g) p + smooth_nr) / (sum S(g) + smooth_dr)
        loss  = 1 - 2 Tprec Tsens / (Tprec + Tsens)

    The catalogue's ``cldice`` follows the authors' code: 10 iterations (their ``soft_cldice`` ignores its
    ``iter_=3`` argument and always runs ``SoftSkeletonize(num_iter=10)``) and smooth 1. The authors sum over the
    whole batch and all kept channels at once: ``batch=True`` with one kept channel is their value; with several
    channels this loss is the mean of the per-channel values (the package's convention).

    Args:
        iterations: soft-skeleton iterations, >= 0. Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, H, W)`` or ``(B, C, H, W, D)`` (and 1D ``(B, C, H)``, the same definition on one
    axis); target as the other losses.
    ``reduction="none"``: ``(B, C')``, with ``batch=True`` ``(1, C')``.

    Example:
        >>> loss = ClDiceLoss(softmax=True, to_onehot_y=True, compile=False)
        >>> loss(torch.randn(2, 2, 16, 16), torch.randint(0, 2, (2, 1, 16, 16))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        smooth_nr: float = 1.0,
        smooth_dr: float = 1.0,
        batch: bool = False,
        iterations: int = 10,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.iterations = check_iterations(iterations)
        if self.smooth_dr == 0:
            raise ValueError(
                "smooth_dr must be > 0 for clDice: the soft skeleton of an empty target (or of a flat prediction) is "
                "empty, and its ratio would be x / 0."
            )

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        super().check(input, target)
        check_skeleton_input(self, input)

    def cldice(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        skel_p, skel_g = soft_skeleton(p, self.iterations), soft_skeleton(g, self.iterations)
        prec_nr, prec_dr = self.voxel_sum(skel_p * g) + self.smooth_nr, self.voxel_sum(skel_p) + self.smooth_dr
        sens_nr, sens_dr = self.voxel_sum(skel_g * p) + self.smooth_nr, self.voxel_sum(skel_g) + self.smooth_dr
        # 2 Tprec Tsens / (Tprec + Tsens) with the ratios multiplied out: an empty target has an empty skeleton
        # (sens_dr = smooth_dr, 0 in float32 for a denormal smooth_dr), and with smooth_nr = 0 the score 0 / 0 is
        # taken as 0 (as Dice's)
        harmonic = 2 * prec_nr * sens_nr / (prec_nr * sens_dr + sens_nr * prec_dr).clamp_min(torch.finfo(p.dtype).tiny)
        return 1 - harmonic

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.cldice(*self.activated(input, target))


class DiceClDiceLoss(ClDiceLoss):
    """Dice + soft clDice: ``(1 - alpha) Dice + alpha clDice`` per ``(b, c)`` (Shit et al., CVPR 2021; the
    authors' ``soft_dice_cldice``: alpha 0.5, 10 iterations, smooth 1 in both terms), with
    ``Dice = 1 - (2 sum p g + smooth_nr) / (sum p + sum g + smooth_dr)``. Args, shapes and conventions as
    :class:`ClDiceLoss`; ``alpha`` in ``[0, 1]``.

    Example:
        >>> loss = DiceClDiceLoss(sigmoid=True, compile=False)
        >>> loss(torch.randn(2, 1, 8, 8, 8), torch.randint(0, 2, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        smooth_nr: float = 1.0,
        smooth_dr: float = 1.0,
        batch: bool = False,
        iterations: int = 10,
        alpha: float = 0.5,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, iterations, compile=compile)
        self.alpha = check_range("alpha", alpha, low=0.0, high=1.0)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        dice = 1 - (2 * self.voxel_sum(p * g) + self.smooth_nr) / (
            self.voxel_sum(p) + self.voxel_sum(g) + self.smooth_dr
        )
        return (1 - self.alpha) * dice + self.alpha * self.cldice(p, g)
