"""Maps computed from the target (distance and instance maps), and the base of the losses that take them.

The maps are *data*: the bundle computes them on the data-loader workers with the MONAI transforms of
``scripts.transforms.maps`` (after the random crop) and hands them to the loss as extra label channels; a loss
called from Python with a plain target computes them itself, eagerly, with the functions here, and gives the
same value (tested: the two sides are separate implementations, the losses depend on torch and MONAI only).
How the maps travel (``docs/losses.md``, "Maps"):

- a map loss built with ``maps_in_target=True`` takes ``target`` as ``cat([plain_target, maps], dim=1)``: the
  plain target (``(B, 1, ...)`` labels with ``to_onehot_y=True``, else ``(B, C, ...)``) followed by ``C`` map
  channels, one per input channel (class or region), in the input's channel order;
- with ``maps_in_target=False`` (the default) the target is plain and the loss computes the ``C`` maps from it.

Every map is computed per sample and channel from the channel's mask ``g > 0.5`` (soft targets are thresholded
at 0.5), in voxel units, where the mask lies:

- distances of a CUDA tensor: MONAI's :func:`monai.transforms.utils.distance_transform_edt`, which runs cuCIM on
  the GPU where cuCIM and cupy are installed (no copy to the host; :func:`gpu_distances`), else copies the masks
  to the host and runs scipy (a device-to-host round trip every call); distances of a CPU tensor: ``edt`` (the
  bundle's dependency, scipy's values, a fraction of its time) where it is installed, else MONAI's function
  (scipy);
- components: ``cc3d`` for 3D CPU masks where it is installed, else :func:`components` (torch, on the masks'
  device, also on a GPU);
- tubed skeletons (Skeleton Recall): scikit-image on the host (:func:`tubed_skeletons`), as the authors.

``edt`` and ``cc3d`` are optional here (``monai.utils.optional_import``): the package needs torch and MONAI only
(``tests/test_package_layers.py`` allows these as optional), and gives the same maps without them. scikit-image
is optional too, but has no fallback: without it a loss that computes its own tubed skeletons raises, and takes
them as data instead (``maps_in_target``).
"""

from __future__ import annotations

import itertools
import math

import torch
from monai.transforms.utils import distance_transform_edt
from monai.utils import optional_import

from ._base import SegmentationLoss, plain_tensor
from ._checks import LossInputError, check_values, value_stats

MAP_KINDS = ("signed", "unsigned", "components", "tubed_skeleton")
# (module, found) pairs, not module-level stubs: a missing module's stub raises when inspected (doctest does)
_EDT = optional_import("edt")
_CC3D = optional_import("cc3d")
HAS_EDT, HAS_CC3D = _EDT[1], _CC3D[1]
HAS_CUPY = optional_import("cupy")[1]
HAS_CUCIM = optional_import("cucim.core.operations.morphology", name="distance_transform_edt")[1]
_SKIMAGE = optional_import("skimage.morphology")


def gpu_distances() -> bool:
    """Whether MONAI's ``distance_transform_edt`` computes the distances of a CUDA tensor on the GPU (cuCIM and
    cupy installed, as MONAI checks); otherwise a CUDA tensor's maps go through the host and scipy."""
    return bool(HAS_CUPY and HAS_CUCIM)


def _squared_distances_cpu(masks: torch.Tensor) -> torch.Tensor:
    """``edt``'s squared distances to the nearest background voxel of each ``(N, *spatial)`` mask, float64 (whole
    numbers: their square root is scipy's distance exactly)."""
    return torch.stack([torch.from_numpy(_EDT[0].edtsq(m, parallel=1)) for m in masks.contiguous().numpy()]).double()


def _distances(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d_in, d_out)`` of ``(N, *spatial)`` bool masks with 1 to 3 spatial dims, float32, on the masks' device."""
    if masks.device.type == "cpu" and HAS_EDT:
        d_in = _squared_distances_cpu(masks).sqrt_()
        d_out = _squared_distances_cpu(~masks).sqrt_()
    else:
        d_in = torch.as_tensor(distance_transform_edt(masks), device=masks.device)
        d_out = torch.as_tensor(distance_transform_edt(~masks), device=masks.device)
    return d_in.to(torch.float32), d_out.to(torch.float32)


def boundary_distances(masks: torch.Tensor, signed: bool) -> torch.Tensor:
    """The distance maps of ``masks`` ``(N, *spatial)`` (bool), per channel, float32, voxel units.

    ``signed=True``: Kervadec et al.'s map, ``d_out`` outside, ``-(d_in - 1)`` inside (the authors'
    ``one_hot2dist``); ``signed=False``: Karimi & Salcudean's, ``d_in`` inside, ``d_out`` outside (MONAI's
    ``HausdorffDTLoss.distance_field``). ``d_in``: from a foreground voxel to the nearest background voxel;
    ``d_out``: from a background voxel to the nearest foreground voxel. An empty or full channel has no
    boundary: all zeros."""
    masks = masks.detach().bool()
    if masks.numel() == 0:
        return torch.zeros(masks.shape, dtype=torch.float32, device=masks.device)
    if masks.ndim == 2:  # MONAI's transform takes 2 or 3 spatial dims; a singleton axis changes no distance
        return boundary_distances(masks.unsqueeze(-1), signed).squeeze(-1)
    if masks.ndim > 4:
        raise ValueError(f"distance maps take 1 to 3 spatial dims, got {masks.ndim - 1}.")
    d_in, d_out = _distances(masks)
    inside = -(d_in - 1) if signed else d_in
    maps = torch.where(masks, inside, d_out)
    spatial = tuple(range(1, masks.ndim))
    has_boundary = masks.any(dim=spatial) & ~masks.all(dim=spatial)
    return torch.where(has_boundary.view(-1, *[1] * len(spatial)), maps, 0.0)  # edt: inf in a full mask


@torch.no_grad()
def inside_distances(masks: torch.Tensor) -> torch.Tensor:
    """The distance of each voxel of ``masks`` ``(B, K, *spatial)`` (bool) to the nearest voxel outside its mask,
    0 outside, float32 on the masks' device; a full mask (no voxel outside) all 0, as the unsigned map's
    (:func:`boundary_distances`). Only ``d_in``, half the work of
    :func:`boundary_distances`: cbDice's prediction maps, every call."""
    flat = masks.detach().bool().reshape(-1, *masks.shape[2:])
    if flat.ndim == 2:  # one spatial axis: a singleton axis changes no distance
        flat = flat.unsqueeze(-1)
    if flat.device.type == "cpu" and HAS_EDT:
        d = _squared_distances_cpu(flat).sqrt_()
    else:
        d = torch.as_tensor(distance_transform_edt(flat), device=flat.device)
    full = flat.flatten(1).all(1).view(-1, *[1] * (flat.ndim - 1))
    return torch.where(flat & ~full, d.to(torch.float32), 0.0).reshape(masks.shape)


def check_connectivity(connectivity: int | None, ndim: int | None = None) -> int | None:
    if connectivity is None:
        return None
    if isinstance(connectivity, bool) or not isinstance(connectivity, int) or connectivity < 1:
        raise ValueError(f"connectivity must be None (full) or an integer >= 1, got {connectivity!r}.")
    if ndim is not None and connectivity > ndim:
        raise ValueError(f"connectivity must lie in [1, {ndim}] for {ndim} spatial dims, got {connectivity}.")
    return connectivity


def _window_min(labels: torch.Tensor, axis: int, background: int) -> torch.Tensor:
    """The least label among each voxel and its two neighbours along ``axis``."""
    n = labels.shape[axis]
    pad = labels.new_full(labels.shape[:axis] + (1,) + labels.shape[axis + 1 :], background)
    padded = torch.cat([pad, labels, pad], dim=axis)
    return torch.minimum(torch.minimum(padded.narrow(axis, 0, n), labels), padded.narrow(axis, 2, n))


def _neighbour_min(labels: torch.Tensor, reach: int, background: int) -> torch.Tensor:
    """For every voxel of ``labels`` ``(N, *spatial)``, the least label among it and its neighbours (offsets of
    at most 1 in at most ``reach`` coordinates): the least of the separable windows over every ``reach`` axes."""
    out = labels
    for axes in itertools.combinations(range(1, labels.ndim), reach):
        window = labels
        for axis in axes:
            window = _window_min(window, axis, background)
        out = torch.minimum(out, window)
    return out


def _components_cc3d(masks: torch.Tensor, connectivity: int | None) -> torch.Tensor:
    """:func:`components` of 3D CPU masks by ``cc3d``, which numbers a C-ordered 3D mask's components in scan
    order of their first voxel, as scipy (tested against scipy and the torch labeller)."""
    neighbours = {None: 26, 3: 26, 2: 18, 1: 6}[connectivity]
    labels = [
        _CC3D[0].connected_components(m, connectivity=neighbours, binary_image=True) for m in masks.contiguous().numpy()
    ]
    return torch.stack([torch.from_numpy(m.astype("float32")) for m in labels])


@torch.no_grad()
def components(masks: torch.Tensor, connectivity: int | None = None) -> torch.Tensor:
    """The connected components of each channel of ``masks`` ``(N, *spatial)`` (bool), numbered ``1..n`` per
    channel in scan order of their first voxel (0 background), float32 on the masks' device: the numbering of
    :func:`scipy.ndimage.label`. Two voxels are neighbours when they differ by at most 1 in at most
    ``connectivity`` coordinates (``None``: all, i.e. full connectivity, 26 neighbours in 3D; ``1``: faces).

    Each voxel starts with its own index; the least index of a component spreads to its neighbours, and each
    voxel jumps to the label of the voxel its label names (that voxel is in the same component), until nothing
    changes: the label of a component is then the index of its first voxel."""
    masks = masks.detach().bool()
    if masks.device.type == "cpu" and masks.ndim == 4 and HAS_CC3D:
        return _components_cc3d(masks, connectivity)
    n, spatial = masks.shape[0], masks.shape[1:]
    rank = len(spatial)
    reach = rank if connectivity is None else connectivity
    size = math.prod(spatial)
    background = size  # larger than every voxel index
    index = torch.arange(size, device=masks.device, dtype=torch.int32).expand(n, size).reshape(masks.shape)
    labels = torch.where(masks, index, background)
    while True:
        spread = torch.where(masks, _neighbour_min(labels, reach, background), background)
        flat = spread.reshape(n, size)
        named = flat.gather(1, flat.clamp(max=size - 1).long()).reshape(masks.shape)  # the label of the voxel named
        jumped = torch.where(masks, named, background)
        if torch.equal(jumped, labels):
            break
        labels = jumped
    out = torch.zeros(masks.shape, dtype=torch.float32, device=masks.device)
    for c in range(n):
        if masks[c].any():
            ids = torch.unique(labels[c][masks[c]], return_inverse=True)[1]
            out[c][masks[c]] = ids.to(torch.float32) + 1
    return out


def _tube(union: torch.Tensor) -> torch.Tensor:
    """The tubed skeleton of one bool mask of 1 to 3 dims (module :func:`tubed_skeletons`), bool, on the host."""
    if union.ndim == 1:  # a row of a 2D image: scikit-image thins 2D and 3D masks
        return _tube(union.unsqueeze(0)).squeeze(0)
    if not union.any():
        return torch.zeros(union.shape, dtype=torch.bool)
    morphology = _SKIMAGE[0]
    skeleton = morphology.skeletonize(union.numpy())
    return torch.from_numpy(morphology.dilation(morphology.dilation(skeleton)) > 0)  # footprint: the cross


@torch.no_grad()
def tubed_skeletons(masks: torch.Tensor, first_foreground: int) -> torch.Tensor:
    """The tubed skeletons of a ``(B, C, *spatial)`` bool batch (1 to 3 spatial dims), per channel, float32 on the
    masks' device: per sample, the tube is scikit-image's ``skeletonize`` of the union of the foreground channels
    (``first_foreground`` on: 1 for classes with channel 0 the background, 0 for regions) dilated twice with the
    cross-shaped footprint (scikit-image's ``dilation`` default), and channel ``c`` holds ``tube & masks[:, c]``:
    the one-hot form of the authors' ``skel * seg`` (Kirchhoff et al., ECCV 2024, ``SkeletonTransform``)."""
    if not _SKIMAGE[1]:
        raise ImportError(
            "the tubed skeleton of Skeleton Recall is computed with scikit-image (pip install scikit-image); "
            "without it, give the loss its maps as data (maps_in_target=True with scripts.transforms.TubedSkeletond)."
        )
    if not 3 <= masks.ndim <= 5:
        raise ValueError(f"tubed skeletons take 1 to 3 spatial dims, got {masks.ndim - 2}.")
    host = masks.detach().bool().cpu()
    tubes = torch.stack([_tube(m[first_foreground:].any(0)) for m in host]).unsqueeze(1)
    return (tubes & host).to(device=masks.device, dtype=torch.float32)


@torch.no_grad()
def batch_maps(masks: torch.Tensor, kind: str, connectivity: int | None = None) -> torch.Tensor:
    """The ``kind`` maps (:data:`MAP_KINDS`) of a ``(B, C, *spatial)`` bool batch, per sample and channel, in
    voxel units, float32 on the masks' device."""
    if kind not in MAP_KINDS or kind == "tubed_skeleton":
        raise ValueError(f"map kind must be one of {MAP_KINDS[:3]} (per channel), got {kind!r}.")
    flat = masks.reshape(-1, *masks.shape[2:])
    if kind == "components":
        return components(flat, connectivity).reshape(masks.shape)
    return boundary_distances(flat, signed=kind == "signed").reshape(masks.shape)


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
        lo, hi = (float(v) for v in torch.aminmax(maps.detach()))  # no full-size copy of the maps
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise LossInputError(f"the {self.map_kind} maps of the target contain NaN or infinite values.")
        if self.map_kind == "unsigned" and lo < 0:
            raise LossInputError(f"unsigned distance maps must be >= 0, got values down to {lo:g}.")
        if self.map_kind == "components":
            if lo < 0 or bool(torch.frac(maps.detach()).any()):
                raise LossInputError("component maps must hold whole numbers >= 0 (0 background, 1..n components).")
        if self.map_kind == "tubed_skeleton" and not bool(((maps == 0) | (maps == 1)).all()):
            raise LossInputError(f"tubed skeleton maps must be masks of 0 and 1, got values in [{lo:g}, {hi:g}].")

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
