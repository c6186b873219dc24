"""Hostile inputs to every catalogue loss, property-based (hypothesis).

Property: for any shape (1D-3D, C = 1..5, batch 1..3, spatial sizes 1..4), activation mode (sigmoid, softmax,
probabilities, ``other_act``), target form (labels, one-hot, multi-label, soft; int/uint8/bool/float dtypes),
logits (random, +-1e4 and +-1e30, all equal, one-hot-like, mixed signs), input dtype (fp16/bf16/fp32/fp64),
reduction and ``batch``, a loss either returns finite values with finite gradients w.r.t. its input, or raises
the ``ValueError`` the contract documents, with a message naming the problem. Which inputs are invalid is
decided in ``tests/loss_strategies.py`` from how the case was built, not by the library's checks, so the
error must be raised exactly for those and never for valid input.

Hyper-parameters: every numeric argument of every catalogue loss, drawn around and outside its documented
interval (bounds and their float neighbours, NaN, +-inf, non-numbers): out of range raises a ``ValueError``
naming the parameter; in range gives finite values and gradients.

Hypothesis runs derandomized (the same examples on every run), without a deadline or example database.
``HOSTILE_EXAMPLES_SCALE=10`` multiplies the number of examples for a deeper local search (CI uses 1).
"""

from __future__ import annotations

import math
import os
import re

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from loss_strategies import accepts, loss_cases

from scripts.losses import LOSSES, build_loss

NAMES = sorted(LOSSES)
MONAI_DROP_INS = {spec.cls.__name__ for spec in LOSSES.values() if spec.monai}
SCALE = float(os.environ.get("HOSTILE_EXAMPLES_SCALE", "1"))


def hostile_settings(max_examples: int):
    return settings(
        derandomize=True,
        deadline=None,
        database=None,
        max_examples=max(1, round(max_examples * SCALE)),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def value_and_gradient(loss, x, target):
    x = x.detach().clone().requires_grad_(True)
    out = loss(x, target)
    out.sum().backward()
    assert x.grad is not None, "the loss does not depend on its input"
    return out, x.grad


def assert_finite_with_finite_gradient(loss, x, target, kept_channels):
    out, grad = value_and_gradient(loss, x, target)
    if loss.reduction == "none" and type(loss).__name__ in MONAI_DROP_INS:
        assert out.ndim >= 1, f"reduction='none' gave a scalar {out}"  # MONAI's shapes: tests/test_losses_monai_*
    elif loss.reduction == "none":
        assert out.ndim == 2, f"reduction='none' gave shape {tuple(out.shape)}, not (B or 1, C or 1)"
        torch.broadcast_shapes(out.shape, (x.shape[0], kept_channels))  # raises if it does not broadcast
    else:
        assert out.ndim == 0, f"reduction={loss.reduction!r} gave shape {tuple(out.shape)}, not a scalar"
    assert out.dtype in (torch.float32, torch.float64), out.dtype
    assert torch.isfinite(out).all(), f"non-finite loss {out}"
    if x.dtype == torch.float16:
        # The loss computes in float32; autograd hands the gradient back in the input's dtype. A finite float32
        # gradient above fp16's range (e.g. the Dice slope 1/smooth_dr = 1e5 w.r.t. an exactly empty
        # probability map of an empty class) becomes inf there: a limit of fp16, not of the loss. So: the
        # float32 gradient of the same values must be finite, and the fp16 one wherever fp16 can hold it.
        _, grad32 = value_and_gradient(loss, x.float(), target)
        assert torch.isfinite(grad32).all(), f"non-finite gradient: {int((~torch.isfinite(grad32)).sum())} entries"
        representable = grad32.abs() <= torch.finfo(torch.float16).max
        if not representable.all():
            event("float32 gradient beyond fp16 range")
        grad = grad[representable]
    assert torch.isfinite(grad).all(), f"non-finite gradient: {int((~torch.isfinite(grad)).sum())} entries"


@pytest.mark.parametrize("name", NAMES)
@hostile_settings(max_examples=60)
@given(data=st.data())
def test_hostile_input_gives_finite_loss_and_gradient_or_the_documented_error(name, data):
    case = data.draw(loss_cases(name), label="case")
    event("invalid input" if case.expected_errors else "valid input")
    if case.expected_errors:
        with pytest.raises(ValueError) as err:
            build_loss(name, **case.kwargs)(case.input, case.target)
        message = str(err.value)
        assert any(re.search(p, message) for p in case.expected_errors), (
            f"ValueError {message!r} names none of the expected problems {case.expected_errors}"
        )
    else:
        loss = build_loss(name, **case.kwargs)
        assert_finite_with_finite_gradient(loss, case.input, case.target, case.kept_channels)


# ----------------------------------------------------------------------------------------- hyper-parameters
# Documented intervals (docs/losses.md, class docstrings): (low, high, low_open, high_open); None: unbounded.
NONNEG = (0.0, None, False, False)
POSITIVE = (0.0, None, True, False)
UNIT = (0.0, 1.0, False, False)
SMOOTH = {"smooth_nr": NONNEG, "smooth_dr": NONNEG}
HYPER = {
    "dice": {"weight": NONNEG},
    "dice_squared": {"weight": NONNEG},
    "iou": {"weight": NONNEG},
    "tversky": {"alpha": NONNEG, "beta": NONNEG},
    "generalized_dice": {},
    "dice_two_class": {},
    "focal_tversky": {"alpha": NONNEG, "beta": NONNEG, "gamma": POSITIVE},
    "focal_dice": {"beta": (1.0, None, False, False), "neg_ratio": NONNEG},
    "sensitivity_specificity": {"r": UNIT},
    "bce": {},
    "ce": {},
    "wce": {"pos_weight": NONNEG, "beta": (0.0, 1.0, False, True)},
    "focal": {"gamma": NONNEG, "alpha": UNIT, "weight": NONNEG},
    "bce_dice": {"lambda_dice": NONNEG, "lambda_ce": NONNEG},
    "dice_focal": {"lambda_dice": NONNEG, "lambda_focal": NONNEG, "gamma": NONNEG},
    "exp_log": {"w_dice": NONNEG, "w_cross": NONNEG, "gamma_dice": POSITIVE, "gamma_cross": POSITIVE},
    "combo": {"alpha": UNIT, "beta": UNIT},
    "symmetric_focal": {"delta": UNIT, "gamma": NONNEG},
    "asymmetric_focal": {"delta": UNIT, "gamma": NONNEG},
    "symmetric_focal_tversky": {"delta": UNIT, "gamma": UNIT},
    "asymmetric_focal_tversky": {"delta": UNIT, "gamma": UNIT},
    "symmetric_unified_focal": {"weight": UNIT, "delta": UNIT, "gamma": UNIT},
    "asymmetric_unified_focal": {"weight": UNIT, "delta": UNIT, "gamma": UNIT},
    "boundary": {},
    "gdl_boundary": {"alpha": UNIT},
    "hausdorff_dt": {"alpha": NONNEG},
    "log_hausdorff_dt": {"alpha": NONNEG},
    "lovasz": {},
    "mcc": {},
    "topk_ce": {"k": (0.0, 100.0, True, False)},
    "generalized_wasserstein_dice": {},
    "blob": {"alpha": NONNEG, "beta": NONNEG},
    "generalized_dice_focal": {"lambda_gdl": NONNEG, "lambda_focal": NONNEG, "gamma": NONNEG},
    "penalty_gdl": {"k": NONNEG},
    "asymmetric_similarity": {"beta": NONNEG},
    # issue 24, thin structures (iterations: an integer >= 0, checked in tests/test_losses_cldice.py)
    "cldice": {"smooth_dr": POSITIVE},
    "dice_cldice": {"smooth_dr": POSITIVE, "alpha": UNIT},
    "recall_ce": {},
    "distance_penalized_ce": {},
    "skeleton_recall": {"lambda_ce": NONNEG, "lambda_dice": NONNEG, "lambda_srec": NONNEG},
    "cbdice": {
        "smooth_cbdice": POSITIVE,
        "lambda_ce": NONNEG,
        "lambda_dice": NONNEG,
        "lambda_cbdice": NONNEG,
    },
}
PARAMS = [
    (name, param, interval)
    for name in NAMES
    for param, interval in {**{k: v for k, v in SMOOTH.items() if accepts(name, k)}, **HYPER[name]}.items()
]
PARAM_IDS = [f"{n}-{p}" for n, p, _ in PARAMS]
# focal_dice's neg_ratio only matters with the balanced sampling
EXTRA = {("focal_dice", "neg_ratio"): {"sampling": "balanced"}}
# exp_log's (-ln p)^gamma overflows float32 for huge exponents (gamma_cross = 1e6 on moderate logits: inf, and
# NaN where the target is 0, as 0 * inf); valid values up to 20 only there. Reported, not part of the contract.
# hausdorff_dt's distances d >= 1 raised to alpha overflow likewise (2^1e6); the paper's alpha is 2.
MODERATE = {
    ("exp_log", "gamma_dice"),
    ("exp_log", "gamma_cross"),
    ("hausdorff_dt", "alpha"),
    ("log_hausdorff_dt", "alpha"),
}

# None means "no weighting" for MONAI's per-class weights and focal's alpha (their docstrings)
NONE_ALLOWED = {
    ("dice", "weight"),
    ("dice_squared", "weight"),
    ("iou", "weight"),
    ("focal", "weight"),
    ("focal", "alpha"),
    ("wce", "beta"),  # None: Sudre's weights, not the class-balanced ones
}


def in_interval(value: float, interval) -> bool:
    low, high, low_open, high_open = interval
    if not math.isfinite(value):
        return False  # NaN and +-inf are not values of a weight, exponent or smoothing term
    if low is not None and (value <= low if low_open else value < low):
        return False
    return not (high is not None and (value >= high if high_open else value > high))


def evaluation_inputs():
    """Small moderate logits with an empty channel, an all-foreground channel and a mixed one."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 4, 5, generator=gen) * 3
    regions = (torch.rand(2, 3, 4, 5, generator=gen) < 0.3).float()
    regions[:, 0] = 0
    regions[0, 1] = 1
    labels = torch.randint(0, 3, (2, 1, 4, 5), generator=gen)
    labels[1] = 0
    return x, regions, labels


def check_hyper_value(name, param, interval, value, softmax=False):
    """Out of the interval: a ValueError naming ``param``; inside: finite values and gradients (sigmoid
    multi-label regions, or softmax labels)."""
    kwargs = {param: value, **EXTRA.get((name, param), {})}
    if not in_interval(float(value), interval):
        with pytest.raises(ValueError, match=rf"\b{param}\b"):
            build_loss(name, sigmoid=True, **kwargs)
        return
    x, regions, labels = evaluation_inputs()
    if softmax:
        assert_finite_with_finite_gradient(build_loss(name, softmax=True, to_onehot_y=True, **kwargs), x, labels, 3)
    else:
        assert_finite_with_finite_gradient(build_loss(name, sigmoid=True, **kwargs), x, regions, 3)


def test_every_catalogue_name_has_its_hyper_parameters_listed():
    assert set(HYPER) == set(NAMES)
    for name, params in HYPER.items():
        missing = {param for param in params if not accepts(name, param)}
        assert not missing, f"{name}: {missing} are not arguments of {LOSSES[name].cls.__name__}"


@pytest.mark.parametrize(("name", "param", "interval"), PARAMS, ids=PARAM_IDS)
def test_hyper_parameter_at_and_around_its_bounds(name, param, interval):
    """Each bound (in both modes), its float neighbours, +-1e-3 around it, and values far outside; NaN and
    +-inf. The other in-range values alternate between the sigmoid and the softmax mode."""
    bounds = [b for b in interval[:2] if b is not None]
    values = [0.0, -1.0, 1.0, math.nan, math.inf, -math.inf, 5e-324]
    for bound in bounds:
        values += [math.nextafter(bound, -math.inf), math.nextafter(bound, math.inf), bound - 1e-3, bound + 1e-3]
    if (name, param) not in MODERATE:
        values += [1e6, -1e6]
    for bound in bounds:
        check_hyper_value(name, param, interval, bound, softmax=False)
        check_hyper_value(name, param, interval, bound, softmax=True)
    for i, value in enumerate(values):
        check_hyper_value(name, param, interval, value, softmax=bool(i % 2))


@pytest.mark.parametrize(("name", "param", "interval"), PARAMS, ids=PARAM_IDS)
@hostile_settings(max_examples=6)
@given(data=st.data())
def test_hyper_parameter_anywhere(name, param, interval, data):
    values = st.one_of(st.floats(-20.0, 20.0, allow_nan=False), st.integers(-5, 5))
    check_hyper_value(name, param, interval, data.draw(values, label=param), softmax=data.draw(st.booleans()))


NOT_NUMBERS = [
    pytest.param(n, p, v, id=f"{n}-{p}-{v!r}")
    for n, p, _ in PARAMS
    for v in ("abc", None)
    if not (v is None and (n, p) in NONE_ALLOWED)
]


@pytest.mark.parametrize(("name", "param", "value"), NOT_NUMBERS)
def test_hyper_parameter_that_is_not_a_number_raises_naming_it(name, param, value):
    with pytest.raises(ValueError, match=rf"\b{param}\b"):
        build_loss(name, sigmoid=True, **{param: value})


@pytest.mark.parametrize("smooth_dr", [0.0, 5e-324])
def test_sensitivity_specificity_without_smoothing_on_empty_and_full_classes(smooth_dr):
    """docs: an empty foreground contributes 0 to the sensitivity term (an all-foreground class 0 to the
    specificity term), also with smooth_dr = 0; float64 reference from Brosch et al.'s eq. 2."""
    x, regions, _ = evaluation_inputs()  # channel 0 empty everywhere, channel 1 all foreground in sample 0
    r = 0.05
    loss = build_loss("sensitivity_specificity", sigmoid=True, r=r, smooth_dr=smooth_dr, reduction="none")
    assert_finite_with_finite_gradient(loss, x, regions, 3)
    p, g = torch.sigmoid(x.double()), regions.double()
    sq = (g - p) ** 2
    n_fg, n_bg = g.sum((2, 3)), (1 - g).sum((2, 3))
    sens = torch.where(n_fg > 0, (sq * g).sum((2, 3)) / n_fg.clamp_min(1), 0.0)
    spec = torch.where(n_bg > 0, (sq * (1 - g)).sum((2, 3)) / n_bg.clamp_min(1), 0.0)
    torch.testing.assert_close(loss(x, regions).double(), r * sens + (1 - r) * spec, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["tversky", "focal_tversky"])
def test_tversky_weights_both_zero_raise(name):
    x, regions, _ = evaluation_inputs()
    for alpha in (0.0, 1e-12, 0.3, 1.0):
        for beta in (0.0, 1e-12, 0.7, 2.0):
            if alpha + beta == 0:
                with pytest.raises(ValueError, match=r"alpha \+ beta must be > 0"):
                    build_loss(name, alpha=alpha, beta=beta)
            else:
                loss = build_loss(name, sigmoid=True, alpha=alpha, beta=beta)
                assert_finite_with_finite_gradient(loss, x, regions, 3)


# ------------------------------------------------------------------------------------- smoothing on edge cases
SMOOTHED = [name for name in NAMES if accepts(name, "smooth_nr")]


def edge_prediction(kind: str, labels: torch.Tensor, n_channels: int) -> torch.Tensor:
    """+-1e4 logits: ``perfect`` (the target), ``empty`` (all background), ``full`` (all in the last class) or
    ``all_wrong`` (every voxel in another class)."""
    if kind == "perfect":
        winner = labels
    elif kind == "empty":
        winner = torch.zeros_like(labels)
    elif kind == "full":
        winner = torch.full_like(labels, n_channels - 1)
    else:
        winner = (labels + 1) % n_channels
    return torch.full((labels.shape[0], n_channels, *labels.shape[2:]), -1e4).scatter_(1, winner, 1e4)


@pytest.mark.parametrize("name", SMOOTHED)
@hostile_settings(max_examples=12)
@given(
    smooth_nr=st.sampled_from([0.0, 1e-7, 1e-5, 1.0, 10.0]),
    smooth_dr=st.sampled_from([1e-7, 1e-5, 1.0, 10.0]),
    prediction=st.sampled_from(["perfect", "empty", "full", "all_wrong"]),
    softmax=st.booleans(),
    batch=st.booleans(),
)
def test_positive_smoothing_keeps_the_loss_finite_on_perfect_empty_and_wrong_predictions(
    name, smooth_nr, smooth_dr, prediction, softmax, batch
):
    """Any smooth_nr >= 0 with smooth_dr > 0 (smooth_dr = 0 makes an empty class predicted empty 0/0, as
    docs/losses.md says), on a batch whose second sample has no foreground."""
    labels = torch.zeros(2, 1, 3, 4, dtype=torch.long)
    labels[0, :, :2, 1:] = 1
    labels[0, :, 2, 3] = 2
    x = edge_prediction(prediction, labels, 3)
    kwargs = {"smooth_nr": smooth_nr, "smooth_dr": smooth_dr, "batch": batch}
    if softmax:
        loss = build_loss(name, softmax=True, to_onehot_y=True, **kwargs)
        assert_finite_with_finite_gradient(loss, x, labels, 3)
    else:
        regions = torch.cat([labels >= 1, labels == 2], 1).float()  # nested regions, the second one empty in sample 1
        assert_finite_with_finite_gradient(build_loss(name, sigmoid=True, **kwargs), x[:, 1:], regions, 2)


@pytest.mark.parametrize("gamma", [1.5, 2.0, 2.5])
def test_focal_tversky_with_gamma_above_one_and_smooth_nr_above_smooth_dr(gamma):
    """smooth_nr > smooth_dr puts TI above 1 at a perfect prediction; (1 - TI) is floored at 0 for gamma > 1,
    so the loss of a perfect prediction is 0 (not NaN, nor the positive square of a negative base)."""
    labels = torch.zeros(2, 1, 3, 4, dtype=torch.long)
    labels[0, :, :2, 1:] = 1
    loss = build_loss("focal_tversky", softmax=True, to_onehot_y=True, gamma=gamma, smooth_nr=1.0, smooth_dr=1e-5)
    x = edge_prediction("perfect", labels, 2)
    assert_finite_with_finite_gradient(loss, x, labels, 2)
    assert loss(x, labels).item() == 0.0
