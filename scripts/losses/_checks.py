"""Checks of a loss's arguments and inputs: each raises a ``ValueError`` that names the problem and the value.

They run before the loss's formula, outside ``torch.compile`` (the value checks read a few numbers back from the
device). What the checks accept is documented in ``docs/losses.md`` ("Bad input").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

REDUCTIONS = ("mean", "sum", "none")


class LossInputError(ValueError, AssertionError):
    """Bad input to a loss. A ``ValueError``; also an ``AssertionError``, which MONAI's losses raise for a target
    whose shape does not match the input, so that code written against MONAI catches it as before."""


def check_reduction(reduction: str) -> str:
    reduction = getattr(reduction, "value", reduction)  # MONAI's LossReduction enum
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}.")
    return reduction


def check_range(
    name: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float; a ValueError naming ``name`` unless it is finite and within the interval."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open else "[") + f"{lo}, {hi}" + (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {interval}, got {value:g}.")
    return value


def check_weights(name: str, value: float | Sequence[float] | torch.Tensor | None) -> torch.Tensor | None:
    """Per-class weights as a float32 tensor (or None); a ValueError unless every entry is finite and >= 0."""
    if value is None:
        return None
    try:  # checked in float64: a tiny negative weight must not round to 0 first
        weights = torch.as_tensor(value, dtype=torch.float64).detach().clone()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a number or a sequence of numbers, got {value!r}.") from None
    if weights.numel() == 0 or not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}.")
    return weights.float()


def check_activation(sigmoid: bool, softmax: bool, other_act: Callable | None) -> None:
    if sigmoid and softmax:
        raise ValueError("sigmoid=True and softmax=True are mutually exclusive; choose one.")
    if other_act is not None and (sigmoid or softmax):
        raise ValueError("other_act cannot be combined with sigmoid=True or softmax=True.")
    if other_act is not None and not callable(other_act):
        raise ValueError(f"other_act must be callable, got {type(other_act).__name__}.")


def check_shapes(
    input: torch.Tensor, target: torch.Tensor, *, to_onehot_y: bool, softmax: bool, include_background: bool = True
) -> None:
    """Types, shapes and their agreement with the flags (no data is read)."""
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise LossInputError(
            f"input and target must be tensors, got {type(input).__name__} and {type(target).__name__}."
        )
    if input.ndim < 3:
        raise LossInputError(
            f"input must have shape (B, C, *spatial) with at least one spatial dim, got {tuple(input.shape)}."
        )
    if target.ndim != input.ndim:
        raise LossInputError(
            f"target must have the same number of dims as input (B, C, *spatial): input {tuple(input.shape)}, "
            f"target {tuple(target.shape)}."
        )
    if target.shape[0] != input.shape[0] or target.shape[2:] != input.shape[2:]:
        raise LossInputError(
            f"target batch and spatial shape must equal input's: input {tuple(input.shape)}, "
            f"target {tuple(target.shape)}."
        )
    n_classes = input.shape[1]
    if softmax and n_classes == 1:
        raise LossInputError("softmax=True needs at least 2 channels, got input with 1 channel; use sigmoid=True.")
    if not include_background and n_classes == 1:
        raise LossInputError("include_background=False needs at least 2 channels; input has 1.")
    if to_onehot_y and target.shape[1] != 1:
        raise LossInputError(
            f"to_onehot_y=True expects a label target of shape (B, 1, *spatial), got {tuple(target.shape)}."
        )
    if not to_onehot_y and target.shape[1] != n_classes:
        raise LossInputError(
            f"target has {target.shape[1]} channel(s) but input has {n_classes}; pass a one-hot target with "
            f"{n_classes} channels, or labels (B, 1, *spatial) with to_onehot_y=True."
        )


def value_stats(
    input: torch.Tensor, target: torch.Tensor, ignore_index: int | None = None, labels: bool = False
) -> torch.Tensor:
    """``[min, max, largest distance to a whole number (labels only)]`` of the target (``ignore_index`` read as 0)
    and the input's sum, as float64: what :func:`check_values` needs, as reductions that a compiled loss fuses
    into its own pass over the data; eagerly they read the data without copying it (NaN propagates)."""
    t = target.detach()
    if ignore_index is not None:
        t = torch.where(t == ignore_index, torch.zeros_like(t), t)
    lo, hi = torch.aminmax(t)
    fraction = torch.frac(t).abs().amax() if labels and t.is_floating_point() else torch.zeros_like(lo)
    total = input.detach().sum()
    return torch.stack([lo.double(), hi.double(), fraction.double(), total.double()])


def check_values(stats: torch.Tensor, input: torch.Tensor, *, to_onehot_y: bool) -> None:
    """Labels (``to_onehot_y=True``) are whole numbers in ``[0, C)`` (``{0, 1}`` with one channel); other targets
    hold values in ``[0, 1]``; no NaN or infinity anywhere. One device synchronisation reads ``stats``; the
    element-wise count of non-finite inputs runs only when their sum is not finite."""
    lo, hi, fraction, input_sum = stats.tolist()
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise LossInputError("target contains NaN or infinite values.")
    if to_onehot_y:
        n_labels = max(input.shape[1], 2)
        if lo < 0 or hi >= n_labels:
            raise LossInputError(f"target label values must lie in [0, {n_labels}), got values in [{lo:g}, {hi:g}].")
        if fraction > 0:
            raise LossInputError("target labels must be whole numbers; got fractional values.")
    elif lo < 0 or hi > 1:
        raise LossInputError(f"one-hot / binary target values must lie in [0, 1], got values in [{lo:g}, {hi:g}].")
    if not math.isfinite(input_sum):
        n_bad = int((~torch.isfinite(input.detach())).sum())
        if n_bad:
            raise LossInputError(f"input contains {n_bad} NaN or infinite value(s).")
