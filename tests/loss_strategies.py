"""Hypothesis strategies for hostile inputs to the catalogue losses, and the contract that says which are invalid.

A :class:`LossCase` is one call ``build_loss(name, **kwargs)(input, target)`` together with the ``ValueError``
messages the loss contract (issue 2, ``docs/losses.md`` "Bad input", the class docstrings) allows for it:
an empty list means the input is valid and the loss must return finite values and gradients. Validity is
decided here from how the case was built (which fault was injected, which mode and channel count were
drawn), never by calling the library's checks.

The contract as modelled here:

- ``softmax=True`` needs 2+ channels; ``include_background=False`` needs 2+ channels;
- the categorical forms of ``CrossEntropyLoss``, ``WeightedCrossEntropyLoss`` and the Unified Focal family
  cannot drop the background (categorical: ``softmax=True``, or 2+ channels without ``sigmoid``); that of
  ``SkeletonRecallLoss`` must drop it;
- ``focal`` (MONAI's ``FocalLoss``) takes logits: it needs ``sigmoid`` or ``softmax`` and has no ``other_act``;
- ``bce_dice`` (MONAI's ``DiceCELoss``) has no ``reduction="none"``; the drop-ins for MONAI's classes return
  MONAI's ``"none"`` shapes, every other loss one that broadcasts against ``(B, C)``;
- label targets (``to_onehot_y=True``) hold whole numbers in ``[0, max(C, 2))`` (one channel is a binary
  problem with labels 0/1); other targets hold values in ``[0, 1]``; NaN/inf in input or target is invalid;
- the target's batch and spatial shape equal the input's, and its channels are 1 (labels) or ``C``.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field

import torch
from hypothesis import strategies as st

from scripts.losses import LOSSES

# Losses whose categorical form has no meaning without the background class (their docstrings).
CATEGORICAL_KEEPS_BACKGROUND = {
    "bce",
    "ce",
    "wce",
    "symmetric_focal",
    "asymmetric_focal",
    "symmetric_focal_tversky",
    "asymmetric_focal_tversky",
    "symmetric_unified_focal",
    "asymmetric_unified_focal",
    "topk_ce",
    "generalized_wasserstein_dice",
    "recall_ce",
    "distance_penalized_ce",
}
# Losses whose categorical form has no background term: skeleton recall (the authors' do_bg=True raises).
CATEGORICAL_DROPS_BACKGROUND = {"skeleton_recall"}
LOGITS_ONLY = {"focal"}
NO_NONE_REDUCTION = {"bce_dice"}  # MONAI's DiceCELoss, and so its drop-in, has no reduction="none"
MSG_NO_NONE_REDUCTION = r"reduction must be .*got 'none'"

MODES = ("sigmoid", "softmax", "none", "other_act")
TARGET_KINDS = ("labels", "onehot", "multilabel", "soft")
LOGIT_PATTERNS = ("randn", "mixed_signs", "all_equal", "one_hot_like", "mixed")
FAULTS = (
    "label_high",
    "label_negative",
    "label_fractional",
    "binary_out_of_range",
    "target_nonfinite",
    "input_nonfinite",
    "target_spatial",
    "target_channels",
)
LABEL_FAULTS = ("label_high", "label_negative", "label_fractional")
# Most drawn cases are valid; ``sampled_from`` shrinks towards the first entry, a valid case.
FAULT_CHOICES = (None,) * 10 + FAULTS

MSG_SOFTMAX_ONE_CHANNEL = r"softmax=True needs at least 2 channels, got input with 1 channel"
MSG_NO_BACKGROUND_ONE_CHANNEL = r"include_background=False needs at least 2 channels; input has 1"
MSG_CATEGORICAL_BACKGROUND = r"include_background=False is not supported by \w+ with mutually exclusive classes"
MSG_CATEGORICAL_NO_BACKGROUND = r"include_background=True is not supported by \w+ with mutually exclusive classes"
MSG_FOCAL_LOGITS = r"loss 'focal' takes logits: pass sigmoid=True"
MSG_FOCAL_OTHER_ACT = r"loss 'focal' takes logits"


def accepts(name: str, arg: str) -> bool:
    """Whether the catalogue class of ``name`` takes the keyword ``arg`` (its signature, not its checks)."""
    return arg in inspect.signature(LOSSES[name].cls).parameters


@dataclass
class LossCase:
    name: str
    kwargs: dict
    input: torch.Tensor
    target: torch.Tensor
    kept_channels: int
    description: str
    expected_errors: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return (
            f"LossCase({self.name}, {self.kwargs}, input {self.input.dtype} {tuple(self.input.shape)}, "
            f"target {self.target.dtype} {tuple(self.target.shape)}, {self.description}, "
            f"expected_errors={self.expected_errors})"
        )


def _fmt(value: float) -> str:
    return re.escape(f"{value:g}")


def _logits(gen, shape, labels, pattern, magnitude, scale, const, hit) -> torch.Tensor:
    """float64 logits of ``shape`` (B, C, *spatial) following ``pattern``; ``labels`` (B, 1, *spatial)."""
    n_channels = shape[1]
    if pattern == "randn":
        return torch.randn(shape, generator=gen, dtype=torch.float64) * scale
    if pattern == "mixed_signs":
        return torch.where(torch.rand(shape, generator=gen) < 0.5, -magnitude, magnitude).double()
    if pattern == "all_equal":
        return torch.full(shape, const, dtype=torch.float64)
    if pattern == "one_hot_like":
        if n_channels == 1:
            fg = labels.bool() if hit == "target" else torch.rand(shape, generator=gen) < 0.5
            return torch.where(fg, magnitude, -magnitude).double()
        winner = labels.long() if hit == "target" else torch.randint(0, n_channels, labels.shape, generator=gen)
        z = torch.full(shape, -magnitude, dtype=torch.float64)
        return z.scatter_(1, winner.clamp(0, n_channels - 1), magnitude)
    # "mixed": some voxels extreme, the others moderate
    z = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
    extreme = torch.where(torch.rand(shape, generator=gen) < 0.5, -magnitude, magnitude).double()
    return torch.where(torch.rand(shape, generator=gen) < 0.5, extreme, z)


def _labels(gen, shape, n_labels, fill) -> torch.Tensor:
    """(B, 1, *spatial) int64 labels in [0, n_labels)."""
    if fill == "all_background":
        return torch.zeros(shape, dtype=torch.long)
    if fill == "all_last":
        return torch.full(shape, n_labels - 1, dtype=torch.long)
    if fill == "single_voxel":
        labels = torch.zeros(shape, dtype=torch.long)
        labels.view(-1)[torch.randint(0, labels.numel(), (1,), generator=gen)] = n_labels - 1
        return labels
    return torch.randint(0, n_labels, shape, generator=gen)


def _set_one(t: torch.Tensor, gen: torch.Generator, value: float) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[torch.randint(0, t.numel(), (1,), generator=gen)] = value
    return t


@st.composite
def loss_cases(draw, name: str) -> LossCase:
    """One call of catalogue loss ``name`` on hostile but small input, with the errors the contract allows."""
    n_spatial = draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=n_spatial, max_size=n_spatial)))
    batch_size = draw(st.integers(1, 3))
    n_channels = draw(st.integers(1, 5))
    mode = draw(st.sampled_from(MODES))
    fault = draw(st.sampled_from(FAULT_CHOICES))
    if fault in LABEL_FAULTS:
        kind = "labels"
    elif fault == "binary_out_of_range":
        kind = draw(st.sampled_from(TARGET_KINDS[1:]))
    else:
        kind = draw(st.sampled_from(TARGET_KINDS))
    fill = draw(st.sampled_from(("random", "all_background", "all_last", "single_voxel")))
    pattern = draw(st.sampled_from(LOGIT_PATTERNS))
    dtype = draw(st.sampled_from((torch.float32, torch.float64, torch.bfloat16, torch.float16)))
    magnitude = draw(st.sampled_from((1e4, 1e30) if dtype != torch.float16 else (1e4,)))
    scale = draw(st.sampled_from((1.0, 10.0)))
    const = draw(st.sampled_from((0.0, magnitude, -magnitude, 2.5)))
    hit = draw(st.sampled_from(("target", "random")))
    prob_from = draw(st.sampled_from(("softmax", "sigmoid")))
    include_background = draw(st.sampled_from((True, True, True, False)))
    reduction = draw(st.sampled_from(("mean", "sum", "none")))
    batch = draw(st.booleans()) if accepts(name, "batch") else None
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)

    shape = (batch_size, n_channels, *spatial)
    label_shape = (batch_size, 1, *spatial)
    n_labels = max(n_channels, 2)
    labels = _labels(gen, label_shape, n_labels, fill)

    # --- target
    to_onehot_y = kind == "labels"
    if kind == "labels":
        target = labels
        target_dtype = draw(st.sampled_from((torch.long, torch.int32, torch.uint8, torch.float32, torch.float64)))
    elif kind == "onehot":
        target = labels.clamp(max=1) if n_channels == 1 else torch.zeros(shape, dtype=torch.long).scatter_(1, labels, 1)
        target_dtype = draw(st.sampled_from((torch.float32, torch.long, torch.uint8, torch.bool)))
    elif kind == "multilabel":
        if fill == "all_background":
            target = torch.zeros(shape, dtype=torch.long)
        elif fill == "all_last":
            target = torch.ones(shape, dtype=torch.long)
        else:
            target = (torch.rand(shape, generator=gen) < 0.3).long()
        target_dtype = draw(st.sampled_from((torch.float32, torch.long, torch.uint8, torch.bool)))
    else:
        target = torch.rand(shape, generator=gen, dtype=torch.float64)
        target_dtype = draw(st.sampled_from((torch.float32, torch.float64)))

    # --- input: logits, or probabilities when no activation is set
    z = _logits(gen, shape, labels, pattern, magnitude, scale, const, hit)
    if mode == "none":
        x = torch.softmax(z, 1) if prob_from == "softmax" and n_channels > 1 else torch.sigmoid(z)
    else:
        x = z
    x = x.to(dtype)

    # --- one injected fault (at most), and the message the contract asks for
    errors: list[str] = []
    if fault == "label_high" and kind == "labels":
        bad = draw(st.sampled_from((n_labels, n_labels + 1, 255)))  # n_labels first: the off-by-one
        target = _set_one(target.long(), gen, bad)
        target_dtype = torch.long if target_dtype in (torch.uint8, torch.int32) else target_dtype
        lo = float(target.min())
        errors.append(rf"target label values must lie in \[0, {n_labels}\), got values in \[{_fmt(lo)}, {_fmt(bad)}\]")
    elif fault == "label_negative" and kind == "labels":
        bad = draw(st.sampled_from((-1, -2, -100)))
        target = _set_one(target.long(), gen, bad)
        target_dtype = torch.long if target_dtype == torch.uint8 else target_dtype
        hi = float(target.max())
        errors.append(rf"target label values must lie in \[0, {n_labels}\), got values in \[{_fmt(bad)}, {_fmt(hi)}\]")
    elif fault == "label_fractional" and kind == "labels":
        target_dtype = torch.float64 if target_dtype == torch.float64 else torch.float32
        target = _set_one(target.double(), gen, draw(st.integers(0, n_labels - 2)) + 0.5)
        errors.append(r"target labels must be whole numbers; got fractional values")
    elif fault == "binary_out_of_range" and kind != "labels":
        bad = draw(st.sampled_from((2.0, 1.5, -1.0, -0.25, 1 + 1e-3)))
        target = _set_one(target.double(), gen, bad)
        target_dtype = torch.float64 if target_dtype == torch.float64 else torch.float32
        lo, hi = min(float(target.min()), bad), max(float(target.max()), bad)
        if target_dtype == torch.float32:
            lo, hi = float(torch.tensor(lo).float()), float(torch.tensor(hi).float())
        errors.append(rf"one-hot / binary target values must lie in \[0, 1\], got values in \[{_fmt(lo)}, {_fmt(hi)}\]")
    elif fault == "target_nonfinite":
        target_dtype = torch.float64 if target_dtype == torch.float64 else torch.float32
        target = _set_one(target.double(), gen, draw(st.sampled_from((math.nan, math.inf, -math.inf))))
        errors.append(r"target contains NaN or infinite values")
    elif fault == "input_nonfinite":
        n_bad = draw(st.integers(1, min(3, x.numel())))
        where = torch.randperm(x.numel(), generator=gen)[:n_bad]
        x = x.clone()
        x.view(-1)[where] = draw(st.sampled_from((math.nan, math.inf, -math.inf)))
        errors.append(rf"input contains {n_bad} NaN or infinite value\(s\)")
    elif fault == "target_spatial":
        target = torch.cat([target, target.narrow(-1, 0, 1)], -1)
        errors.append(r"target batch and spatial shape must equal input's")
    elif fault == "target_channels":
        target = torch.cat([target, torch.zeros_like(target[:, :1])], 1)
        if to_onehot_y:
            errors.append(r"to_onehot_y=True expects a label target of shape \(B, 1, \*spatial\)")
        else:
            errors.append(rf"target has {target.shape[1]} channel\(s\) but input has {n_channels}")
    else:
        fault = None
    target = target.to(target_dtype)

    # --- structural faults of the mode / channel count
    categorical = mode != "sigmoid" and (mode == "softmax" or n_channels > 1)
    if mode == "softmax" and n_channels == 1:
        errors.append(MSG_SOFTMAX_ONE_CHANNEL)
    if not include_background and n_channels == 1:
        errors.append(MSG_NO_BACKGROUND_ONE_CHANNEL)
    if not include_background and categorical and name in CATEGORICAL_KEEPS_BACKGROUND:
        errors.append(MSG_CATEGORICAL_BACKGROUND)
    if include_background and categorical and name in CATEGORICAL_DROPS_BACKGROUND:
        errors.append(MSG_CATEGORICAL_NO_BACKGROUND)
    if name in LOGITS_ONLY and mode == "none":
        errors.append(MSG_FOCAL_LOGITS)
    if name in LOGITS_ONLY and mode == "other_act":
        errors.append(MSG_FOCAL_OTHER_ACT)
    if name in NO_NONE_REDUCTION and reduction == "none":
        errors.append(MSG_NO_NONE_REDUCTION)

    kwargs = {
        "sigmoid": mode == "sigmoid",
        "softmax": mode == "softmax",
        "to_onehot_y": to_onehot_y,
        "include_background": include_background,
        "reduction": reduction,
    }
    if mode == "other_act":
        kwargs["other_act"] = torch.sigmoid
    if batch is not None:
        kwargs["batch"] = batch
    description = (
        f"mode={mode} target={kind}/{fill} logits={pattern} magnitude={magnitude:g} scale={scale:g} "
        f"const={const:g} hit={hit} prob_from={prob_from} fault={fault} seed={seed}"
    )
    kept = n_channels - (0 if include_background else 1)
    return LossCase(name, kwargs, x, target, kept, description, errors)
