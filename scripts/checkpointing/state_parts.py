"""Parts of the training state that have no ``state_dict`` of their own, given one so that ignite's ``Checkpoint``
can save and load them next to the network and optimizer. Every value is a tensor, number, string or plain container,
so the file loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine
from monai.transforms import Randomizable, Transform

from .checkpoint_saver import AtomicCheckpointSaver


def _numpy_state(state: tuple) -> dict:
    """``RandomState.get_state()`` with the key array as a tensor (numpy arrays are refused by weights_only)."""
    name, keys, pos, has_gauss, cached_gaussian = state
    if name != "MT19937":
        raise ValueError(f"unsupported numpy bit generator {name!r}")
    return {
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached_gaussian),
    }


def _numpy_tuple(state: Mapping) -> tuple:
    keys = state["keys"].cpu().numpy().astype(np.uint32)
    return ("MT19937", keys, state["pos"], state["has_gauss"], state["cached_gaussian"])


def find_random_states(transforms: Any) -> list[np.random.RandomState]:
    """The distinct ``RandomState`` objects of every MONAI ``Randomizable`` in ``transforms``, in a fixed order.

    Walks lists/tuples and the attributes of transforms (``Compose.transforms``, the array transform a dictionary
    transform wraps, ...). The same configuration gives the same order, which is what resuming needs.
    """
    found: list[np.random.RandomState] = []
    seen: set[int] = set()

    def visit(obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            children = list(obj)
        elif isinstance(obj, (Transform, Randomizable)):
            if isinstance(obj, Randomizable) and id(obj.R) not in seen:
                seen.add(id(obj.R))
                found.append(obj.R)
            children = list(vars(obj).values())
        else:
            return
        for child in children:
            visit(child)

    visit(transforms)
    return found


class RandomStates:
    """Random number generators: Python ``random``, numpy's global one, torch CPU (and CUDA when present), and the
    ``RandomState`` of each random MONAI transform in ``transforms`` (these drive augmentation when the data loader
    has no worker processes; with workers, each epoch's worker seeds are drawn from the torch generator).
    """

    def __init__(self, transforms: Any = None) -> None:
        self.transform_states = find_random_states(transforms) if transforms is not None else []

    def state_dict(self) -> dict:
        return {
            "python": random.getstate(),
            "numpy": _numpy_state(np.random.get_state()),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "transforms": [_numpy_state(rs.get_state()) for rs in self.transform_states],
        }

    def check(self, state: Mapping) -> None:
        """ValueError unless ``state`` has the parts and the number of transform generators this object restores."""
        missing = sorted({"python", "numpy", "torch", "cuda", "transforms"} - set(state))
        if missing:
            raise ValueError(f"the random states lack {missing}")
        saved = state["transforms"]
        if len(saved) != len(self.transform_states):
            raise ValueError(
                f"the checkpoint holds the random states of {len(saved)} random transforms, this configuration has "
                f"{len(self.transform_states)}: the training transforms changed since it was written"
            )

    def load_state_dict(self, state: Mapping) -> None:
        self.check(state)
        saved = state["transforms"]
        random.setstate(state["python"])
        np.random.set_state(_numpy_tuple(state["numpy"]))
        torch.set_rng_state(state["torch"].cpu())
        if torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
        for rs, s in zip(self.transform_states, saved, strict=True):
            rs.set_state(_numpy_tuple(s))


class ScalerState:
    """The AMP ``GradScaler`` of a MONAI trainer, looked up when used: ``Trainer.run()`` creates it (anew on each
    call), after the handlers were attached, so it exists from ``Events.STARTED`` on."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def state_dict(self) -> dict:
        scaler = getattr(self.engine, "scaler", None)
        return {} if scaler is None else scaler.state_dict()

    def load_state_dict(self, state: Mapping) -> None:
        scaler = getattr(self.engine, "scaler", None)
        if scaler is None:
            return
        if not state and scaler.is_enabled():  # written where the scaler was disabled (no CUDA): keep the default
            warnings.warn(
                "the checkpoint holds no AMP GradScaler state (written without CUDA); starting a new one", stacklevel=2
            )
            return
        scaler.load_state_dict(state)


def _plain_number(value: Any) -> float:
    return float(value.item() if isinstance(value, torch.Tensor) else value)


class BestMetrics:
    """``best_metric`` and ``best_metric_epoch`` of MONAI engines (trainer and validator), by name."""

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self.engines = dict(engines)

    def state_dict(self) -> dict:
        return {
            name: {
                "best_metric": _plain_number(e.state.best_metric),
                "best_metric_epoch": int(e.state.best_metric_epoch),
            }
            for name, e in self.engines.items()
        }

    def load_state_dict(self, state: Mapping) -> None:
        missing = sorted(set(self.engines) - set(state))
        if missing:
            raise ValueError(f"the checkpoint has no best metric of {missing}")
        for name, engine in self.engines.items():
            engine.state.best_metric = state[name]["best_metric"]
            engine.state.best_metric_epoch = state[name]["best_metric_epoch"]


class KeyMetricSaverState:
    """Which score the best-model file (``model.pt``) of each :class:`AtomicCheckpointSaver` with
    ``save_key_metric=True`` holds. Without it a resumed run would overwrite ``model.pt`` at its first validation,
    even with a worse model.
    """

    def __init__(self, savers: Sequence[AtomicCheckpointSaver]) -> None:
        for saver in savers:
            if not isinstance(saver, AtomicCheckpointSaver) or saver.key_metric_checkpoint is None:
                raise ValueError(
                    "best_model_savers must be scripts.checkpointing.AtomicCheckpointSaver handlers with "
                    f"save_key_metric=True, got {type(saver).__name__}"
                    + (" with save_key_metric=False" if isinstance(saver, AtomicCheckpointSaver) else "")
                )
        self.savers = list(savers)

    def state_dict(self) -> dict:
        out = []
        for saver in self.savers:
            saved = saver.state_dict()["_saved"]
            out.append({"_saved": [(_plain_number(priority), str(filename)) for priority, filename in saved]})
        return {"savers": out}

    def load_state_dict(self, state: Mapping) -> None:
        if len(state["savers"]) != len(self.savers):
            raise ValueError(
                f"the checkpoint holds the best-model scores of {len(state['savers'])} key-metric savers, "
                f"this configuration has {len(self.savers)}"
            )
        for saver, saved in zip(self.savers, state["savers"], strict=True):
            saver.load_state_dict(saved)
