"""Writing files: every file the bundle writes goes through :mod:`scripts.files.atomic` (crash-safe, mode 0644);
MONAI's ``SaveImaged`` through :class:`AtomicNibabelWriter`; :func:`require_writable_dirs` checks the output
folders before a run starts.
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
from .writable_folders import require_writable_dirs

__all__ = [
    "AtomicNibabelWriter",
    "atomic_open",
    "atomic_path",
    "fsync_folder",
    "require_writable_dirs",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_nifti",
    "write_text",
    "write_torch",
]
