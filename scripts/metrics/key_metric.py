"""Choose the key validation metric (the one that selects the best checkpoint) by name from a config's choices."""

from __future__ import annotations

from collections.abc import Mapping


def choose_key_metric(name: str, choices: Mapping[str, object]) -> dict[str, object]:
    """``{name: choices[name]}`` for an evaluator's ``key_val_metric``; ValueError naming the choices otherwise.

    Example: ``"key_metric": {"_target_": "scripts.metrics.choose_key_metric", "name": "@key_metric_name",
    "choices": "@validate#key_metric_choices"}``.
    """
    if name not in choices:
        raise ValueError(f"key_metric_name {name!r} is not one of the validation metrics {sorted(choices)}.")
    return {name: choices[name]}
