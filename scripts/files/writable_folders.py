"""Fail before training starts when an output folder cannot be written (read-only, no permission, disk full)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Sequence

PROBE_BYTES = 64 * 1024


def _nearest_existing(path: str) -> str:
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _reason(err: OSError) -> str:
    name = errno.errorcode.get(err.errno, "")
    hint = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "no write permission",
        errno.EPERM: "no write permission",
    }.get(err.errno, err.strerror or str(err))
    return f"{hint} ({name}: {err.strerror})" if name else hint


def require_writable_dirs(paths: Sequence[str | None], min_free_mb: float = 100.0) -> list[str]:
    """Check that each folder in ``paths`` can be written and has ``min_free_mb`` MiB free; return them absolute.

    Nothing is created: a folder that does not exist yet is checked through its nearest existing parent (where it
    would be created), by writing, fsyncing and deleting a small probe file. ``None`` entries are skipped.

    Raises:
        ValueError: naming the folder and the reason: it is a file, a parent is a file, the probe write failed
            (read-only file system, permission, disk full, quota), or less than ``min_free_mb`` is free.
    """
    if min_free_mb < 0:
        raise ValueError(f"min_free_mb must be >= 0, got {min_free_mb}")
    checked = []
    for path in paths:
        if path is None:
            continue
        path = os.path.abspath(os.fspath(path))
        where = _nearest_existing(path)
        if not os.path.isdir(where):
            what = "is a file" if where == path else f"cannot be created: {where} is a file"
            raise ValueError(f"output folder {path} {what}, not a folder; set output_dir/ckpt_dir to a folder")
        try:
            fd, probe = tempfile.mkstemp(prefix=".write_probe_", dir=where)
        except OSError as err:
            raise ValueError(
                f"output folder {path} cannot be written: {_reason(err)} in {where}; "
                "set output_dir/ckpt_dir to a writable folder"
            ) from err
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"\0" * PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise ValueError(
                f"output folder {path} cannot be written: {_reason(err)} in {where}; "
                "free space or set output_dir/ckpt_dir to another folder"
            ) from err
        finally:
            if os.path.exists(probe):
                os.remove(probe)
        free_mb = shutil.disk_usage(where).free / 2**20
        if free_mb < min_free_mb:
            raise ValueError(
                f"output folder {path} has {free_mb:.1f} MiB free, less than min_free_mb={min_free_mb:g} MiB needed "
                "for checkpoints and logs; free space or set output_dir/ckpt_dir to another folder"
            )
        checked.append(path)
    return checked
