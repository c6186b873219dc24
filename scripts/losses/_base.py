"""Shared input handling for every loss of the package.

One place decides what a loss receives: the checks on shapes, target values and activation flags (each
raises a ``ValueError`` that names the problem and the offending value), the activation in float32
outside autocast (float64 input stays float64, for gradcheck), the label-to-one-hot conversion, the voxel
sums (by default the region statistics ``TP``, ``sum p`` and ``sum g``) from which every region loss is
written, and the final reduction. The sums are computed on slices of the voxels
(:mod:`scripts.losses._chunked`): no full-size probability, one-hot or product tensor is built.

Conventions (see ``docs/losses.md``):

- ``input`` is ``(B, C, *spatial)`` logits, or probabilities when no activation is set.
- ``target`` is ``(B, 1, *spatial)`` integer labels (with ``to_onehot_y=True``) or ``(B, C, *spatial)``
  one-hot / binary values in ``[0, 1]``.
- ``reduction="none"`` returns per ``(b, c)`` values of shape ``(B, C)`` (``(1, C)`` with ``batch=True``),
  which broadcast against ``(B, C)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch.nn.modules.loss import _Loss

from ._activation import Prims, SliceActivation
from ._chunked import TermsKernel, voxel_sums

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
    """Raise a ValueError naming ``name`` and ``value`` unless it is finite and ``low <= value <= high`` (or
    strict)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if value != value:
        raise ValueError(f"{name} must not be NaN.")
    if math.isinf(value):
        raise ValueError(f"{name} must be finite, got {value:g}.")
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


def _whole_numbers(t: torch.Tensor) -> bool:
    """``t == round(t)`` everywhere; in slices on CPU, where a full-size temporary costs more than the test."""
    if t.device.type != "cpu":
        return torch.equal(t, torch.round(t))
    flat = t.reshape(-1)
    return all(torch.equal(part, torch.round(part)) for part in flat.split(1 << 18))


def check_input_target(input: torch.Tensor, target: torch.Tensor, *, to_onehot_y: bool, softmax: bool) -> None:
    """Validate shapes, values and their agreement with the flags; raise ValueError naming the problem.

    The value checks cost two reductions (the target's min/max, the input's sum) and one device sync; the
    slower element-wise tests run only once a reduction has found something wrong."""
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
    floating = target.is_floating_point() or target.is_complex()
    t = target.detach().float() if floating else target.detach()
    lo, hi = torch.aminmax(t)
    input_sum = input.detach().sum(dtype=torch.float32)
    # one sync for the three numbers; aminmax propagates NaN, so a non-finite target shows in lo or hi
    lo, hi, input_sum = torch.stack([lo.double(), hi.double(), input_sum.double()]).tolist()
    if floating and not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("target contains NaN or infinite values.")
    if to_onehot_y:
        n_labels = max(n_classes, 2)
        if lo < 0 or hi >= n_labels:
            raise ValueError(f"target label values must lie in [0, {n_labels}), got values in [{lo:g}, {hi:g}].")
        if target.is_floating_point() and not _whole_numbers(t):
            raise ValueError("target labels must be whole numbers; got fractional values.")
    elif lo < 0 or hi > 1:
        raise ValueError(f"one-hot / binary target values must lie in [0, 1], got values in [{lo:g}, {hi:g}].")
    if not math.isfinite(input_sum):
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


def chunk_one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, 1, n) whole-number labels (any dtype, checked) to a (B, num_classes, n) one-hot of ``dtype``.

    Used on the slices of :func:`scripts.losses._chunked.voxel_sums`, so no full-size one-hot is ever built.
    The comparison writes into a float tensor directly (several times faster than a bool one-hot cast)."""
    classes = torch.arange(num_classes, device=labels.device).view(1, num_classes, 1)
    out = torch.empty((labels.shape[0], num_classes, *labels.shape[2:]), dtype=dtype, device=labels.device)
    return torch.eq(labels, classes, out=out)


def activation_mode(sigmoid: bool, softmax: bool) -> str:
    """The :class:`scripts.losses._activation.SliceActivation` mode of the flags."""
    return "sigmoid" if sigmoid else "softmax" if softmax else "none"


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
    """Base class: MONAI's common arguments, validation, and the voxel sums every region loss is written from.

    A subclass says which sums over the voxels it needs, per ``(b, c)``: :meth:`voxel_terms` maps a slice of
    probabilities ``p`` and one-hot target ``g`` (both ``(B, C, n)``, float32, or float64 for float64 input,
    background already dropped when ``include_background=False``) to a tuple of ``(B, C)`` sums over the
    slice's ``n`` voxels (default: ``TP = sum p g``, ``sum p``, ``sum g``). :meth:`head` turns the sums over
    the whole volume (pooled over the batch when ``batch=True``) into the per ``(b, c)`` loss (``(1, C)`` with
    ``batch=True``); the base class reduces it. The sums are computed slice by slice by
    :func:`scripts.losses._chunked.voxel_sums`: no full-size probability, one-hot or product tensor is built.
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
        """Validate, activate and one-hot the whole volume; drop the background channel when
        ``include_background=False``. (The fast path, :meth:`forward`, does this slice by slice.)"""
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

    def slice_pair(self, prims: Prims, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, g)`` of one slice ``(B, C, n)``: one-hot target, background dropped where asked."""
        p = prims.p
        n_classes = p.shape[1]  # region losses read p: their activations always provide it
        g = chunk_one_hot(target, n_classes, p.dtype) if self.to_onehot_y and n_classes > 1 else target.to(p.dtype)
        if not self.include_background:
            p, g = p[:, 1:], g[:, 1:]
        return p, g

    def voxel_terms(self, p: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Sums over the last (voxel) axis of a slice; default ``(TP, sum p, sum g)``."""
        return (p * g).sum(-1), p.sum(-1), g.sum(-1)

    def voxel_partials(self, p: torch.Tensor, g: torch.Tensor, grads: Sequence[torch.Tensor]) -> torch.Tensor:
        """``d (sum_k grads[k] * voxel_terms(p, g)[k]) / dp`` per voxel, by hand (default: ``u_TP g + u_p``)."""
        u_tp, u_p = grads[0].unsqueeze(-1), grads[1].unsqueeze(-1)
        return torch.addcmul(u_p, u_tp, g)

    def full_channels(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """A per-voxel gradient of the kept channels with a zero channel 0 put back (``include_background=False``)."""
        if t is None or self.include_background:
            return t
        return torch.cat([torch.zeros_like(t[:, :1]), t], 1)

    def head(self, sums: Sequence[torch.Tensor], n_voxels: int) -> torch.Tensor:
        """Per ``(b, c)`` loss from the volume sums; ``n_voxels`` is the number of voxels summed over per row."""
        raise NotImplementedError

    def pool(self, sums: Sequence[torch.Tensor], n_voxels: int) -> tuple[list[torch.Tensor], int]:
        """Per-sample sums and voxel count, pooled over the batch when ``batch=True``."""
        if not self.batch:
            return list(sums), n_voxels
        return [s.sum(0, keepdim=True) for s in sums], n_voxels * sums[0].shape[0]

    def activated_input(self, input: torch.Tensor) -> tuple[torch.Tensor, str]:
        """What the slices are computed from and their activation mode: the logits, or, for ``other_act`` (not
        known to be element-wise), the probabilities of the whole volume (mode ``"none"``)."""
        if self.other_act is None:
            return input, activation_mode(self.sigmoid, self.softmax)
        return activate(input, False, False, self.other_act), "none"

    def kernel(self, mode: str) -> TermsKernel:
        """The slice kernel: :meth:`voxel_terms` of :meth:`slice_pair`, differentiated by :meth:`voxel_partials`."""

        def partials(pair: tuple[torch.Tensor, torch.Tensor], grads: Sequence[torch.Tensor]) -> tuple:
            return self.full_channels(self.voxel_partials(*pair, grads)), None, None

        return TermsKernel(SliceActivation(mode), self.slice_pair, lambda pair: self.voxel_terms(*pair), partials)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=device_type(input), enabled=False):
            check_input_target(input, target, to_onehot_y=self.to_onehot_y, softmax=self.softmax)
            x, mode = self.activated_input(input)
            if not self.include_background and input.shape[1] == 1:
                raise ValueError("include_background=False needs at least 2 channels; input has 1.")
            sums, n_voxels = self.pool(voxel_sums(self.kernel(mode), x, target), input[0, 0].numel())
            return reduce(self.head(sums, n_voxels), self.reduction)
