"""Crash-safe checkpoint files: a reader, or a restart after a kill, sees the previous file or the new one, never half.

The checkpoint is written to a temporary file in the destination folder (same file system, so the rename is atomic),
flushed and fsynced, renamed over the destination with ``os.replace``, and the folder is fsynced so that the rename
itself survives a power cut. ignite's ``DiskSaver(atomic=True)`` does the rename but neither fsync, and MONAI's
``CheckpointSaver`` turns atomic writing off; :class:`AtomicDiskSaver` is a ``DiskSaver`` that does all of it.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

import ignite.distributed as idist
import torch
from ignite.handlers import DiskSaver

PARTIAL_TAG = ".partial-"


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable; file systems that cannot fsync a folder (EINVAL) are left as they are."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def save_atomic(obj: object, path: str | os.PathLike) -> str:
    """``torch.save(obj, path)`` through a fsynced temporary file and ``os.replace``; returns the absolute path.

    An exception while writing (disk full, kill signal turned into an exception) removes the temporary file and
    leaves an existing ``path`` untouched; an ``OSError`` is re-raised naming ``path``. A SIGKILL can leave a
    ``.<name>.partial-*`` file behind: the next successful save of the same name removes it.
    """
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}{PARTIAL_TAG}", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the group/other read bits a plain torch.save would have
        os.chmod(tmp, os.stat(tmp).st_mode | stat.S_IRGRP | stat.S_IROTH)
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and err.filename is None:
            raise OSError(err.errno, f"could not write checkpoint: {err.strerror}", path) from err
        raise
    _fsync_dir(folder)
    for stale in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}{PARTIAL_TAG}*")):
        os.remove(stale)  # left by a process killed while writing this file
    return path


class AtomicDiskSaver(DiskSaver):
    """ignite ``DiskSaver`` writing with :func:`save_atomic`, optionally always under one fixed ``filename``.

    ignite's ``Checkpoint`` (and MONAI's ``CheckpointSaver`` through it) calls ``remove(old)`` *before* writing the
    new checkpoint, which for a fixed file name deletes the only copy for the duration of the write. Here removals
    are deferred until the next save has succeeded and skipped for the name just written (``os.replace`` already
    swapped it), so there is always one complete checkpoint on disk.

    Args:
        dirname: destination folder (created if missing, on the saving rank).
        filename: fixed file name used for every save instead of the name ignite generates (MONAI's convention
            for ``final_filename`` / ``key_metric_filename``); ``None`` keeps ignite's names.
        save_on_rank: the rank that writes (distributed training).
    """

    def __init__(self, dirname: str | Path, filename: str | None = None, save_on_rank: int = 0) -> None:
        super().__init__(dirname=dirname, atomic=True, create_dir=True, require_empty=False, save_on_rank=save_on_rank)
        self.filename = filename
        self._pending_removals: list[str] = []

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        filename = self.filename or filename
        if idist.get_rank() != self.save_on_rank:
            return
        save_atomic(checkpoint, self.dirname / filename)
        pending, self._pending_removals = self._pending_removals, []
        for old in pending:
            if old != filename:
                (self.dirname / old).unlink(missing_ok=True)

    def remove(self, filename: str) -> None:
        if idist.get_rank() == self.save_on_rank:
            self._pending_removals.append(self.filename or filename)
