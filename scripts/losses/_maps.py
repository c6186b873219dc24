"""Maps computed from the target (distance and instance maps), and the base of the losses that take them.

The maps are *data*: the bundle computes them on the data-loader workers with the MONAI transforms of
:mod:`scripts.transforms.maps` (after the random crop) and hands them to the loss as extra label channels; a
loss called from Python with a plain target computes them itself, eagerly, with the same functions here, and
gives the same value. How the maps travel (``docs/losses.md``, "Maps"):

- a map loss built with ``maps_in_target=True`` takes ``target`` as ``cat([plain_target, maps], dim=1)``: the
  plain target (``(B, 1, ...)`` labels with ``to_onehot_y=True``, else ``(B, C, ...)``) followed by ``C`` map
  channels, one per input channel (class or region), in the input's channel order;
- with ``maps_in_target=False`` (the default) the target is plain and the loss computes the ``C`` maps from it.

Every map is computed per sample and channel from the channel's mask ``g > 0.5`` (soft targets are thresholded
at 0.5), with :func:`scipy.ndimage.distance_transform_edt` and :func:`scipy.ndimage.label`, in voxel units
(``spacing=None``) or in the physical units of a voxel spacing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy import ndimage

from ._base import SegmentationLoss, plain_tensor
from ._checks import LossInputError, check_values, value_stats

MAP_KINDS = ("signed", "unsigned", "components")


def signed_distance(mask: np.ndarray, spacing: Sequence[float] | None = None) -> np.ndarray:
    """Kervadec et al.'s signed distance to the boundary of ``mask`` (bool, any number of dims), float32:
    ``d_out`` outside (the distance to the nearest foreground voxel), ``-(d_in - 1)`` inside (``d_in`` the
    distance to the nearest background voxel; the ``- 1`` is one voxel in voxel units and stays ``1`` with a
    spacing, as in the authors' code ``one_hot2dist``); all zeros for an empty or full mask (no boundary)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any() or mask.all():
        return np.zeros(mask.shape, np.float32)
    d_out = ndimage.distance_transform_edt(~mask, sampling=spacing)
    d_in = ndimage.distance_transform_edt(mask, sampling=spacing)
    return np.where(mask, -(d_in - 1), d_out).astype(np.float32)


def unsigned_distance(mask: np.ndarray, spacing: Sequence[float] | None = None) -> np.ndarray:
    """Karimi & Salcudean's distance to the boundary of ``mask``, float32: ``d_in`` inside, ``d_out`` outside
    (as MONAI's ``HausdorffDTLoss.distance_field``); all zeros for an empty or full mask."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any() or mask.all():
        return np.zeros(mask.shape, np.float32)
    d_out = ndimage.distance_transform_edt(~mask, sampling=spacing)
    d_in = ndimage.distance_transform_edt(mask, sampling=spacing)
    return np.where(mask, d_in, d_out).astype(np.float32)


def components(mask: np.ndarray, connectivity: int | None = None) -> np.ndarray:
    """The connected components of ``mask`` numbered 1..n in scan order (0 background), float32. Two voxels
    are neighbours when they differ by at most 1 in at most ``connectivity`` coordinates (``None``: all, i.e.
    full connectivity: 26 neighbours in 3D, 8 in 2D; ``1``: faces only, 6 in 3D)."""
    mask = np.asarray(mask, dtype=bool)
    rank = max(mask.ndim, 1)
    structure = ndimage.generate_binary_structure(rank, rank if connectivity is None else connectivity)
    return ndimage.label(mask, structure=structure)[0].astype(np.float32)


def check_connectivity(connectivity: int | None, ndim: int | None = None) -> int | None:
    if connectivity is None:
        return None
    if isinstance(connectivity, bool) or not isinstance(connectivity, int) or connectivity < 1:
        raise ValueError(f"connectivity must be None (full) or an integer >= 1, got {connectivity!r}.")
    if ndim is not None and connectivity > ndim:
        raise ValueError(f"connectivity must lie in [1, {ndim}] for {ndim} spatial dims, got {connectivity}.")
    return connectivity


def map_function(kind: str, connectivity: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    if kind == "signed":
        return signed_distance
    if kind == "unsigned":
        return unsigned_distance
    if kind == "components":
        return lambda mask: components(mask, connectivity)
    raise ValueError(f"map kind must be one of {MAP_KINDS}, got {kind!r}.")


def channel_maps(masks: np.ndarray, kind: str, connectivity: int | None = None, spacing=None) -> np.ndarray:
    """The ``kind`` map of every channel of ``masks`` ``(C, *spatial)`` (bool), float32 ``(C, *spatial)``."""
    fn = map_function(kind, connectivity)
    if kind != "components" and spacing is not None:
        return np.stack([fn(m, spacing) for m in masks]) if len(masks) else np.zeros(masks.shape, np.float32)
    return np.stack([fn(m) for m in masks]) if len(masks) else np.zeros(masks.shape, np.float32)


@torch.no_grad()
def batch_maps(masks: torch.Tensor, kind: str, connectivity: int | None = None) -> torch.Tensor:
    """The ``kind`` maps of a ``(B, C, *spatial)`` bool batch, per sample and channel, in voxel units: float32
    on the masks' device (computed on the CPU with scipy)."""
    array = masks.detach().cpu().numpy().astype(bool)
    out = np.stack([channel_maps(sample, kind, connectivity) for sample in array])
    return torch.from_numpy(out).to(masks.device)


class MapLoss(SegmentationLoss):
    """A loss whose formula takes a map of the target: ``formula(input, target, maps, *extra)``.

    ``map_kind`` names the map (:data:`MAP_KINDS`). With ``maps_in_target=True`` the target carries the maps as
    ``C`` extra channels after the plain target (see the module docstring), split off here; otherwise the maps
    are computed from the target, eagerly, before the (compiled) formula.
    """

    map_kind = "signed"
    connectivity: int | None = None

    def __init__(self, *args, maps_in_target: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.maps_in_target = bool(maps_in_target)

    def split_maps(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(plain target, maps or None)``; a ``ValueError`` when the target's channels are not the plain
        target's followed by ``C`` maps."""
        if not self.maps_in_target or not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
            return target, None
        if input.ndim < 3 or target.ndim != input.ndim:
            return target, None  # the base checks name the problem
        n_plain = 1 if self.to_onehot_y else input.shape[1]
        n_maps = input.shape[1]
        if target.shape[1] != n_plain + n_maps:
            raise LossInputError(
                f"maps_in_target=True: target must hold {n_plain} target channel(s) followed by {n_maps} "
                f"{self.map_kind} map channel(s) (one per input channel), got {target.shape[1]} channel(s)."
            )
        return target[:, :n_plain], target[:, n_plain:]

    def check_maps(self, maps: torch.Tensor) -> None:
        lo, hi = (float(v) for v in torch.aminmax(maps.detach().double()))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise LossInputError(f"the {self.map_kind} maps of the target contain NaN or infinite values.")
        if self.map_kind == "unsigned" and lo < 0:
            raise LossInputError(f"unsigned distance maps must be >= 0, got values down to {lo:g}.")
        if self.map_kind == "components":
            if lo < 0 or not torch.equal(maps, maps.round()):
                raise LossInputError("component maps must hold whole numbers >= 0 (0 background, 1..n components).")

    def target_maps(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The maps of the plain target: ``(B, C, *spatial)`` from the one-hot target ``> 0.5``."""
        masks = self.one_hot_target(target, input.shape[1], input.dtype) > 0.5
        return batch_maps(masks, self.map_kind, self.connectivity).to(input.dtype)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        device = input.device.type if isinstance(input, torch.Tensor) else "cpu"
        # a tensor subclass (MONAI's MetaTensor from the data loader) as plain tensors, still in the autograd
        # graph: torch.compile cannot trace MetaTensor's __torch_function__ and would fall back to eager
        input, target = plain_tensor(input), plain_tensor(target)
        with torch.autocast(device_type=device, enabled=False):
            target, maps = self.split_maps(input, target)
            self.check(input, target)
            x = input if input.dtype == torch.float64 else input.float()
            if maps is None:  # computed from the target's values (on the CPU): those are checked first
                check_values(value_stats(x, target, None, self.to_onehot_y), input, to_onehot_y=self.to_onehot_y)
                maps = self.target_maps(x, target)
            else:
                self.check_maps(maps)
                maps = maps.to(x.dtype)
            loss, stats = self.run(self.checked_formula, x, target, maps, *self.extra_inputs(x, target))
            check_values(stats, input, to_onehot_y=self.to_onehot_y)  # bad values raise before any backward
            return loss
