"""Crash-safe checkpoints: atomic writes (through :mod:`scripts.files`), full training state for resuming, loading
with ``weights_only=True``.
"""

from .checkpoint_saver import AtomicCheckpointSaver
from .disk_saver import AtomicDiskSaver
from .previous_run import warn_previous_model
from .safe_load import load_checkpoint, require_checkpoint
from .training_state import TrainingStateHandler

__all__ = [
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "TrainingStateHandler",
    "load_checkpoint",
    "require_checkpoint",
    "warn_previous_model",
]
