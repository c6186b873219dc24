"""MONAI's ``NibabelWriter`` writing through :func:`scripts.files.atomic_path`, for ``SaveImaged(writer=...)``.

Inference writes its label maps with it (``"writer": "scripts.files.AtomicNibabelWriter"``): a killed run leaves a
complete prediction or none, never a truncated ``.nii.gz`` that a later evaluation would read. Only the public
``ImageWriter.write(filename, verbose, **kwargs)`` is extended.
"""

from __future__ import annotations

import logging
from typing import Any

from monai.data import NibabelWriter

from .atomic import atomic_path

logger = logging.getLogger(__name__)


class AtomicNibabelWriter(NibabelWriter):
    """``NibabelWriter`` whose ``write`` goes to a temporary file beside ``filename`` (same suffixes, so the same
    compression), fsynced, mode 0644, then renamed over ``filename``."""

    def write(self, filename: Any, verbose: bool = False, **obj_kwargs: Any) -> None:
        if verbose:
            logger.info(f"writing: {filename}")
        with atomic_path(filename, "NIfTI file") as tmp:
            super().write(tmp, verbose=False, **obj_kwargs)
