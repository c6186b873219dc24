"""Writing files: every file the bundle writes goes through :mod:`scripts.files.atomic` (crash-safe, mode 0644);
MONAI's ``SaveImaged`` through :class:`AtomicNibabelWriter`.
"""

from .atomic import (
    atomic_open,
    atomic_path,
    fsync_folder,
    write_bytes,
    write_csv,
    write_json,
    write_nifti,
    write_text,
    write_torch,
)
from .nifti_writer import AtomicNibabelWriter

__all__ = [
    "AtomicNibabelWriter",
    "atomic_open",
    "atomic_path",
    "fsync_folder",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_nifti",
    "write_text",
    "write_torch",
]
