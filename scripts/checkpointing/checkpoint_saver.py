"""The bundle's checkpoint handler (``model.pt``, ``model_last.pt``, ...): MONAI's ``CheckpointSaver`` arguments and
file names, built on ignite's public ``Checkpoint`` with :class:`AtomicDiskSaver`, and a public state.

MONAI's ``CheckpointSaver`` deletes the previous ``model.pt`` and then writes the new one in place (a crash in between
leaves no model, or half of one), builds its ignite ``Checkpoint`` objects with a private saver that cannot be
replaced, and offers ``load_state_dict`` but no ``state_dict``. This class owns its ``Checkpoint`` objects instead, so
that the training state (:class:`~scripts.checkpointing.TrainingStateHandler`, given this saver by reference in the
config) can save and restore which score ``model.pt`` holds, through public API only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import ignite.distributed as idist
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint

from .disk_saver import AtomicDiskSaver


class AtomicCheckpointSaver:
    """Save ``save_dict`` at the end of training, at the best key metric and/or every N epochs, atomically.

    The arguments and file names are those of ``monai.handlers.CheckpointSaver`` (MONAI 1.6.1) that the bundle uses;
    a fixed ``final_filename`` / ``key_metric_filename`` replaces ignite's generated name.

    Args:
        save_dir: destination folder (created on the saving rank).
        save_dict: objects to save, e.g. ``{"model": net}`` (a single object is saved as its own ``state_dict``).
        file_prefix: prefix of the generated file names.
        save_final: save when the engine completes, and when it raises (the exception is re-raised).
        final_filename: fixed name of the final checkpoint (default ``<prefix>_<name>_final_iteration=N.pt``).
        save_key_metric: save when the key metric is better than every earlier value.
        key_metric_name: the metric of ``engine.state.metrics``; default ``engine.state.key_metric_name``.
        key_metric_n_saved: keep the best N (1 with a fixed ``key_metric_filename``).
        key_metric_filename: fixed name of the best-metric checkpoint, e.g. ``model.pt``.
        key_metric_greater_or_equal: an equal score replaces the saved model (default: the first one stays).
        key_metric_negative_sign: smaller is better (error-like metrics).
        epoch_level: ``save_interval`` counts epochs (``True``) or iterations.
        save_interval: save every N epochs/iterations; 0: never.
        n_saved: keep the last N interval checkpoints; ``None``: all.
        save_on_rank: the rank that writes in distributed training (every rank keeps the same scores).
    """

    def __init__(
        self,
        save_dir: str,
        save_dict: Mapping[str, Any],
        file_prefix: str = "",
        save_final: bool = False,
        final_filename: str | None = None,
        save_key_metric: bool = False,
        key_metric_name: str | None = None,
        key_metric_n_saved: int = 1,
        key_metric_filename: str | None = None,
        key_metric_greater_or_equal: bool = False,
        key_metric_negative_sign: bool = False,
        epoch_level: bool = True,
        save_interval: int = 0,
        n_saved: int | None = None,
        save_on_rank: int = 0,
    ) -> None:
        if not save_dict:
            raise ValueError("AtomicCheckpointSaver: save_dict is empty, nothing to save")
        if key_metric_filename is not None and key_metric_n_saved != 1:
            raise ValueError(
                f"a fixed key_metric_filename keeps one model, got key_metric_n_saved={key_metric_n_saved}"
            )
        self.save_dir = os.fspath(save_dir)
        self.save_dict = dict(save_dict)
        self.final_filename = final_filename
        self.key_metric_name = key_metric_name
        self.key_metric_sign = -1.0 if key_metric_negative_sign else 1.0
        self.epoch_level = epoch_level
        self.save_interval = save_interval
        self.save_on_rank = save_on_rank
        self.logger = logging.getLogger(__name__)

        def checkpoint(filename: str | None, **kwargs: Any) -> Checkpoint:
            saver = AtomicDiskSaver(self.save_dir, filename=filename, save_on_rank=save_on_rank)
            return Checkpoint(self.save_dict, saver, filename_prefix=file_prefix, save_on_rank=save_on_rank, **kwargs)

        self.final_checkpoint = (
            checkpoint(final_filename, score_function=self.iteration, score_name="final_iteration")
            if save_final
            else None
        )
        self.key_metric_checkpoint = (
            checkpoint(
                key_metric_filename,
                score_function=self.key_metric_score,
                score_name="key_metric",
                n_saved=key_metric_n_saved,
                greater_or_equal=key_metric_greater_or_equal,
            )
            if save_key_metric
            else None
        )
        self.interval_checkpoint = (
            checkpoint(
                None,
                score_function=self.epoch if epoch_level else self.iteration,
                score_name="epoch" if epoch_level else "iteration",
                n_saved=n_saved,
            )
            if save_interval > 0
            else None
        )

    @staticmethod
    def iteration(engine: Engine) -> int:
        return engine.state.iteration

    @staticmethod
    def epoch(engine: Engine) -> int:
        return engine.state.epoch

    def key_metric_score(self, engine: Engine) -> float:
        """The key metric of ``engine`` (sign-flipped for ``key_metric_negative_sign``), as a plain number."""
        name = self.key_metric_name or getattr(engine.state, "key_metric_name", None)
        if name is None:
            raise ValueError("save_key_metric=True needs key_metric_name or an engine with a key metric")
        value = engine.state.metrics[name]
        try:
            return self.key_metric_sign * float(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"key metric {name!r} must be a scalar to compare checkpoints, got {value!r}") from err

    def attach(self, engine: Engine) -> None:
        self.logger = engine.logger
        if self.final_checkpoint is not None:
            engine.add_event_handler(Events.COMPLETED, self.completed)
            engine.add_event_handler(Events.EXCEPTION_RAISED, self.exception_raised)
        if self.key_metric_checkpoint is not None:
            engine.add_event_handler(Events.EPOCH_COMPLETED, self.key_metric_checkpoint)
        if self.interval_checkpoint is not None:
            event = Events.EPOCH_COMPLETED if self.epoch_level else Events.ITERATION_COMPLETED
            engine.add_event_handler(event(every=self.save_interval), self.interval_checkpoint)

    def completed(self, engine: Engine) -> None:
        self.final_checkpoint(engine)
        if idist.get_rank() == self.save_on_rank:
            self.logger.info(f"Train completed, saved final checkpoint: {self.final_path()}")

    def exception_raised(self, engine: Engine, error: Exception) -> None:
        """Save the final checkpoint, then re-raise ``error`` (ignite runs only this ``EXCEPTION_RAISED`` handler
        when it is the first attached, as with MONAI's saver)."""
        self.final_checkpoint(engine)
        if idist.get_rank() == self.save_on_rank:
            self.logger.info(f"Exception raised, saved the last checkpoint: {self.final_path()}")
        raise error

    def final_path(self) -> str:
        """Where the final checkpoint is (its fixed name, or the last name ignite generated)."""
        if self.final_filename is not None:
            return os.path.join(self.save_dir, self.final_filename)
        return str(self.final_checkpoint.last_checkpoint)

    def state_dict(self) -> dict:
        """The key-metric tracking list, ``{"_saved": [(score, filename), ...]}`` (ignite's ``Checkpoint`` format)."""
        if self.key_metric_checkpoint is None:
            raise ValueError("this saver has save_key_metric=False: it tracks no key metric")
        return dict(self.key_metric_checkpoint.state_dict())

    def load_state_dict(self, state: Mapping) -> None:
        """Restore the list :meth:`state_dict` returned, so that a worse model does not replace the saved best one."""
        if self.key_metric_checkpoint is None:
            raise ValueError("this saver has save_key_metric=False: it tracks no key metric")
        self.key_metric_checkpoint.load_state_dict(state)
