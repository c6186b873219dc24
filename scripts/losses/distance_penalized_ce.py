"""Distance-penalised cross-entropy (Caliva et al., MIDL 2019): cross-entropy weighted up near the boundaries."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._maps import MapLoss


def boundary_penalty(u: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``Phi`` per ``(b, c)`` from the unsigned distance map ``u`` and the mask ``g > 0.5``: on each side of the
    boundary ``(top - u) / (top - low)``, ``top`` / ``low`` the side's largest / smallest distance (``low`` is 1,
    the voxels next to the boundary, which get 1; the farthest get 0). A side whose voxels all touch the boundary
    (``top == low``, e.g. a one-voxel-wide line) gets 1; a channel without a boundary (empty or full) gets 0."""
    inside = g > 0.5
    spatial = tuple(range(2, u.ndim))
    big = torch.finfo(u.dtype).max

    def side(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        top = torch.where(mask, u, 0).amax(spatial, keepdim=True)
        low = torch.where(mask, u, big).amin(spatial, keepdim=True)
        return top, low

    (top_in, low_in), (top_out, low_out) = side(inside), side(~inside)
    top, low = torch.where(inside, top_in, top_out), torch.where(inside, low_in, low_out)
    ramp = (top - u) / (top - low).clamp_min(torch.finfo(u.dtype).tiny)
    return torch.where(top <= 0, 0, torch.where(top > low, ramp, 1))


class DistancePenalizedCrossEntropyLoss(MapLoss):
    """Distance map penalised cross-entropy: each voxel's cross-entropy times ``1 + Phi``, ``Phi`` the target's
    inverted, normalised distance to its boundary (largest next to the boundary).

    Caliva F., Iriondo C., Martinez A.M., Majumdar S., Pedoia V., "Distance Map Loss Penalty Term for Semantic
    Segmentation", MIDL 2019 (extended abstract); the map as SegLossOdyssey's ``DisPenalizedCE`` computes it
    (github JunMa11/SegLossOdyssey d562441, ``losses_pytorch/ND_Crossentropy.py``, ``compute_edts_forPenalizedLoss``)::

        Phi = (max_in d_in - d_in) / (max_in d_in - 1)          inside the mask
        Phi = (max_out d_out - d_out) / (max_out d_out - 1)     outside

    per sample and channel, ``d_in`` / ``d_out`` the distances to the nearest voxel across the boundary (the
    ``"unsigned"`` map, data like the Hausdorff losses': ``maps_in_target``; computed here from a plain target
    otherwise). Categorical mode (softmax, the code's setting: 2 classes, where both classes' maps are the same
    map): ``loss = -mean_x (1 + Phi_{g(x)}(x)) log p_{g(x)}(x)``, each voxel weighted by its own class's map.
    Per-channel mode (sigmoid): ``-mean_x (1 + Phi_c) [g log p + (1 - g) log(1 - p)]`` per ``(b, c)``.

    (1 next to the boundary, 0 at the farthest voxel of each side). Deviations from SegLossOdyssey, whose code
    has two bugs: it computes the weighted loss and returns the unweighted ``loss.mean()`` (tested against the
    corrected return), and a side without voxels or whose voxels all touch the boundary gives 0 / 0 = NaN in its
    map (here ``Phi = 0`` for an empty or full channel, the plain cross-entropy, and 1 on a side that is all
    boundary, e.g. a one-voxel-wide vessel).

    Shapes: as :class:`scripts.losses.CrossEntropyLoss`; ``reduction="none"``: ``(B, 1)`` categorical,
    ``(B, C)`` per channel.

    Example:
        >>> loss = DistancePenalizedCrossEntropyLoss(softmax=True, to_onehot_y=True, compile=False)
        >>> loss(torch.randn(2, 2, 8, 8, 8), torch.randint(0, 2, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    map_kind = "unsigned"
    categorical_keeps_background = True

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        batch: bool = False,
        *,
        maps_in_target: bool = False,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, batch=batch, compile=compile, maps_in_target=maps_in_target)

    def formula(self, input: torch.Tensor, target: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        logp = self.log_probabilities(input)
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        weight = 1 + boundary_penalty(maps, g)
        n = self.voxel_count(input)
        if self.categorical(input.shape[1]):
            return -self.voxel_sum((g * weight).sum(1, keepdim=True) * (g * logp).sum(1, keepdim=True)) / n
        terms = weight * (g * logp + (1 - g) * self.log_complements(input))
        return -self.voxel_sum(self.kept(terms)) / n
