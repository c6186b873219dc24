"""MONAI's ``CheckpointSaver`` writing its files (``model.pt``, ``model_last.pt``, ...) atomically."""

from __future__ import annotations

from monai.handlers import CheckpointSaver

from .atomic_saver import AtomicDiskSaver


class AtomicCheckpointSaver(CheckpointSaver):
    """``monai.handlers.CheckpointSaver`` (same arguments, same files) whose writes go through
    :class:`AtomicDiskSaver`: MONAI's own saver deletes the previous ``model.pt`` and then writes the new one in
    place, so a crash in between leaves no model or half of one.

    MONAI 1.6.1 builds its ignite ``Checkpoint`` objects in ``__init__`` with a private ``DiskSaver``; their
    ``save_handler`` is replaced here, keeping the fixed file name each was given.
    """

    def __init__(self, save_dir: str, save_dict: dict, **kwargs) -> None:
        super().__init__(save_dir, save_dict, **kwargs)
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                checkpoint.save_handler = AtomicDiskSaver(save_dir, filename=checkpoint.save_handler.filename)
