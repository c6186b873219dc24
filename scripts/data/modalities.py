"""The bundle's BraTS image channels and how a source names them: channels are matched by modality, never by
position.

The order is fixed, FLAIR, T1, T1ce, T2 (``configs/metadata.json``'s ``channel_def``; the order of the model zoo's
``brats_mri_segmentation`` network input and of MSD Task01's 4-D images). BraTS 2023/2024 call them t2f, t1n, t1c,
t2w; MSD FLAIR, T1w, t1gd, T2w.
"""

from __future__ import annotations

import os

CHANNELS = ("FLAIR", "T1", "T1ce", "T2")

NAMES = {
    "flair": "FLAIR",
    "t2f": "FLAIR",
    "t2flair": "FLAIR",
    "t1": "T1",
    "t1n": "T1",
    "t1w": "T1",
    "t1ce": "T1ce",
    "t1c": "T1ce",
    "t1gd": "T1ce",
    "t1cegd": "T1ce",
    "t2": "T2",
    "t2w": "T2",
}
"""Modality name (lower case, without ``-``/``_``) -> channel."""


def modality_of_name(name: str) -> str | None:
    """``"T1w"`` -> ``"T1"``, ``"t1gd"`` -> ``"T1ce"``; ``None`` for a name that is not a modality."""
    return NAMES.get(name.strip().lower().replace("-", "").replace("_", ""))


def modality_of_file(path: str) -> str | None:
    """The modality of an image file from the suffix after its last ``_`` or ``-`` (``x_t1ce.nii.gz`` -> T1ce,
    ``x-t2f.nii.gz`` -> FLAIR); ``None`` when there is none."""
    name = os.path.basename(path)
    for ext in (".nii.gz", ".nii"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    cut = max(name.rfind("_"), name.rfind("-"))
    return modality_of_name(name[cut + 1 :]) if cut >= 0 else None
