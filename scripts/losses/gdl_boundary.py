"""Generalised Dice + boundary loss with the rebalancing schedule of Kervadec et al."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_range
from ._maps import MapLoss
from .generalized_dice import GeneralizedDiceLoss


def rebalanced_alpha(epoch: int, step: float = 0.01, floor: float = 0.01) -> float:
    """The weight of the generalised Dice term at ``epoch`` (0-based): 1 at the start, ``step`` less after each
    epoch, never below ``floor`` (Kervadec et al., MIDL 2019, sec. 3: "we initially set alpha to 1 and
    decrease it by 0.01 after each epoch ... until it reaches the value of 0.01")."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}.")
    return max(1.0 - step * epoch, floor)


class GDLBoundaryLoss(MapLoss):
    """``alpha * GDL + (1 - alpha) * boundary``: the training recipe of the boundary loss.

    Kervadec H. et al., "Boundary loss for highly unbalanced segmentation", MIDL 2019 (MedIA 2021), eq. 6 and
    sec. 3: the generalised Dice loss (Sudre et al. 2017, ``w_c = 1 / (sum g_c)^2``, all classes, as the
    authors' ``GeneralizedDice(idc=[0, 1])``) plus the boundary loss (:class:`scripts.losses.BoundaryLoss`) of
    the foreground (``SurfaceLoss(idc=[1])``: the classes ``c >= 1`` in softmax mode, every kept channel in
    sigmoid mode), per sample::

        loss = alpha GDL + (1 - alpha) mean_{foreground c} mean_x p_c phi_c

    ``alpha`` follows the paper's schedule :func:`rebalanced_alpha` (1, decreased by 0.01 per epoch, floor
    0.01): set ``loss.alpha = rebalanced_alpha(epoch)`` at the start of every epoch (the bundle does it with a
    handler). The authors' code has a variant of it (``scheduler.py``, ``StealWeight(to_steal=0.01)``: weights
    ``[w_gdl, w_boundary]`` from ``[1, 0.01]``, ``w_gdl`` floored at 0.1 and ``w_boundary`` growing without
    bound); this class follows the paper's text. ``alpha`` enters the compiled formula as a tensor: changing
    it does not recompile.

    Args:
        alpha: the current weight of the GDL term, in ``[0, 1]`` (default 1: epoch 0).
        maps_in_target: the target carries the ``C`` signed maps after the plain target.
        Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"`` gives ``(B, 1)`` (``(1, 1)`` with ``batch=True``: both terms'
    sums over the batch).

    Example:
        >>> loss = GDLBoundaryLoss(softmax=True, to_onehot_y=True)
        >>> loss.alpha = rebalanced_alpha(epoch=30)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    map_kind = "signed"

    def __init__(
        self,
        alpha: float = 1.0,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        *,
        maps_in_target: bool = False,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile=compile, maps_in_target=maps_in_target)
        self.alpha = alpha
        self.gdl = GeneralizedDiceLoss(*common[:5], smooth_nr=smooth_nr, smooth_dr=smooth_dr, batch=batch)

    @property
    def alpha(self) -> float:
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self._alpha = check_range("alpha", value, low=0.0, high=1.0)

    def extra_inputs(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (torch.tensor(self.alpha, dtype=input.dtype, device=input.device),)

    def formula(self, input: torch.Tensor, target: torch.Tensor, phi: torch.Tensor, alpha: torch.Tensor):
        gdl = self.gdl.formula(input, target).reshape(-1, 1)
        p = self.probabilities(input)
        if self.categorical(input.shape[1]):
            p, phi = p[:, 1:], phi[:, 1:]
        else:
            p, phi = self.kept(p), self.kept(phi)
        boundary = (self.voxel_sum(p * phi) / self.voxel_count(p)).mean(1, keepdim=True)
        return alpha * gdl + (1 - alpha) * boundary
