"""BraTS label maps <-> the three nested evaluation regions TC, WT, ET, for every BraTS label convention.

The regions are those of the BraTS challenge (Menze et al., IEEE TMI 2015; Bakas et al., arXiv:1811.02629):
tumour core TC, whole tumour WT, enhancing tumour ET, with ET ⊂ TC ⊂ WT. Label values per convention
(``scripts.data.label_conventions``):

=============  ===================  ================  =======
convention     TC                   WT                ET
=============  ===================  ================  =======
brats2021      {1, 4}               {1, 2, 4}         {4}
brats2023      {1, 3}               {1, 2, 3}         {3}
msd_task01     {2, 3}               {1, 2, 3}         {3}
=============  ===================  ================  =======
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from scripts.data.label_conventions import BRATS_CONVENTIONS, LabelConvention

from ._labels import as_label_tensor, check_values, convention_of, where

REGIONS = ("TC", "WT", "ET")


def label_to_regions(
    label, convention: LabelConvention, dtype: torch.dtype = torch.float32, case: object = None, key: object = None
) -> torch.Tensor:
    """``(1, *spatial)`` or ``(*spatial)`` label map -> ``(3, *spatial)`` TC, WT, ET channels of ``dtype``.

    Raises a ValueError naming the values outside ``convention`` (and the case / key when given).
    """
    label = as_label_tensor(label)
    if label.ndim >= 2 and label.shape[0] == 1:
        label = label[0]
    check_values(label, convention, case, key)
    channels = []
    for region in REGIONS:
        values = torch.tensor(convention.regions[region], dtype=label.dtype, device=label.device)
        channels.append(torch.isin(label, values))
    return torch.stack(channels, dim=0).to(dtype)


def regions_to_label(
    regions, convention: LabelConvention, threshold: float = 0.5, dtype: torch.dtype = torch.uint8, case: object = None
) -> torch.Tensor:
    """``(3, *spatial)`` TC, WT, ET (binary, or probabilities thresholded at ``threshold``) -> ``(1, *spatial)``
    label map with ``convention``'s own values.

    Inconsistent predictions are nested by union: ET' = ET, TC' = TC ∪ ET, WT' = WT ∪ TC ∪ ET; then the voxel
    gets the ET value in ET', the necrotic/non-enhancing value in TC' \\ ET', the oedema value in WT' \\ TC' and
    0 elsewhere (the usual BraTS region-to-label conversion, where a later region overwrites an earlier one).
    """
    regions = as_label_tensor(regions)
    if regions.ndim < 2 or regions.shape[0] != len(REGIONS):
        raise ValueError(
            f"expected {len(REGIONS)} channels {REGIONS} first, got shape {tuple(regions.shape)}{where(case)}."
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
    return torch.where(et[None], et_value, out).to(dtype)


class LabelToRegionsd(MapTransform):
    """Convert a BraTS label map to the 3 region channels TC, WT, ET, per the case's label convention.

    The convention is read from ``data[convention_key]`` (as written by ``scripts.data.build_datalist``), else
    ``convention``. Works on channel-first ``(1, H, W, D)`` (or channel-less) labels, keeps MetaTensor meta data.

    Args:
        keys: label keys.
        convention_key: key holding the convention name; ``None`` to always use ``convention``.
        convention: default convention: ``"brats2021"`` (also 2020), ``"brats2023"`` or ``"msd_task01"``.
        dtype: output dtype (float32 for losses; ``torch.uint8`` saves memory).

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
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.convention_key = convention_key
        self.convention = convention
        self.dtype = dtype

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        convention = convention_of(d, self.convention_key, self.convention, BRATS_CONVENTIONS, type(self).__name__)
        for key in self.key_iterator(d):
            d[key] = label_to_regions(d[key], convention, self.dtype, d.get("case"), key)
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
