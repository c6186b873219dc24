"""The full-resolution output of a deeply supervised network, for what runs after the loss in training."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from monai.config import KeysCollection
from monai.transforms import MapTransform


class FullResolutiond(MapTransform):
    """Replace a list or tuple of output levels (a deeply supervised network in training mode, highest resolution
    first: ``scripts.networks.DeepSupervisionNetwork``) by its first, the full-resolution output; anything else
    is left as it is. First in the training postprocessing, so that the training metric sees what validation and
    inference see."""

    def __init__(self, keys: KeysCollection = "pred", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            if isinstance(d[key], (list, tuple)):
                if not d[key]:
                    raise ValueError(f"{key!r} is an empty list of output levels.")
                d[key] = d[key][0]
        return d
