"""Distance and instance maps of a label, as MONAI dictionary transforms run on the data-loader workers.

``SignedDistanced`` (the boundary loss's signed distance, or the Hausdorff losses' unsigned distance),
``ConnectedComponentsd`` (the blob loss's instance map) and ``TubedSkeletond`` (Skeleton Recall's tubed skeleton)
compute, per channel of a label, the map the map losses of
``scripts.losses`` take: those of :func:`scipy.ndimage.distance_transform_edt` and :func:`scipy.ndimage.label`. The
losses compute the same maps themselves from a plain label (their own implementation: transforms never import
losses; the tests check that both agree). The maps come from the libraries made for them, ``edt`` (Euclidean
distance transform) and ``cc3d`` (connected components), both of seung-lab and dependencies of the bundle: per
(3, 128^3) patch a fraction of :func:`scipy.ndimage.distance_transform_edt` / :func:`scipy.ndimage.label`'s time
on one thread (``docs/benchmarks.md``) with scipy's values and numbering (tested against scipy); scipy still
serves the spatial dims these libraries do not take (components in 1D, anything above 3D). Run them last in the
training transforms, after the random crop: the map is of the patch the network sees, and no interpolation touches
it afterwards.

By default the map channels are appended to the label (``cat([label, maps])``, float32), which is what a map
loss built with ``maps_in_target=True`` splits off again; ``output_key`` writes them to a key of their own.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import cc3d
import edt
import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from scipy import ndimage
from skimage.morphology import skeletonize

from ._labels import where

UNITS = ("voxel", "physical")
MAP_KINDS = ("signed", "unsigned", "components", "tubed_skeleton")


def distance_map(mask: np.ndarray, signed: bool, spacing: Sequence[float] | None = None) -> np.ndarray:
    """The distance map of ``mask`` (bool, any number of dims), float32: ``d_out`` outside (the distance to the
    nearest foreground voxel), inside ``-(d_in - 1)`` when ``signed`` (Kervadec et al.'s ``one_hot2dist``; the
    ``- 1`` stays 1 with a spacing, as in the authors' code) else ``d_in`` (Karimi & Salcudean; ``d_in`` the
    distance to the nearest background voxel); all zeros for an empty or full mask (no boundary).

    The squared distances come from ``edt`` (1 to 3 dims; one thread: the loader's workers are the parallelism),
    whole numbers in voxel units, so that their float64 square root is scipy's distance exactly; with a spacing
    ``edt`` sums the squares in float32, within a float32 rounding of scipy's."""
    if not mask.any() or mask.all():
        return np.zeros(mask.shape, np.float32)
    if not 1 <= mask.ndim <= 3:
        d_out = ndimage.distance_transform_edt(~mask, sampling=spacing)
        d_in = ndimage.distance_transform_edt(mask, sampling=spacing)
        return np.where(mask, -(d_in - 1) if signed else d_in, d_out).astype(np.float32)
    mask = np.ascontiguousarray(mask)
    anisotropy = (1.0,) * mask.ndim if spacing is None else tuple(float(s) for s in spacing)
    anisotropy = anisotropy[0] if mask.ndim == 1 else anisotropy
    # each is 0 where the other is not: their sum is the squared distance to the boundary everywhere
    squared = edt.edtsq(mask, anisotropy=anisotropy, parallel=1)
    squared += edt.edtsq(~mask, anisotropy=anisotropy, parallel=1)
    distance = np.sqrt(squared, dtype=np.float64)
    if signed:
        np.subtract(1.0, distance, out=distance, where=mask)  # 1 - d == -(d - 1), both rounded alike
    return distance.astype(np.float32)


def component_map(mask: np.ndarray, connectivity: int | None) -> np.ndarray:
    """The connected components of ``mask`` numbered 1..n in scan order (0 background), float32; neighbours
    differ by at most 1 in at most ``connectivity`` coordinates (``None``: all).

    ``cc3d`` labels 2 and 3 dims, scipy the others. In 3D ``cc3d`` numbers the components of a C-ordered mask in
    the order of their first voxel, as :func:`scipy.ndimage.label` (every connectivity; tested on random masks);
    in 2D with corners (8 neighbours) it does not, and the components are renumbered in that order."""
    reach = mask.ndim if connectivity is None else connectivity
    if mask.ndim not in (2, 3):
        structure = ndimage.generate_binary_structure(mask.ndim, reach)
        return ndimage.label(mask, structure=structure)[0].astype(np.float32)
    neighbours = {(2, 1): 4, (2, 2): 8, (3, 1): 6, (3, 2): 18, (3, 3): 26}[(mask.ndim, reach)]
    labels = cc3d.connected_components(np.ascontiguousarray(mask), connectivity=neighbours, binary_image=True)
    return scan_ordered(labels) if mask.ndim == 2 else labels.astype(np.float32)


def scan_ordered(labels: np.ndarray) -> np.ndarray:
    """``labels`` (0 background, components 1..n in any order) renumbered 1..n in the order of each component's
    first voxel in C order, float32."""
    flat = labels.ravel()
    where_set = np.flatnonzero(flat)
    n = int(flat.max(initial=0))
    first = np.full(n + 1, flat.size, np.int64)
    np.minimum.at(first, flat[where_set], where_set)
    number = np.zeros(n + 1, np.float32)
    number[np.argsort(first[1:]) + 1] = np.arange(1, n + 1)
    return number[labels]


def label_masks(label, num_classes: int | None, case: object = None, key: object = None) -> np.ndarray:
    """``(C, *spatial)`` bool masks of a channel-first label: ``label == c`` for ``c < num_classes`` when
    ``num_classes`` is given (a ``(1, *spatial)`` label map), else ``label > 0.5`` per channel (one-hot or
    region channels)."""
    array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    if array.ndim < 2:
        raise ValueError(
            f"expected a channel-first label (C, *spatial), got shape {tuple(array.shape)}{where(case, key)}."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"label contains NaN or infinite values{where(case, key)}.")
    if num_classes is None:
        return array > 0.5
    if array.shape[0] != 1:
        raise ValueError(
            f"num_classes={num_classes} expects a label map of shape (1, *spatial), got "
            f"{tuple(array.shape)}{where(case, key)}."
        )
    values = np.unique(array)
    outside = values[(values < 0) | (values >= num_classes) | (values != np.round(values))]
    if outside.size:
        shown = ", ".join(f"{v:g}" for v in outside[:10])
        raise ValueError(f"label values [{shown}]{where(case, key)} are not classes 0..{num_classes - 1}.")
    return np.stack([array[0] == c for c in range(num_classes)])


class _MapTransformd(MapTransform):
    kind = "signed"

    def __init__(self, keys: KeysCollection, num_classes: int | None, output_key: str | None, allow_missing_keys):
        super().__init__(keys, allow_missing_keys)
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
        ):
            raise ValueError(f"num_classes must be None or an integer >= 1, got {num_classes!r}.")
        if output_key is not None and len(self.keys) != 1:
            raise ValueError(f"output_key needs exactly one key, got keys {list(self.keys)}.")
        self.num_classes = num_classes
        self.output_key = output_key

    def maps(self, label, masks: np.ndarray, case: object, key: Hashable) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            label = d[key]
            masks = label_masks(label, self.num_classes, d.get("case"), key)
            maps = torch.from_numpy(self.maps(label, masks, d.get("case"), key))
            if self.output_key is not None:
                d[self.output_key] = MetaTensor(maps, meta=label.meta) if isinstance(label, MetaTensor) else maps
                continue
            plain = label.as_tensor() if isinstance(label, MetaTensor) else torch.as_tensor(np.asarray(label))
            out = torch.cat([plain.float(), maps.to(plain.device)], dim=0)
            d[key] = MetaTensor(out, meta=label.meta) if isinstance(label, MetaTensor) else out
        return d


class SignedDistanced(_MapTransformd):
    """Per channel of a label, the distance map to the channel's boundary (float32).

    ``signed=True`` (the boundary loss, Kervadec et al., MIDL 2019 / MedIA 2021): ``d_out`` outside,
    ``-(d_in - 1)`` inside (as the authors' ``one_hot2dist``); ``signed=False`` (the Hausdorff losses, Karimi &
    Salcudean, IEEE TMI 2019): ``d_in`` inside, ``d_out`` outside. ``d_in`` is the Euclidean distance from a
    foreground voxel to the nearest background voxel, ``d_out`` from a background voxel to the nearest
    foreground voxel (:func:`scipy.ndimage.distance_transform_edt`'s, computed with ``edt``). An empty or full
    channel has no boundary: its map is all zeros.

    Units: ``units="voxel"`` (default; what a map loss computes for itself from a plain label) measures in
    voxels; ``units="physical"`` in the units of the label's voxel spacing (``MetaTensor.pixdim``, from its
    affine: mm for NIfTI), ``ValueError`` for a label without an affine. The ``- 1`` of the signed map is 1 in
    both units (as the authors' code with a resolution).

    Args:
        keys: label keys, channel-first.
        num_classes: ``None``: one map per channel of ``label > 0.5`` (region / one-hot channels, e.g. BraTS TC,
            WT, ET); an integer ``C``: the label is a ``(1, *spatial)`` class map and the maps are of
            ``label == c`` for ``c = 0..C-1`` (e.g. KiTS19, ``C = 3``).
        signed: the boundary loss's signed map, or the unsigned one.
        units: ``"voxel"`` or ``"physical"``.
        output_key: ``None`` appends the ``C`` maps to the label (``cat([label, maps])``, float32), as the map
            losses take them with ``maps_in_target=True``; a key name writes them there instead (one key only).

    Raises:
        ValueError: a label that is not channel-first, NaN/inf values, labels outside ``0..C-1``, physical units
        without an affine, bad arguments.
    """

    def __init__(
        self,
        keys: KeysCollection = "label",
        num_classes: int | None = None,
        signed: bool = True,
        units: str = "voxel",
        output_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, num_classes, output_key, allow_missing_keys)
        if units not in UNITS:
            raise ValueError(f"units must be one of {UNITS}, got {units!r}.")
        self.signed = bool(signed)
        self.units = units

    def maps(self, label, masks: np.ndarray, case: object, key: Hashable) -> np.ndarray:
        spacing = None
        if self.units == "physical":
            if not isinstance(label, MetaTensor):
                raise ValueError(
                    f"units='physical' needs the label as a MetaTensor with an affine{where(case, key)}; got "
                    f"{type(label).__name__} (use units='voxel')."
                )
            spacing = [float(s) for s in label.pixdim[: masks.ndim - 1]]
            if len(spacing) != masks.ndim - 1 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
                raise ValueError(f"voxel spacing {spacing}{where(case, key)} must be finite and > 0 per axis.")
        return np.stack([distance_map(m, self.signed, spacing) for m in masks])


class ConnectedComponentsd(_MapTransformd):
    """Per channel of a label, its connected components numbered ``1..n`` (0 background), float32: the
    instance map of the blob loss (Kofler et al., IPMI 2023): :func:`scipy.ndimage.label`'s, computed with
    ``cc3d``.

    Connectivity: ``None`` (default) is full connectivity, voxels touching by a face, an edge or a corner are
    one component (26 neighbours in 3D, 8 in 2D); ``1`` faces only (6 in 3D, 4 in 2D); ``2`` faces and edges
    (18 in 3D). The blob-loss reference code takes the instance map precomputed and does not fix it.

    Args:
        keys, num_classes, output_key: as :class:`SignedDistanced`.
        connectivity: ``None`` or an integer in ``[1, spatial dims]``.
    """

    kind = "components"

    def __init__(
        self,
        keys: KeysCollection = "label",
        num_classes: int | None = None,
        connectivity: int | None = None,
        output_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, num_classes, output_key, allow_missing_keys)
        if connectivity is not None and (
            isinstance(connectivity, bool) or not isinstance(connectivity, int) or connectivity < 1
        ):
            raise ValueError(f"connectivity must be None (full) or an integer >= 1, got {connectivity!r}.")
        self.connectivity = connectivity

    def maps(self, label, masks: np.ndarray, case: object, key: Hashable) -> np.ndarray:
        if self.connectivity is not None and self.connectivity > masks.ndim - 1:
            raise ValueError(
                f"connectivity must lie in [1, {masks.ndim - 1}] for {masks.ndim - 1} spatial dims, got "
                f"{self.connectivity}{where(case, key)}."
            )
        return np.stack([component_map(m, self.connectivity) for m in masks])


def tubed_skeleton(mask: np.ndarray) -> np.ndarray:
    """The skeleton of ``mask`` (bool, 1 to 3 dims; 1D as a row of a 2D image) by scikit-image's ``skeletonize``,
    dilated twice with the cross-shaped footprint (faces only), bool; empty for an empty mask."""
    if mask.ndim == 1:
        return tubed_skeleton(mask[None])[0]
    if not 2 <= mask.ndim <= 3:
        raise ValueError(f"tubed skeletons take 1 to 3 spatial dims, got {mask.ndim}.")
    if not mask.any():
        return np.zeros(mask.shape, bool)
    cross = ndimage.generate_binary_structure(mask.ndim, 1)
    return ndimage.binary_dilation(skeletonize(mask), structure=cross, iterations=2)


class TubedSkeletond(_MapTransformd):
    """Per channel of a label, the channel's part of the label's tubed skeleton (float32 masks): the data of
    Skeleton Recall (Kirchhoff et al., ECCV 2024; the authors' ``SkeletonTransform``, github MIC-DKFZ/Skeleton-Recall
    f259f63): scikit-image's ``skeletonize`` of the union of the foreground classes, dilated twice with the
    cross-shaped footprint, times the label; as one mask per channel, ``tube & (label == c)``.

    The foreground: classes ``1..C-1`` of a label map (``num_classes`` given; channel 0, the background, then
    holds ``tube & background``, which the loss does not use); every channel of region / one-hot channels
    (``num_classes=None``, e.g. BraTS TC, WT, ET: the union is the whole tumour). For a one-hot target *with* a
    background channel give the label map and ``num_classes`` instead: the union of all its channels is the whole
    image. Run it after the random crop, as the authors (on the augmented patch).

    Args:
        keys, num_classes, output_key: as :class:`SignedDistanced`.
    """

    kind = "tubed_skeleton"

    def __init__(
        self,
        keys: KeysCollection = "label",
        num_classes: int | None = None,
        output_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, num_classes, output_key, allow_missing_keys)

    def maps(self, label, masks: np.ndarray, case: object, key: Hashable) -> np.ndarray:
        if not 2 <= masks.ndim <= 4:
            raise ValueError(f"tubed skeletons take 1 to 3 spatial dims, got {masks.ndim - 1}{where(case, key)}.")
        union = masks[0 if self.num_classes is None else 1 :].any(0)
        return (tubed_skeleton(union)[None] & masks).astype(np.float32)


class RemoveMapsd(MapTransform):
    """Drop the last ``n_maps`` channels of a label (the maps appended by :class:`SignedDistanced` or
    :class:`ConnectedComponentsd`), e.g. in the training postprocessing before the training metric; ``n_maps=0``
    keeps the label as it is."""

    def __init__(self, keys: KeysCollection = "label", n_maps: int = 0, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        if isinstance(n_maps, bool) or not isinstance(n_maps, int) or n_maps < 0:
            raise ValueError(f"n_maps must be an integer >= 0, got {n_maps!r}.")
        self.n_maps = n_maps

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            if self.n_maps:
                if d[key].shape[0] <= self.n_maps:
                    raise ValueError(
                        f"{key!r} has {d[key].shape[0]} channel(s): no label left after removing {self.n_maps} maps."
                    )
                d[key] = d[key][: d[key].shape[0] - self.n_maps]
        return d


def loss_map_transforms(map_kind: str | None, num_classes: int | None = None, keys: KeysCollection = "label") -> list:
    """The transforms that append the maps of kind ``map_kind`` (``"signed"``, ``"unsigned"``, ``"components"``,
    ``"tubed_skeleton"``; ``None``: no maps, an empty list). The bundle gets the kind from the loss name
    (``scripts.losses.map_kind(@loss_name)``), adds these at the end of the training transforms (after the random
    crop) and builds the loss with ``maps_in_target``. ``num_classes``: ``None`` for region / one-hot labels
    (BraTS), the number of classes for a ``(1, *spatial)`` label map (KiTS19: 3)."""
    if map_kind is None:
        return []
    if map_kind not in MAP_KINDS:
        raise ValueError(f"map_kind must be None or one of {MAP_KINDS}, got {map_kind!r}.")
    if map_kind == "components":
        return [ConnectedComponentsd(keys, num_classes=num_classes)]
    if map_kind == "tubed_skeleton":
        return [TubedSkeletond(keys, num_classes=num_classes)]
    return [SignedDistanced(keys, num_classes=num_classes, signed=map_kind == "signed")]


def loss_map_channels(map_kind: str | None, out_channels: int) -> int:
    """The number of map channels the training label carries: ``out_channels`` (one map per class or region)
    for a loss with maps (``map_kind`` not ``None``), else 0."""
    return 0 if map_kind is None else int(out_channels)
