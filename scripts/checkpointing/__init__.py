"""Crash-safe checkpoints: atomic writes, full training state for resuming, loading with ``weights_only=True``."""

from .atomic_saver import AtomicDiskSaver, save_atomic
from .checkpoint_saver import AtomicCheckpointSaver
from .safe_load import load_checkpoint, require_checkpoint
from .training_state import TrainingStateHandler

__all__ = [
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "TrainingStateHandler",
    "load_checkpoint",
    "require_checkpoint",
    "save_atomic",
]
