"""Shared input handling for every loss of the package.

One place decides what a loss receives: the checks on shapes, target values and activation flags (each
raises a ``ValueError`` that names the problem and the offending value), the activation in float32
outside autocast (float64 input stays float64, for gradcheck), the label-to-one-hot conversion, the region
statistics ``TP``, ``sum p`` and ``sum g`` from which every region loss is written, and the final reduction.

Conventions (see ``docs/losses.md``):

- ``input`` is ``(B, C, *spatial)`` logits, or probabilities when no activation is set.
- ``target`` is ``(B, 1, *spatial)`` integer labels (with ``to_onehot_y=True``) or ``(B, C, *spatial)``
  one-hot / binary values in ``[0, 1]``.
- ``reduction="none"`` returns per ``(b, c)`` values of shape ``(B, C)`` (``(1, C)`` with ``batch=True``),
  which broadcast against ``(B, C)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.modules.loss import _Loss

REDUCTIONS = ("mean", "sum", "none")

# Floor for the base of a power with exponent < 1: x**e has an infinite slope at x = 0 when e < 1.
POW_EPS = 1e-7


def check_reduction(reduction: str) -> str:
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
    """Raise a ValueError naming ``name`` and ``value`` unless ``low <= value <= high`` (or strict)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if value != value:
        raise ValueError(f"{name} must not be NaN.")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open else "[") + f"{lo}, {hi}" + (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {interval}, got {value:g}.")
    return value


def check_activation(sigmoid: bool, softmax: bool, other_act: Callable | None) -> None:
    if sigmoid and softmax:
        raise ValueError("sigmoid=True and softmax=True are mutually exclusive; choose one.")
    if other_act is not None and (sigmoid or softmax):
        raise ValueError("other_act cannot be combined with sigmoid=True or softmax=True.")
    if other_act is not None and not callable(other_act):
        raise ValueError(f"other_act must be callable, got {type(other_act).__name__}.")


def check_input_target(input: torch.Tensor, target: torch.Tensor, *, to_onehot_y: bool, softmax: bool) -> None:
    """Validate shapes, values and their agreement with the flags; raise ValueError naming the problem."""
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ValueError(f"input and target must be tensors, got {type(input).__name__} and {type(target).__name__}.")
    if input.ndim < 3:
        raise ValueError(
            f"input must have shape (B, C, *spatial) with at least one spatial dim, got {tuple(input.shape)}."
        )
    if target.ndim != input.ndim:
        raise ValueError(
            f"target must have the same number of dims as input (B, C, *spatial): input {tuple(input.shape)}, "
            f"target {tuple(target.shape)}."
        )
    if target.shape[0] != input.shape[0] or target.shape[2:] != input.shape[2:]:
        raise ValueError(
            f"target batch and spatial shape must equal input's: input {tuple(input.shape)}, "
            f"target {tuple(target.shape)}."
        )
    n_classes = input.shape[1]
    if softmax and n_classes == 1:
        raise ValueError("softmax=True needs at least 2 channels, got input with 1 channel; use sigmoid=True.")
    if to_onehot_y:
        if target.shape[1] != 1:
            raise ValueError(
                f"to_onehot_y=True expects a label target of shape (B, 1, *spatial), got {tuple(target.shape)}."
            )
    elif target.shape[1] != n_classes:
        raise ValueError(
            f"target has {target.shape[1]} channel(s) but input has {n_classes}; pass a one-hot target with "
            f"{n_classes} channels, or labels (B, 1, *spatial) with to_onehot_y=True."
        )
    if target.is_floating_point() or target.is_complex():
        t = target.detach().float()
        # one reduction on the fast path; the element-wise test only when the sum is not finite (it can
        # overflow for huge finite values)
        if not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
            raise ValueError("target contains NaN or infinite values.")
    else:
        t = target.detach()
    lo, hi = torch.aminmax(t)
    lo, hi = lo.item(), hi.item()
    if to_onehot_y:
        n_labels = max(n_classes, 2)
        if lo < 0 or hi >= n_labels:
            raise ValueError(f"target label values must lie in [0, {n_labels}), got values in [{lo:g}, {hi:g}].")
        if target.is_floating_point() and not torch.equal(t, torch.round(t)):
            raise ValueError("target labels must be whole numbers; got fractional values.")
    elif lo < 0 or hi > 1:
        raise ValueError(f"one-hot / binary target values must lie in [0, 1], got values in [{lo:g}, {hi:g}].")
    if not torch.isfinite(input.detach().sum(dtype=torch.float32)):
        n_bad = int((~torch.isfinite(input.detach())).sum())
        if n_bad:
            raise ValueError(f"input contains {n_bad} NaN or infinite value(s).")


def device_type(x: object) -> str:
    """Device type for ``torch.autocast``; a non-tensor falls through to the input checks, which name it."""
    return x.device.type if isinstance(x, torch.Tensor) else "cpu"


def activate(input: torch.Tensor, sigmoid: bool, softmax: bool, other_act: Callable | None) -> torch.Tensor:
    """Probabilities in float32, or float64 for float64 input (call outside autocast)."""
    x = input if input.dtype == torch.float64 else input.float()
    if sigmoid:
        return torch.sigmoid(x)
    if softmax:
        return torch.softmax(x, dim=1)
    if other_act is not None:
        return other_act(x).to(x.dtype)
    return x


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, 1, *spatial) labels to (B, num_classes, *spatial) float32 one-hot."""
    shape = list(labels.shape)
    shape[1] = num_classes
    out = torch.zeros(shape, dtype=torch.float32, device=labels.device)
    return out.scatter_(1, labels.long(), 1.0)


def sum_dims(ndim: int, batch: bool) -> tuple[int, ...]:
    """Dims summed for a region statistic: spatial dims, plus the batch dim when ``batch=True``."""
    spatial = tuple(range(2, ndim))
    return (0, *spatial) if batch else spatial


def region_stats(p: torch.Tensor, g: torch.Tensor, batch: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``TP = sum p g``, ``sum p`` and ``sum g`` per (b, c), or per c (shape (1, C)) when ``batch=True``.

    FP and FN follow: ``FP = sum p - TP``, ``FN = sum g - TP``.
    """
    dims = sum_dims(p.ndim, batch)
    tp = (p * g).sum(dims)
    sp = p.sum(dims)
    sg = g.sum(dims)
    if batch:
        tp, sp, sg = tp[None], sp[None], sg[None]
    return tp, sp, sg


def safe_pow(base: torch.Tensor, exponent: float, eps: float = POW_EPS) -> torch.Tensor:
    """``base ** exponent`` for ``base >= 0``; with ``exponent < 1`` the base is clamped to ``>= eps`` first so
    that value and gradient stay finite at ``base = 0`` (e.g. a perfect prediction). ``exponent >= 1`` is exact."""
    if exponent < 1:
        base = base.clamp_min(eps)
    return base.pow(exponent)


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class ImbalanceLoss(_Loss):
    """Base class: MONAI's common arguments, validation and the float32 (probabilities, one-hot) pair.

    Subclasses implement ``compute(p, g)`` on float32 (float64 for float64 input) probabilities ``p`` and
    one-hot target ``g`` of the same dtype (both ``(B, C, *spatial)``, background already removed when
    ``include_background=False``) and return a per ``(b, c)`` loss (or ``(1, C)`` with ``batch=True``); the
    base class reduces it.
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
    ) -> None:
        super().__init__(reduction=check_reduction(str(reduction)))
        check_activation(sigmoid, softmax, other_act)
        self.include_background = include_background
        self.to_onehot_y = to_onehot_y
        self.sigmoid = sigmoid
        self.softmax = softmax
        self.other_act = other_act
        self.smooth_nr = check_range("smooth_nr", smooth_nr, low=0.0)
        self.smooth_dr = check_range("smooth_dr", smooth_dr, low=0.0)
        self.batch = batch

    def prepare(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate, activate and one-hot; drop the background channel when ``include_background=False``."""
        check_input_target(input, target, to_onehot_y=self.to_onehot_y, softmax=self.softmax)
        p = activate(input, self.sigmoid, self.softmax, self.other_act)
        n_classes = input.shape[1]
        g = one_hot(target, n_classes) if self.to_onehot_y and n_classes > 1 else target
        g = g.to(p.dtype)
        if not self.include_background:
            if n_classes == 1:
                raise ValueError("include_background=False needs at least 2 channels; input has 1.")
            p, g = p[:, 1:], g[:, 1:]
        return p, g

    def compute(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=device_type(input), enabled=False):
            p, g = self.prepare(input, target)
            return reduce(self.compute(p, g), self.reduction)
