"""BraTS label maps <-> the three nested evaluation regions TC, WT, ET, for every BraTS label convention.

The regions are those of the BraTS challenge (Menze et al., IEEE TMI 2015; Bakas et al., arXiv:1811.02629):
tumour core TC, whole tumour WT, enhancing tumour ET, with ET ⊂ TC ⊂ WT. Label values per convention
(``scripts.data.label_conventions``):

=============  ===================  ================  =======
convention     TC                   WT                ET
=============  ===================  ================  =======
brats2021      {1, 4}               {1, 2, 4}         {4}
brats2023      {1, 3}               {1, 2, 3}         {3}
brats2024_gli  {1, 3}               {1, 2, 3}         {3}
brats2024_ped  {1, 2, 3}            {1, 2, 3, 4}      {1}
msd_task01     {2, 3}               {1, 2, 3}         {3}
=============  ===================  ================  =======

BraTS 2024 glioma adds the resection cavity RC = {4}, a fourth region outside the tumour. A network with a fourth
output channel learns it (``regions=("TC", "WT", "ET", "RC")``, the ``configs/brats2024.json`` overlay); cases of
a convention without a cavity then give an empty RC channel. With the three tumour regions only, RC voxels are
background.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from scripts.data.label_conventions import BRATS_CONVENTIONS, LabelConvention

from ._labels import as_label_tensor, check_values, convention_of, where

REGIONS = ("TC", "WT", "ET")
CAVITY = "RC"


def _check_regions(regions) -> tuple[str, ...]:
    regions = tuple(regions)
    if regions not in (REGIONS, (*REGIONS, CAVITY)):
        raise ValueError(f"regions must be {REGIONS} or {(*REGIONS, CAVITY)}, got {regions}.")
    return regions


def label_to_regions(
    label,
    convention: LabelConvention,
    dtype: torch.dtype = torch.float32,
    case: object = None,
    key: object = None,
    regions: tuple[str, ...] = REGIONS,
) -> torch.Tensor:
    """``(1, *spatial)`` or ``(*spatial)`` label map -> ``(len(regions), *spatial)`` channels of ``dtype``: TC, WT,
    ET, and RC (resection cavity) when ``regions`` names it (empty for a convention without a cavity).

    Raises a ValueError naming the values outside ``convention`` (and the case / key when given).
    """
    regions = _check_regions(regions)
    label = as_label_tensor(label)
    if label.ndim >= 2 and label.shape[0] == 1:
        label = label[0]
    check_values(label, convention, case, key)
    channels = []
    for region in regions:
        values = torch.tensor(convention.regions.get(region, ()), dtype=label.dtype, device=label.device)
        channels.append(torch.isin(label, values))
    return torch.stack(channels, dim=0).to(dtype)


def regions_to_label(
    regions, convention: LabelConvention, threshold: float = 0.5, dtype: torch.dtype = torch.uint8, case: object = None
) -> torch.Tensor:
    """``(3, *spatial)`` TC, WT, ET (binary, or probabilities thresholded at ``threshold``) -> ``(1, *spatial)``
    label map with ``convention``'s own values; a fourth channel is the resection cavity RC (``brats2024_gli``),
    written where it lies outside the predicted tumour.

    Inconsistent predictions are nested by union: ET' = ET, TC' = TC ∪ ET, WT' = WT ∪ TC ∪ ET; then the voxel
    gets the ET value in ET', the necrotic/non-enhancing value in TC' \\ ET', the oedema value in WT' \\ TC' and
    0 elsewhere (the usual BraTS region-to-label conversion, where a later region overwrites an earlier one).
    """
    regions = as_label_tensor(regions)
    if regions.ndim < 2 or regions.shape[0] not in (len(REGIONS), len(REGIONS) + 1):
        raise ValueError(
            f"expected {len(REGIONS)} channels {REGIONS} (and {CAVITY!r}) first, got shape {tuple(regions.shape)}"
            f"{where(case)}."
        )
    if regions.shape[0] == len(REGIONS) + 1 and CAVITY not in convention.regions:
        raise ValueError(
            f"a fourth channel ({CAVITY}, resection cavity) cannot be written in the {convention.name} convention, "
            f"which has no cavity label{where(case)}; use brats2024_gli."
        )
    if regions.is_floating_point():
        if not torch.isfinite(regions).all() or regions.min() < 0 or regions.max() > 1:
            raise ValueError(
                f"region channels must be binary or probabilities in [0, 1]{where(case)}; got values in "
                f"[{regions.min().item():g}, {regions.max().item():g}] (apply sigmoid/threshold first)."
            )
        positive = regions > threshold
    else:
        positive = regions > 0
    tc, wt, et = positive[0], positive[1], positive[2]
    tc = tc | et
    wt = wt | tc
    et_value = convention.regions["ET"][0]
    core_value = next(v for v in convention.regions["TC"] if v not in convention.regions["ET"])
    oedema_value = next(v for v in convention.regions["WT"] if v not in convention.regions["TC"])
    zero = torch.zeros_like(positive[:1], dtype=dtype)
    out = torch.where(wt[None], oedema_value, zero)
    out = torch.where(tc[None], core_value, out)
    out = torch.where(et[None], et_value, out)
    if positive.shape[0] > len(REGIONS):
        out = torch.where((positive[3] & ~wt)[None], convention.regions[CAVITY][0], out)
    return out.to(dtype)


class LabelToRegionsd(MapTransform):
    """Convert a BraTS label map to the 3 region channels TC, WT, ET, per the case's label convention.

    The convention is read from ``data[convention_key]`` (as written by ``scripts.data.build_datalist``), else
    ``convention``. Works on channel-first ``(1, H, W, D)`` (or channel-less) labels, keeps MetaTensor meta data.

    Args:
        keys: label keys.
        convention_key: key holding the convention name; ``None`` to always use ``convention``.
        convention: default convention: ``"brats2021"`` (also 2020), ``"brats2023"`` or ``"msd_task01"``.
        dtype: output dtype (float32 for losses; ``torch.uint8`` saves memory).
        regions: ``("TC", "WT", "ET")``, or with ``"RC"`` for a network that learns the resection cavity.

    Raises:
        ValueError: label values outside the convention (named, with the case), a non-BraTS convention.

    Example::

        LabelToRegionsd(keys="label")({"label": lbl, "convention": "brats2023", "case": "BraTS-GLI-00000-000"})
    """

    def __init__(
        self,
        keys: KeysCollection = "label",
        convention_key: str | None = "convention",
        convention: str | None = None,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
        regions: tuple[str, ...] = REGIONS,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.convention_key = convention_key
        self.convention = convention
        self.dtype = dtype
        self.regions = _check_regions(regions)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        convention = convention_of(d, self.convention_key, self.convention, BRATS_CONVENTIONS, type(self).__name__)
        for key in self.key_iterator(d):
            d[key] = label_to_regions(d[key], convention, self.dtype, d.get("case"), key, self.regions)
        return d


class RegionsToLabeld(MapTransform):
    """Inverse of :class:`LabelToRegionsd` for inference: TC, WT, ET channels -> single-channel label map with the
    data set's own values (brats2021: 1 NCR, 2 ED, 4 ET; brats2023: 1, 2, 3; msd_task01: 1 oedema,
    2 non-enhancing, 3 enhancing). See :func:`regions_to_label` for the nesting rule.

    Args:
        keys: prediction keys, ``(3, *spatial)`` binary or probabilities.
        convention: the convention to write (default for every case).
        convention_key: key holding a per-case convention (takes precedence when present).
        threshold: probability threshold for float inputs.
        dtype: output dtype.
    """

    def __init__(
        self,
        keys: KeysCollection = "pred",
        convention: str | None = "brats2021",
        convention_key: str | None = None,
        threshold: float = 0.5,
        dtype: torch.dtype = torch.uint8,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.convention = convention
        self.convention_key = convention_key
        self.threshold = float(threshold)
        self.dtype = dtype

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        convention = convention_of(d, self.convention_key, self.convention, BRATS_CONVENTIONS, type(self).__name__)
        for key in self.key_iterator(d):
            d[key] = regions_to_label(d[key], convention, self.threshold, self.dtype, d.get("case"))
        return d
