"""KiTS label maps in the KiTS19 classes (0 background, 1 kidney, 2 tumour), from KiTS19 or KiTS21/23 data."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from scripts.data.label_conventions import CONVENTION_META_KEY, KITS_CONVENTIONS, get_convention

from ._labels import as_label_tensor, check_values, convention_of

CYST = 3


def kits_labels(label, convention: str, cyst_as: int = 1, case: object = None, key: object = None) -> torch.Tensor:
    """Check ``label`` against ``convention`` and map a KiTS21/23 cyst (3) to ``cyst_as``; same shape and dtype."""
    conv = get_convention(convention, None if case is None else str(case))
    label = as_label_tensor(label)
    check_values(label, conv, case, key)
    if conv.name == "kits23":
        label = torch.where(label == CYST, torch.as_tensor(cyst_as, dtype=label.dtype), label)
    return label


class KiTSLabelsd(MapTransform):
    """Bring KiTS labels to the KiTS19 classes 0 background, 1 kidney, 2 tumour.

    ``kits19`` labels are checked and kept. ``kits23`` (KiTS21/23) labels have a cyst class 3, mapped to
    ``cyst_as``: 1 (kidney) by default, as KiTS19's own annotations label cysts as kidney (the KiTS19 changelog,
    2019-04-15, removed two complex cysts "to avoid ambiguity with other cysts labeled as kidney"), so cysts belong
    to the kidney-and-tumour region; 0 drops them to background, 2 counts them as tumour (KiTS21/23's "masses").

    Args:
        keys: label keys.
        convention_key: key holding the convention (``"kits19"`` or ``"kits23"``); ``None`` to use ``convention``.
        convention: default convention.
        cyst_as: class given to cysts: 0, 1 or 2.

    The label's metadata records the convention it had (``"label_convention"``), so that the KiTS23 metrics can
    tell KiTS23 cases from KiTS19 ones after the cysts are mapped.

    Raises:
        ValueError: label values outside the convention (named, with the case), a non-KiTS convention, a bad
            ``cyst_as``.
    """

    def __init__(
        self,
        keys: KeysCollection = "label",
        convention_key: str | None = "convention",
        convention: str | None = None,
        cyst_as: int = 1,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if isinstance(cyst_as, bool) or cyst_as not in (0, 1, 2):
            raise ValueError(f"cyst_as must be 0 (background), 1 (kidney) or 2 (tumour), got {cyst_as!r}.")
        self.convention_key = convention_key
        self.convention = convention
        self.cyst_as = int(cyst_as)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        conv = convention_of(d, self.convention_key, self.convention, KITS_CONVENTIONS, type(self).__name__)
        for key in self.key_iterator(d):
            d[key] = kits_labels(d[key], conv.name, self.cyst_as, d.get("case"), key)
            if isinstance(d[key], MetaTensor):
                d[key].meta[CONVENTION_META_KEY] = conv.name  # what the label was, for the KiTS23 metrics
        return d
