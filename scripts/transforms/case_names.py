"""Name written predictions after their case: ``<output_dir>/<case>.nii.gz``.

Datalist entries carry a ``case`` key (``scripts.data``); :class:`CaseToMetad` copies it into the image's
metadata, which follows the prediction through inference and ``Invertd``, and :func:`case_name_formatter`
gives it to ``SaveImaged(output_name_formatter=...)`` in place of the first input file's name.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform

CASE_META_KEY = "case"


class CaseToMetad(MapTransform):
    """Copy ``data[case_key]`` into the metadata of each of ``keys`` (MetaTensors) under ``"case"``."""

    def __init__(self, keys: KeysCollection, case_key: str = "case", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.case_key = case_key

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        if self.case_key not in d:
            raise ValueError(f"datalist entry has no {self.case_key!r} key to name its outputs; keys: {sorted(d)}")
        for key in self.key_iterator(d):
            if not isinstance(d[key], MetaTensor):
                raise ValueError(f"{key!r} of case {d[self.case_key]!r} must be a MetaTensor (load it with LoadImaged)")
            d[key].meta[CASE_META_KEY] = str(d[self.case_key])
        return d


def case_name_formatter(metadict: dict, saver: Transform) -> dict:
    """``SaveImaged`` name formatter: the case name from :class:`CaseToMetad` as the file's subject name."""
    if not metadict or CASE_META_KEY not in metadict:
        raise ValueError(f"no {CASE_META_KEY!r} in the prediction's metadata: add CaseToMetad to the preprocessing")
    case = metadict[CASE_META_KEY]
    if isinstance(case, (list, tuple)):  # collated and not decollated: one case per item
        case = case[0]
    return {"subject": str(case), "idx": metadict.get("patch_index")}
