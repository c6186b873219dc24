"""The voxel spacing a workflow resamples to: given explicitly, or the one the built-in data set was generated with,
or the real data set's median.

The built-in synthetic data sets record how they were generated in ``synthetic.json`` beside their cases
(:mod:`scripts.data.synthetic`); its ``spacing`` is what they must be resampled to (their own). A real download has no
such file and gets ``default`` (e.g. KiTS19's median spacing). The answer depends on the data set's content, not on
its path: a copy of the built-in data elsewhere keeps its spacing, and MONAI Label (whose images arrive one at a time,
without a data set folder) gets ``default``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from .synthetic import MANIFEST


def _as_spacing(value: object, what: str) -> list[float]:
    try:
        spacing = [float(s) for s in value]  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be three positive numbers (mm), got {value!r}") from err
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f"{what} must be three positive numbers (mm), got {value!r}")
    return spacing


def target_spacing(
    dataset_dir: str | os.PathLike | None, spacing: Sequence[float] | None, default: Sequence[float]
) -> list[float]:
    """``spacing`` when it is given; else the ``spacing`` recorded in ``dataset_dir/synthetic.json`` (the built-in
    data set); else ``default``.

    Raises:
        ValueError: a spacing that is not three positive numbers, or an unreadable ``synthetic.json``.
    """
    if spacing is not None:
        return _as_spacing(spacing, "spacing")
    manifest = os.path.join(os.fspath(dataset_dir), MANIFEST) if dataset_dir else ""
    if manifest and os.path.isfile(manifest):
        try:
            with open(manifest, encoding="utf-8") as f:
                recorded = json.load(f).get("spacing")
        except (OSError, ValueError, AttributeError) as err:
            raise ValueError(f"built-in data set manifest {manifest} cannot be read: {err}") from err
        if recorded is not None:
            return _as_spacing(recorded, f"spacing of {manifest}")
    return _as_spacing(default, "the default spacing")
