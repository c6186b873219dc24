"""Save the whole training state every epoch (atomically) and continue an interrupted run from it."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint

from .checkpoint_saver import AtomicCheckpointSaver
from .disk_saver import AtomicDiskSaver
from .safe_load import load_checkpoint
from .state_parts import BestMetrics, KeyMetricSaverState, RandomStates, ScalerState

RESERVED_KEYS = ("trainer", "scaler", "best_metrics", "rng", "best_model_saver")
AT_START = ("trainer", "rng", "scaler")  # restored at Events.STARTED; the rest when the handler is attached
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def as_bool(value: Any, name: str) -> bool:
    """``True``/``False`` from a bool or the strings a command line gives (``--resume true``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name} must be true or false, got {value!r}")


class TrainingStateHandler:
    """Write the full training state to ``path`` at the end of every epoch; with ``resume`` continue from it.

    The file (``torch.load(weights_only=True)``-safe, written with :class:`AtomicDiskSaver` so that a kill during the
    write leaves the previous epoch's file intact) holds:

    - the objects of ``save_dict`` (network, optimizer, LR scheduler: anything with ``state_dict``; a
      ``DistributedDataParallel`` network is saved unwrapped, as ignite's ``Checkpoint`` does);
    - ``trainer``: the engine's epoch, iteration, epoch length and max epochs;
    - ``scaler``: the AMP ``GradScaler`` of the trainer, when AMP is on (``{}`` when it is disabled, without CUDA);
    - ``best_metrics``: best metric and its epoch of the trainer and of ``validator``;
    - ``best_model_saver``: the score of the model in the best-model file (``model.pt``) of each saver of
      ``best_model_savers`` (when there is one);
    - ``rng``: Python, numpy, torch (CPU/CUDA) generators and the random transforms of ``transforms``.

    On resume the file is read and checked, and the objects restored, when the trainer attaches this handler; the
    epoch/iteration counters and random streams follow at ``Events.STARTED``, so that ``Engine.run`` continues from
    the loaded epoch and the run ends at the configured ``max_epochs``, as an uninterrupted run would; completed
    epochs are not repeated. With ``resume`` false an existing file is overwritten at the end of the first epoch (a
    warning says so); with ``resume`` true and no file the run starts from scratch, so a job script can always pass
    it. A damaged or mismatching file stops the run before training, with a ValueError naming it.

    Attach it after the LR-schedule and validation handlers: ignite runs ``EPOCH_COMPLETED`` handlers in the order
    they were attached, and the saved state must include the epoch's scheduler step and validation result.

    Args:
        path: the training-state file (e.g. ``models/training_state.pt``).
        save_dict: objects to save, by name, e.g. ``{"network": net, "optimizer": opt, "lr_scheduler": sched}``.
        resume: continue from ``path`` when it exists (bool, or "true"/"false" from the command line).
        validator: the evaluator run by ``ValidationHandler`` (its best metric is saved), or ``None``.
        transforms: the training transforms (e.g. their ``Compose``) whose random states are saved, or ``None``.
        best_model_savers: the :class:`AtomicCheckpointSaver` handlers with ``save_key_metric=True`` (the
            validator's ``model.pt`` saver, by reference in the config: ``["@validate#best_model_saver"]``).
        save: whether this process writes the file (``False`` on non-zero ranks); every rank loads it on resume.
        map_location: where the loaded tensors go (the training device).
    """

    def __init__(
        self,
        path: str,
        save_dict: Mapping[str, Any],
        resume: bool | str = False,
        validator: Engine | None = None,
        transforms: Any = None,
        best_model_savers: Sequence[AtomicCheckpointSaver] = (),
        save: bool = True,
        map_location: Any = None,
    ) -> None:
        clash = sorted(set(save_dict) & set(RESERVED_KEYS))
        if clash:
            raise ValueError(f"save_dict keys {clash} are reserved by TrainingStateHandler: rename them")
        self.path = os.path.abspath(os.fspath(path))
        self.save_dict = dict(save_dict)
        self.resume = as_bool(resume, "resume")
        self.validator = validator
        self.transforms = transforms
        self.best_model_state = KeyMetricSaverState(best_model_savers) if best_model_savers else None
        self.save = as_bool(save, "save")
        self.map_location = map_location
        self.objects: dict[str, Any] = {}
        self._pending: Mapping | None = None
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        self.logger = engine.logger
        objects = dict(self.save_dict)
        objects["trainer"] = engine
        if getattr(engine, "amp", False):
            objects["scaler"] = ScalerState(engine)
        engines = {"trainer": engine} if self.validator is None else {"trainer": engine, "validator": self.validator}
        objects["best_metrics"] = BestMetrics(engines)
        objects["rng"] = RandomStates(self.transforms)
        if self.best_model_state is not None:
            objects["best_model_saver"] = self.best_model_state
        self.objects = objects
        self._pending = self._load_now(engine)
        engine.add_event_handler(Events.STARTED, self._restore_progress)
        if self.save:
            folder, name = os.path.split(self.path)
            pattern = name.replace("{", "{{").replace("}", "}}")  # a fixed name, not an ignite pattern
            checkpoint = Checkpoint(objects, AtomicDiskSaver(folder), filename_pattern=pattern, n_saved=None)
            engine.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)

    def _load_now(self, engine: Engine) -> Mapping | None:
        """Read and check the file and restore all but the progress counters and random streams.

        Done while the trainer is built, so that a damaged or mismatching file stops the run before it starts:
        an error at ``Events.STARTED`` would fire ``EXCEPTION_RAISED``, on which the final-checkpoint saver
        (``AtomicCheckpointSaver(save_final=True)``) overwrites ``model_last.pt`` with the untrained network.
        """
        if not self.resume:
            if os.path.exists(self.path):
                self.logger.warning(
                    f"{self.path} holds the state of an earlier run; this run starts from scratch and overwrites it "
                    "after its first epoch (pass --resume True to continue that run instead)"
                )
            return None
        if not os.path.exists(self.path):
            self.logger.info(f"resume: no training state at {self.path} yet, starting from scratch")
            return None
        state = load_checkpoint(self.path, map_location=self.map_location)
        missing = sorted(set(self.objects) - set(state)) if isinstance(state, Mapping) else sorted(self.objects)
        if missing:
            raise ValueError(
                f"training state {self.path} lacks {missing}: it was not written by this configuration "
                "(e.g. AMP or validation switched on since). Delete it to start from scratch."
            )
        max_epochs, epoch_length = engine.state.max_epochs, engine.state.epoch_length
        saved = state["trainer"]
        if saved.get("epoch_length") != epoch_length:
            raise ValueError(
                f"training state {self.path} was written with {saved.get('epoch_length')} iterations per epoch, "
                f"this run has {epoch_length}: the training data, batch size or number of ranks changed. "
                "Delete it to start from scratch."
            )
        done = saved["iteration"] // epoch_length
        if max_epochs is not None and done > max_epochs:
            raise ValueError(
                f"training state {self.path} has {done} epochs done, more than the configured {max_epochs} epochs: "
                "raise epochs, or delete it to start from scratch"
            )
        try:
            self.objects["rng"].check(state["rng"])
            now = {k: v for k, v in self.objects.items() if k not in AT_START}
            Checkpoint.load_objects(to_load=now, checkpoint=state, strict=True)
        except (RuntimeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"training state {self.path} does not fit this configuration: {err}") from err
        return state

    def _restore_progress(self, engine: Engine) -> None:
        """``Events.STARTED``: counters and random streams, so that ``Engine.run`` continues from them, and the AMP
        scaler, which MONAI's ``Trainer.run()`` creates only now."""
        state, self._pending = self._pending, None
        if state is None:
            return
        max_epochs = engine.state.max_epochs
        Checkpoint.load_objects(to_load={k: v for k, v in self.objects.items() if k in AT_START}, checkpoint=state)
        engine.state.max_epochs = max_epochs  # keep the configured number; the file holds the one it ran with
        self.logger.info(
            f"resumed from {self.path}: {engine.state.epoch} of {max_epochs} epochs done "
            f"(iteration {engine.state.iteration})"
        )
