"""ignite ``DiskSaver`` whose checkpoints are written by :func:`scripts.files.write_torch` (crash-safe, mode 0644).

ignite's ``DiskSaver(atomic=True)`` does the rename but neither fsync, and its file is private (0600).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import ignite.distributed as idist
from ignite.handlers import DiskSaver

from scripts.files import write_torch


class AtomicDiskSaver(DiskSaver):
    """ignite ``DiskSaver`` writing with :func:`~scripts.files.write_torch`, optionally always under one fixed name.

    ignite's ``Checkpoint`` calls ``remove(old)`` *before* writing the new checkpoint, which for a fixed file name
    deletes the only copy for the duration of the write. Here removals are deferred until the next save has
    succeeded and skipped for the name just written (the rename already swapped it), so there is always one complete
    checkpoint on disk.

    Args:
        dirname: destination folder (created if missing, on the saving rank).
        filename: fixed file name used for every save instead of the name ignite generates (e.g. ``model.pt``);
            ``None`` keeps ignite's names.
        save_on_rank: the rank that writes (distributed training); the others do nothing.
    """

    def __init__(self, dirname: str | Path, filename: str | None = None, save_on_rank: int = 0) -> None:
        super().__init__(dirname=dirname, atomic=True, create_dir=True, require_empty=False, save_on_rank=save_on_rank)
        self.filename = filename
        self.pending_removals: list[str] = []

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        filename = self.filename or filename
        if idist.get_rank() != self.save_on_rank:
            return
        write_torch(self.dirname / filename, checkpoint)
        pending, self.pending_removals = self.pending_removals, []
        for old in pending:
            if old != filename:
                (self.dirname / old).unlink(missing_ok=True)

    def remove(self, filename: str) -> None:
        if idist.get_rank() == self.save_on_rank:
            self.pending_removals.append(self.filename or filename)
