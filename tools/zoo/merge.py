"""Merging config overlays the way ``monai.bundle run --config_file "[a, b]"`` does, and writing the result."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

from monai.bundle import ConfigParser


def merge_configs(files: Sequence[str]) -> dict:
    """The raw config (references and expressions kept) that MONAI builds from ``files`` in order."""
    for f in files:
        if not os.path.isfile(f):
            raise FileNotFoundError(f"config file not found: {os.path.abspath(f)}")
    return copy.deepcopy(ConfigParser.load_config_files(list(files)))


def top_level_overlay(base: dict, full: dict) -> dict:
    """The top-level ids of ``full`` that differ from ``base``: merged after ``base`` they give ``full``.

    Overlays cannot delete ids, so every id of ``base`` must be in ``full``."""
    missing = sorted(set(base) - set(full))
    if missing:
        raise ValueError(f"merged config lost ids {missing}: an overlay cannot remove ids.")
    return {k: v for k, v in full.items() if k not in base or base[k] != v}
