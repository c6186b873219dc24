"""The base class of every loss of the package: what all of them share, so that each loss's own file holds its
paper's formula and nothing else.

A loss subclasses :class:`SegmentationLoss` and writes :meth:`SegmentationLoss.formula`: from the logits (or
probabilities) and the target to the loss per ``(b, c)``, in plain torch, differentiated by autograd. The base
class checks the arguments and inputs (:mod:`scripts.losses._checks`), computes in float32 outside autocast
(float64 input stays float64), and runs ``formula`` plus the reduction through ``torch.compile`` (inductor: one
fused kernel per pass on CPU and CUDA), or eagerly with ``compile=False`` or where compilation is unavailable
(one warning says why). It also gives the formulas their vocabulary:

- :meth:`probabilities`, :meth:`log_probabilities`, :meth:`log_complements`: ``p``, ``log p`` and ``log(1 - p)``
  of the activation (``sigmoid``, ``softmax``, ``other_act`` or none), the logs taken from the logits where the
  activation is known (exact and finite for logits of any size);
- :meth:`one_hot_target`: the target as ``(B, C, *spatial)`` values in the compute dtype;
- :meth:`kept`: drops channel 0 when ``include_background=False``;
- :meth:`voxel_sum`: sums over the voxels per ``(b, c)``, or over the batch too with ``batch=True``;
- :meth:`confusion`: the soft ``TP, FP, FN`` per ``(b, c)`` (``TP = sum p g``, ``FP = sum p (1 - g)``,
  ``FN = sum (1 - p) g``).

Modes (``docs/losses.md``): ``softmax=True`` (or probabilities with 2+ channels and no ``sigmoid``) is
*categorical*: mutually exclusive classes, channel 0 the background. ``sigmoid=True`` (or one channel) is
*per-channel binary*: every channel is its own problem ``[1 - p_c, p_c]`` against ``[1 - g_c, g_c]``, e.g. the
overlapping BraTS regions.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch._dynamo.exc import TorchDynamoException
from torch.nn.modules.loss import _Loss

from ._checks import (
    LossInputError,
    check_activation,
    check_range,
    check_reduction,
    check_shapes,
    check_values,
    value_stats,
)

# Probabilities given as input (no activation) are clipped to this before a log, as Keras's reference codes do.
PROB_CLIP = 1e-7


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def pow_floored(base: torch.Tensor, exponent: float) -> torch.Tensor:
    """``base ** exponent`` for ``base >= 0``; an exponent below 1 has an infinite slope at 0, so there the base
    is floored at the smallest normal float (the value changes by less than 1e-11)."""
    if exponent < 1:
        base = base.clamp_min(torch.finfo(base.dtype).tiny)
    return base.pow(exponent)


def log1m_softmax(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - softmax(x)_c)`` along dim 1 without cancellation: ``log sum_{k != c} exp(x_k) - log sum_k
    exp(x_k)`` (``log1p(-p)`` is ``-inf`` once ``p`` rounds to 1)."""
    n = x.shape[1]
    others = torch.eye(n, dtype=torch.bool, device=x.device).view(1, n, n, *([1] * (x.ndim - 2)))
    lse_others = torch.logsumexp(x.unsqueeze(1).masked_fill(others, float("-inf")), dim=2)
    return lse_others - torch.logsumexp(x, dim=1, keepdim=True)


def own_copy(method: Callable) -> Callable:
    """A bound method whose function has a code object of its own. torch.compile keeps its compiled graphs, and
    its limit of recompilations (8), per code object: every loss would share this module's, and the ninth loss
    configuration of a process (a study, a benchmark) would silently run eagerly."""
    fn = method.__func__
    copy = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    return types.MethodType(copy, method.__self__)


def plain_tensor(t: object) -> object:
    """``t`` as a plain ``torch.Tensor`` view when it is a tensor subclass (same data, same autograd graph):
    torch.compile cannot trace MONAI's ``MetaTensor`` (what the data loader gives) and would fall back to eager."""
    return t.as_subclass(torch.Tensor) if isinstance(t, torch.Tensor) and type(t) is not torch.Tensor else t


def ignore_mask(target: torch.Tensor, ignore_index: int | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``(B, 1, *spatial)``: 1 where a voxel counts, 0 where ``ignore_index`` leaves it out (None: keep all), as
    MONAI: labels ``(B, 1, ...)``: the voxels labelled ``ignore_index``; one-hot ``(B, C, ...)``: those of class
    ``ignore_index`` when it is one, else (a sentinel such as -1 or 255) the voxels with no class at all."""
    if ignore_index is None:
        return None
    if target.shape[1] == 1:
        return (target != ignore_index).to(dtype)
    if 0 <= ignore_index < target.shape[1]:
        return 1 - target[:, ignore_index : ignore_index + 1].to(dtype)
    return (target.sum(1, keepdim=True) > 0).to(dtype)


def first_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (dynamo's add pages of context after it)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")


class CompileFallbackWarning(RuntimeWarning):
    """torch.compile failed for a loss, which runs eagerly from then on (same values, slower). Its own class so
    that a caller can make it an error (the test suite does: pyproject.toml) or silence it."""


class SegmentationLoss(_Loss):
    """Base class: MONAI's common arguments, the checks, activation, one-hot, soft confusion sums, reduction, and
    ``torch.compile``.

    Args:
        include_background: ``False`` drops channel 0 (see :meth:`kept`; needs 2+ channels).
        to_onehot_y: the target holds labels ``(B, 1, *spatial)``, made one-hot with ``C`` classes.
        sigmoid, softmax, other_act: the activation of the input (at most one); none: the input holds
            probabilities.
        reduction: ``"mean"`` / ``"sum"`` over the per ``(b, c)`` values, or ``"none"`` (each loss documents its
            shape).
        smooth_nr, smooth_dr: added to the numerator / denominator of the region ratios.
        batch: sum the region statistics over the batch before the ratios (``(1, C)`` values).
        compile: compute the formula through ``torch.compile`` (default); ``False``: eagerly.
    """

    # the categorical form has no meaning without the background term (it is what penalises false positives)
    categorical_keeps_background = False
    # a formula that fails on bad values (e.g. indexing by label) has them checked eagerly before it runs
    check_values_first = False
    ignore_index: int | None = None  # a label value left out of the loss (MONAI's drop-ins)

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
        compile: bool = True,
    ) -> None:
        super().__init__(reduction=check_reduction(reduction))
        check_activation(sigmoid, softmax, other_act)
        self.include_background = bool(include_background)
        self.to_onehot_y = bool(to_onehot_y)
        self.sigmoid = bool(sigmoid)
        self.softmax = bool(softmax)
        self.other_act = other_act
        self.smooth_nr = check_range("smooth_nr", smooth_nr, low=0.0)
        self.smooth_dr = check_range("smooth_dr", smooth_dr, low=0.0)
        self.batch = bool(batch)
        self.compile = bool(compile)
        self._compiled: Callable | None = None
        if softmax and not include_background and self.categorical_keeps_background:
            raise ValueError(self.background_needed())

    # ------------------------------------------------------------------ what a loss writes
    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss per ``(b, c)`` (or a tensor that broadcasts against it) from the checked ``input`` (float32 or
        float64) and ``target`` (as given)."""
        raise NotImplementedError

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        """Checks of types, shapes and flags before the formula (no data read); the values are checked after it,
        from statistics the compiled pass computes with the loss (:func:`scripts.losses._checks.value_stats`)."""
        check_shapes(
            input,
            target,
            to_onehot_y=self.to_onehot_y,
            softmax=self.softmax,
            include_background=self.include_background,
        )
        if not self.include_background and self.categorical_keeps_background and self.categorical(input.shape[1]):
            raise LossInputError(self.background_needed())

    def background_needed(self) -> str:
        return (
            f"include_background=False is not supported by {type(self).__name__} with mutually exclusive classes "
            "(softmax, or 2+ channels of probabilities): the background term is what penalises false positives."
        )

    # ------------------------------------------------------------------ running it
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        device = input.device.type if isinstance(input, torch.Tensor) else "cpu"
        input, target = plain_tensor(input), plain_tensor(target)
        with torch.autocast(device_type=device, enabled=False):
            self.check(input, target)
            x = input if input.dtype == torch.float64 else input.float()
            if self.check_values_first:
                check_values(
                    value_stats(x, target, self.ignore_index, self.to_onehot_y), input, to_onehot_y=self.to_onehot_y
                )
            loss, stats = self.run(self.checked_formula, x, target, *self.extra_inputs(x, target))
            check_values(stats, input, to_onehot_y=self.to_onehot_y)  # bad values raise before any backward
            return loss

    def extra_inputs(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Further arguments of :meth:`formula` computed eagerly before it (e.g. a voxel selection); none here."""
        return ()

    def reduced_formula(self, input: torch.Tensor, target: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        return reduce(self.formula(input, target, *extra), self.reduction)

    def checked_formula(self, input: torch.Tensor, target: torch.Tensor, *extra: torch.Tensor) -> tuple:
        """The reduced loss and the statistics of the value checks, in one (compiled) pass."""
        stats = value_stats(input, target, self.ignore_index, self.to_onehot_y)
        return self.reduced_formula(input, target, *extra), stats

    def run(self, fn: Callable[..., torch.Tensor], *args: torch.Tensor) -> torch.Tensor:
        """``fn(*args)`` through ``torch.compile`` when ``self.compile``; eagerly otherwise, and from the first
        failure of the compiler on (no C++ compiler, unsupported platform, ...), with one
        :class:`CompileFallbackWarning` naming the reason. Only the compiler's failures fall back: dynamo and its
        backends raise them as ``TorchDynamoException`` (inductor wraps its own, e.g. ``InvalidCxxCompiler``, in
        ``InductorError``); any other exception propagates unchanged."""
        if not self.compile:
            return fn(*args)
        if self._compiled is None:
            self._compiled = torch.compile(own_copy(fn))
        try:
            return self._compiled(*args)
        except TorchDynamoException as error:
            result = fn(*args)  # an error of the formula itself (not the compiler's) raises here again, eagerly
            self.compile = False
            warnings.warn(
                f"{type(self).__name__}: torch.compile failed, the loss runs eagerly from now on (same values, "
                f"slower): {type(error).__name__}: {first_line(error)}",
                CompileFallbackWarning,
                stacklevel=3,
            )
            return result

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_compiled"] = None  # a compiled function is not picklable; compiled again on first use
        return state

    # ------------------------------------------------------------------ the formulas' vocabulary
    def categorical(self, n_channels: int) -> bool:
        """Mutually exclusive classes (channel 0 the background), or per-channel binary problems."""
        return self.softmax or (not self.sigmoid and n_channels > 1)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        if self.sigmoid:
            return torch.sigmoid(x)
        if self.softmax:
            return torch.softmax(x, 1)
        if self.other_act is not None:
            return self.other_act(x).to(x.dtype)
        return x

    def log_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """``log p``: ``logsigmoid(x)``, ``log_softmax(x)``, or the log of ``p`` clipped to ``[1e-7, 1 - 1e-7]``."""
        if self.sigmoid:
            return F.logsigmoid(x)
        if self.softmax:
            return torch.log_softmax(x, 1)
        return self.probabilities(x).clamp(PROB_CLIP, 1 - PROB_CLIP).log()

    def log_complements(self, x: torch.Tensor) -> torch.Tensor:
        """``log(1 - p)``: ``logsigmoid(-x)``, :func:`log1m_softmax`, or ``log1p(-p)`` of the clipped ``p``."""
        if self.sigmoid:
            return F.logsigmoid(-x)
        if self.softmax:
            return log1m_softmax(x)
        return torch.log1p(-self.probabilities(x).clamp(PROB_CLIP, 1 - PROB_CLIP))

    def one_hot_target(self, target: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
        """``(B, C, *spatial)`` target values in ``dtype``: labels made one-hot with ``to_onehot_y`` (a single
        channel's labels 0 / 1 are its values already)."""
        if self.to_onehot_y and n_classes > 1:
            classes = torch.arange(n_classes, device=target.device).view(1, n_classes, *([1] * (target.ndim - 2)))
            return (target == classes).to(dtype)
        return target.to(dtype)

    def kept(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` without channel 0 when ``include_background=False``."""
        return t if self.include_background else t[:, 1:]

    def voxel_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over the voxels per ``(b, c)``: ``(B, C)``; with ``batch=True`` over the batch too: ``(1, C)``."""
        total = t.sum(tuple(range(2, t.ndim)))
        return total.sum(0, keepdim=True) if self.batch else total

    def voxel_norm(self, t: torch.Tensor, order: int) -> torch.Tensor:
        """``sum |t|^order`` over the voxels, shaped as :meth:`voxel_sum` (one pass: ``vector_norm``, as MONAI)."""
        dims = tuple(range(2, t.ndim))
        if self.batch:
            return torch.linalg.vector_norm(t, order, dim=(0, *dims)).pow(order).unsqueeze(0)
        return torch.linalg.vector_norm(t, order, dim=dims).pow(order)

    def voxel_count(self, t: torch.Tensor) -> int:
        """The number of voxels each value of :meth:`voxel_sum` adds up."""
        return t[0, 0].numel() * (t.shape[0] if self.batch else 1)

    def confusion(
        self, p: torch.Tensor, g: torch.Tensor, order: int = 1, soft_label: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Soft ``TP = sum p g``, ``FP = sum p (1 - g)``, ``FN = sum (1 - p) g`` per ``(b, c)``. For soft labels
        or ``order=2`` from the ``L^order`` norms ``|t| = sum |t|^order`` as MONAI (Wang et al., "Dice semimetric
        losses", MICCAI 2023; the same for hard labels): ``TP = (|p| + |g| - |p - g|) / 2``, ``FP = |p| - TP``,
        ``FN = |g| - TP``; ``order=2`` gives V-Net's squares."""
        if order == 1 and not soft_label:
            tp = self.voxel_sum(p * g)
            return tp, self.voxel_sum(p) - tp, self.voxel_sum(g) - tp
        p_norm, g_norm, d_norm = (self.voxel_norm(t, order) for t in (p, g, p - g))
        tp = (p_norm + g_norm - d_norm) / 2
        return tp, p_norm - tp, g_norm - tp

    def positive_weights(self, w: float, input: torch.Tensor) -> torch.Tensor:
        """A binary loss's weight ``w`` of the positives, per kept channel ``(1, C)``. In categorical mode channel 0
        (the background) is the complement problem, its positives the other classes' negatives: it gets ``1 - w``
        (else, with two classes, its term mirrors the foreground's and ``w`` cancels out of the mean)."""
        n = input.shape[1]
        weights = [1 - w] + [w] * (n - 1) if self.categorical(n) else [w] * n
        return self.kept(torch.tensor([weights], dtype=input.dtype, device=input.device))

    def activated(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, g)`` of the kept channels, 0 at the voxels that ``ignore_index`` leaves out: what a region loss
        computes from."""
        p = self.probabilities(input)
        g = self.one_hot_target(target, input.shape[1], p.dtype)
        mask = ignore_mask(target, self.ignore_index, p.dtype)
        if mask is not None:
            p, g = p * mask, g * mask
        return self.kept(p), self.kept(g)
