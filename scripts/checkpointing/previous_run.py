"""A warning before training replaces the model of an earlier run in the same checkpoint folder."""

from __future__ import annotations

import logging
import os

from .safe_load import load_checkpoint
from .training_state import as_bool

logger = logging.getLogger(__name__)


def previous_best(state_path: str) -> str:
    """The earlier run's best validation metric and its epoch, from its training state, as words."""
    try:
        best = load_checkpoint(state_path, map_location="cpu")["best_metrics"]["validator"]
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):
        return "best metric unknown (no readable training_state.pt)"
    return f"best validation metric {best['best_metric']:.4f} at epoch {best['best_metric_epoch']}"


def warn_previous_model(ckpt_dir: str, state_path: str, resume: bool | str = False) -> str | None:
    """Warn (and return the warning) when ``ckpt_dir/model.pt`` exists and this run does not resume: training
    writes its own best model over it. A warning, not a refusal, so that the README's quick start can be rerun."""
    model = os.path.join(ckpt_dir, "model.pt")
    if as_bool(resume, "resume") or not os.path.exists(model):
        return None
    message = (
        f"{os.path.abspath(model)} holds an earlier run's model ({previous_best(state_path)}); this run replaces it "
        "after its first validation. Copy it away, set --ckpt_dir to another folder, or pass --resume True."
    )
    logger.warning(message)
    return message
