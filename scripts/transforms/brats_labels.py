"""BraTS label maps <-> the four mutually exclusive classes of the label (softmax) mode, for every BraTS convention.

The region mode (the default configs) trains three overlapping sigmoid channels TC, WT, ET
(:mod:`scripts.transforms.brats_regions`). The label mode (``configs/brats_labels.json``) trains a softmax over four
classes, in the order of the rows of the authors' label-distance matrix ``scripts.losses.BRATS_LABEL_DISTANCES``
(Fidon et al., BrainLes 2017):

=====  ==========================================  ===========  ===========  ===========  ==============
class  name                                        brats2021    brats2023    msd_task01   brats2024_ped
=====  ==========================================  ===========  ===========  ===========  ==============
0      background                                  0            0            0            0
1      necrotic / non-enhancing tumour core (NCR)  1            1            2            2, 3 (NET, CC)
2      oedema (ED)                                 2            2            1            4
3      enhancing tumour (ET)                       4            3            3            1
=====  ==========================================  ===========  ===========  ===========  ==============

The classes follow from the convention's regions, so that every convention is covered the same way: ET is the ET
region, the core class is TC without ET, oedema is WT without TC, and every other value is background
(``brats2024_gli`` and the 2024 metastases are as ``brats2023``; their resection cavity 4 is background, as in the
region mode without the ``brats2024.json`` overlay). Back to labels, a class gets the value the region mode writes
(:func:`scripts.transforms.regions_to_label`): the ET value, the first core value that is not ET, the first WT
value that is not TC, so both modes write the same label maps.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from scripts.data.label_conventions import BRATS_CONVENTIONS, CONVENTION_META_KEY, LabelConvention, get_convention

from ._labels import as_label_tensor, check_values, convention_of, where

BRATS_CLASSES = ("background", "NCR", "ED", "ET")
"""The label mode's classes in channel order: background, necrotic / non-enhancing core, oedema, enhancing
tumour; the order of the rows and columns of ``scripts.losses.BRATS_LABEL_DISTANCES``."""


def class_values(convention: LabelConvention | str) -> tuple[tuple[int, ...], ...]:
    """The label values of each class of :data:`BRATS_CLASSES` in ``convention`` (background: every value of the
    convention outside the tumour, 0 included)."""
    conv = get_convention(convention) if isinstance(convention, str) else convention
    if conv.name not in BRATS_CONVENTIONS:
        raise ValueError(f"convention {conv.name!r} is not a BraTS convention {list(BRATS_CONVENTIONS)}.")
    et = tuple(conv.regions["ET"])
    core = tuple(v for v in conv.regions["TC"] if v not in et)
    oedema = tuple(v for v in conv.regions["WT"] if v not in conv.regions["TC"])
    background = tuple(v for v in conv.values if v not in conv.regions["WT"])
    return background, core, oedema, et


def label_to_classes(label, convention: LabelConvention | str, case: object = None, key: object = None) -> torch.Tensor:
    """A label map with ``convention``'s values -> the class indices 0..3 of :data:`BRATS_CLASSES`, same shape and
    dtype (a MetaTensor stays one). Raises a ValueError naming values outside the convention (and case / key)."""
    conv = get_convention(convention) if isinstance(convention, str) else convention
    values = class_values(conv)
    label = as_label_tensor(label)
    check_values(label, conv, case, key)
    out = torch.zeros_like(label)
    for index, class_vals in enumerate(values[1:], start=1):
        mask = torch.isin(label, torch.tensor(class_vals, dtype=label.dtype, device=label.device))
        out = torch.where(mask, torch.as_tensor(index, dtype=label.dtype, device=label.device), out)
    return out


def classes_to_label(
    classes, convention: LabelConvention | str, dtype: torch.dtype = torch.uint8, case: object = None
) -> torch.Tensor:
    """Class indices 0..3 of :data:`BRATS_CLASSES` (e.g. the argmax of the softmax, ``(1, *spatial)``) -> a label
    map with ``convention``'s values, the ones the region mode writes; same shape, ``dtype``."""
    conv = get_convention(convention) if isinstance(convention, str) else convention
    values = class_values(conv)
    classes = as_label_tensor(classes)
    plain = classes.as_tensor() if isinstance(classes, MetaTensor) else classes
    if plain.is_floating_point() and not torch.isfinite(plain).all():
        raise ValueError(f"class map contains NaN or infinite values{where(case)}.")
    found = torch.unique(plain.detach())
    outside = found[(found < 0) | (found >= len(BRATS_CLASSES)) | (found != torch.round(found))]
    if outside.numel():
        shown = ", ".join(f"{v:g}" for v in outside[:10].double().tolist())
        raise ValueError(
            f"class map values [{shown}]{where(case)} are not class indices 0..{len(BRATS_CLASSES) - 1} "
            f"{BRATS_CLASSES} (take the argmax of the {len(BRATS_CLASSES)} channels first)."
        )
    out = torch.zeros_like(classes, dtype=dtype)
    for index, class_vals in enumerate(values[1:], start=1):
        out = torch.where(classes == index, torch.as_tensor(class_vals[0], dtype=dtype, device=out.device), out)
    return out


class LabelToClassesd(MapTransform):
    """Bring a BraTS label map to the class indices of the label mode: 0 background, 1 NCR, 2 ED, 3 ET
    (:data:`BRATS_CLASSES`), per the case's label convention.

    The convention is read from ``data[convention_key]`` (as written by ``scripts.data.build_datalist``), else
    ``convention``. The label keeps its shape and dtype; its metadata records the convention it had
    (``"label_convention"``).

    Raises:
        ValueError: label values outside the convention (named, with the case), a non-BraTS convention.
    """

    def __init__(
        self,
        keys: KeysCollection = "label",
        convention_key: str | None = "convention",
        convention: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.convention_key = convention_key
        self.convention = convention

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        conv = convention_of(d, self.convention_key, self.convention, BRATS_CONVENTIONS, type(self).__name__)
        for key in self.key_iterator(d):
            d[key] = label_to_classes(d[key], conv, d.get("case"), key)
            if isinstance(d[key], MetaTensor):
                d[key].meta[CONVENTION_META_KEY] = conv.name
        return d


class ClassesToLabeld(MapTransform):
    """Inverse of :class:`LabelToClassesd` for validation and inference: class indices 0..3 -> a label map with the
    data set's own values (brats2021: 1 NCR, 2 ED, 4 ET; brats2023: 1, 2, 3; msd_task01: 1 oedema,
    2 non-enhancing, 3 enhancing), the same values the region mode writes.

    Args:
        keys: keys of ``(1, *spatial)`` class maps (``AsDiscreted(argmax=True)``'s output).
        convention: the convention to write (default for every case).
        convention_key: key holding a per-case convention (takes precedence when present).
        dtype: output dtype.
    """

    def __init__(
        self,
        keys: KeysCollection = "pred",
        convention: str | None = "brats2021",
        convention_key: str | None = None,
        dtype: torch.dtype = torch.uint8,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.convention = convention
        self.convention_key = convention_key
        self.dtype = dtype

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        conv = convention_of(d, self.convention_key, self.convention, BRATS_CONVENTIONS, type(self).__name__)
        for key in self.key_iterator(d):
            d[key] = classes_to_label(d[key], conv, self.dtype, d.get("case"))
        return d
