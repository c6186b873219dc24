"""Every file the bundle writes goes through here: a reader, or a restart after a kill, sees the old file or the new.

The content is written to a temporary file in the destination folder (same file system, so the rename is atomic),
named ``.<name>.partial-<random><suffixes>`` (the same suffixes, so that writers choosing the format by the file
name, such as ``nibabel.save``, write the right one), fsynced, given mode 0644, renamed over the destination with
``os.replace``, and the folder is fsynced so that the rename itself survives a power cut. An exception while
writing removes the temporary file and leaves an existing destination untouched; an ``OSError`` without a file name
(disk full: ENOSPC, quota) is re-raised naming the destination. A SIGKILL can leave a ``.<name>.partial-*`` file
behind: the next successful write of the same name removes it.

Two primitives, :func:`atomic_path` (for writers that take a path) and :func:`atomic_open` (for writers that take a
file object), and one function per kind of file the bundle writes: :func:`write_bytes`, :func:`write_text`,
:func:`write_json`, :func:`write_csv` (a pandas ``DataFrame``), :func:`write_torch` (checkpoints),
:func:`write_nifti` (a nibabel image). Each creates missing parent folders and returns the absolute path written.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import torch

PARTIAL_TAG = ".partial-"
FILE_MODE = 0o644


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable; file systems that cannot fsync a folder (EINVAL) are left as they are."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _suffixes(name: str) -> str:
    """``"img.nii.gz"`` -> ``".nii.gz"``, ``"model.pt"`` -> ``".pt"``, ``".hidden"`` / ``"LICENSE"`` -> ``""``."""
    stem = name.lstrip(".")
    return stem[stem.index(".") :] if "." in stem else ""


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, what: str = "file") -> Iterator[str]:
    """Yield a temporary path beside ``path``; when the block ends without an exception it replaces ``path``.

    ``what`` names the file in the error raised for an ``OSError`` without a file name
    (``could not write <what>: No space left on device: '<path>'``).
    """
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    tmp = ""
    try:
        fd, tmp = _mkstemp(folder, name)
        os.close(fd)
        yield tmp
        os.chmod(tmp, FILE_MODE)  # mkstemp makes the file private (0600)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        if tmp and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and err.filename is None:
            raise OSError(err.errno, f"could not write {what}: {err.strerror}", path) from err
        raise
    fsync_folder(folder)
    for stale in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}{PARTIAL_TAG}*")):
        with contextlib.suppress(FileNotFoundError):  # another process cleaning up the same name
            os.remove(stale)  # left by a process killed while writing this file


def _mkstemp(folder: str, name: str) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=f".{name}{PARTIAL_TAG}", suffix=_suffixes(name), dir=folder)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", what: str = "file", **open_kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` for writing (``"w"`` or ``"wb"``) through :func:`atomic_path`.

    Text mode defaults to UTF-8; pass ``newline=""`` for the ``csv`` module.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path, what) as tmp, open(tmp, mode, **open_kwargs) as f:
        yield f


def write_bytes(path: str | os.PathLike, data: bytes, what: str = "file") -> str:
    """Write ``data`` to ``path`` atomically; returns the absolute path."""
    with atomic_open(path, "wb", what) as f:
        f.write(data)
    return os.path.abspath(os.fspath(path))


def write_text(path: str | os.PathLike, text: str, what: str = "file") -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the absolute path."""
    return write_bytes(path, text.encode("utf-8"), what)


def write_json(path: str | os.PathLike, content: object, **dumps_kwargs: Any) -> str:
    """Write ``content`` as JSON (``indent=2`` unless given, then a newline) to ``path`` atomically.

    ``dumps_kwargs`` go to ``json.dumps`` (``allow_nan=False``, ``separators``, ``default``, ...).
    """
    dumps_kwargs.setdefault("indent", 2)
    return write_text(path, json.dumps(content, **dumps_kwargs) + "\n", "JSON file")


def write_csv(path: str | os.PathLike, frame: Any, **to_csv_kwargs: Any) -> str:
    """Write a pandas ``DataFrame`` with ``frame.to_csv(**to_csv_kwargs)`` (``index=False`` unless given)."""
    to_csv_kwargs.setdefault("index", False)
    with atomic_open(path, "w", "CSV file", newline="") as f:
        frame.to_csv(f, **to_csv_kwargs)
    return os.path.abspath(os.fspath(path))


def write_torch(path: str | os.PathLike, obj: object) -> str:
    """``torch.save(obj, path)`` atomically (checkpoints); returns the absolute path."""
    with atomic_open(path, "wb", "checkpoint") as f:
        torch.save(obj, f)
    return os.path.abspath(os.fspath(path))


def write_nifti(path: str | os.PathLike, image: Any) -> str:
    """``nibabel.save(image, path)`` atomically (``.nii`` or ``.nii.gz`` chosen by ``path``'s name)."""
    import nibabel as nib

    with atomic_path(path, "NIfTI file") as tmp:
        nib.save(image, tmp)
    return os.path.abspath(os.fspath(path))
