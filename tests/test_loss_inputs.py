"""Bad input to any catalogue loss raises a ValueError that names the problem and the offending value."""

from __future__ import annotations

import re

import pytest
import torch

from scripts.losses import (
    LOSSES,
    DiceLoss,
    DiceTwoClassLoss,
    FocalDiceLoss,
    FocalLoss,
    FocalTverskyLoss,
    GeneralizedDiceLoss,
    SensitivitySpecificityLoss,
    TverskyLoss,
    build_loss,
)

NAMES = sorted(LOSSES)
SIGMOID = {"sigmoid": True}
SOFTMAX = {"softmax": True, "to_onehot_y": True}


def logits(c=3, spatial=(4, 5)):
    return torch.randn(2, c, *spatial, generator=torch.Generator().manual_seed(0))


def labels(c=3, spatial=(4, 5)):
    return torch.randint(0, c, (2, 1, *spatial), generator=torch.Generator().manual_seed(1))


def regions(c=3, spatial=(4, 5)):
    return torch.randint(0, 2, (2, c, *spatial), generator=torch.Generator().manual_seed(2))


def raises(match, fn, *args):
    with pytest.raises(ValueError, match=match):
        fn(*args)


@pytest.mark.parametrize("name", NAMES)
def test_shape_mismatch(name):
    raises(
        r"spatial shape must equal input's.*\(2, 3, 4, 5\).*\(2, 1, 4, 6\)",
        build_loss(name, **SOFTMAX),
        logits(),
        labels(spatial=(4, 6)),
    )
    raises(r"batch and spatial shape", build_loss(name, **SIGMOID), logits(), regions()[:1])
    raises(r"target has 2 channel\(s\) but input has 3", build_loss(name, **SIGMOID), logits(), regions(2))
    raises(r"same number of dims.*\(2, 3, 4, 5\).*\(2, 4, 5\)", build_loss(name, **SIGMOID), logits(), regions()[:, 0])
    raises(
        r"to_onehot_y=True expects a label target of shape \(B, 1, \*spatial\), got \(2, 3, 4, 5\)",
        build_loss(name, **SOFTMAX),
        logits(),
        regions(),
    )
    if name != "focal":  # MONAI's FocalLoss (the drop-in) also takes (B, C) classification logits
        flat = torch.randn(2, 3), torch.ones(2, 3)
        raises(r"at least one spatial dim, got \(2, 3\)", build_loss(name, **SIGMOID), *flat)
    raises(r"must be tensors, got list", build_loss(name, **SIGMOID), [[0.0]], regions())


@pytest.mark.parametrize("name", NAMES)
def test_target_values_outside_range(name):
    bad = labels()
    bad[0, 0, 0, 0] = 3
    raises(
        re.escape("target label values must lie in [0, 3), got values in [0, 3]"),
        build_loss(name, **SOFTMAX),
        logits(),
        bad,
    )
    bad[0, 0, 0, 0] = -1
    raises(re.escape("got values in [-1, 2]"), build_loss(name, **SOFTMAX), logits(), bad)
    raises("whole numbers", build_loss(name, **SOFTMAX), logits(), labels().float() + 0.5 * (labels() == 1))
    two = regions() * 2
    raises(re.escape("values must lie in [0, 1], got values in [0, 2]"), build_loss(name, **SIGMOID), logits(), two)
    nan_target = regions().float()
    nan_target[0, 0, 0, 0] = float("nan")
    raises("target contains NaN or infinite", build_loss(name, **SIGMOID), logits(), nan_target)


@pytest.mark.parametrize("name", NAMES)
def test_non_finite_input(name):
    for value in (float("nan"), float("inf"), -float("inf")):
        x = logits()
        x[1, 2, 3, 4] = value
        x[0, 0, 0, 0] = value
        raises(r"input contains 2 NaN or infinite value\(s\)", build_loss(name, **SIGMOID), x, regions())
        raises(r"input contains 2 NaN or infinite", build_loss(name, **SOFTMAX), x, labels())


@pytest.mark.parametrize("name", NAMES)
def test_activation_flags(name):
    raises(
        r"softmax=True needs at least 2 channels, got input with 1 channel",
        build_loss(name, softmax=True),
        logits(1),
        regions(1),
    )
    with pytest.raises(ValueError, match="mutually exclusive"):
        build_loss(name, sigmoid=True, softmax=True)
    with pytest.raises(ValueError, match=r"reduction must be .*got 'avg'"):
        build_loss(name, sigmoid=True, reduction="avg")


@pytest.mark.parametrize("name", NAMES)
def test_include_background_false_on_one_channel(name):
    loss = build_loss(name, sigmoid=True, include_background=False)  # valid for C >= 2 channels
    raises(r"include_background=False needs at least 2 channels; input has 1", loss, logits(1), regions(1))


def test_unknown_name_and_argument():
    with pytest.raises(ValueError, match=r"unknown loss 'dcie'; valid names: .*dice, .*tversky"):
        build_loss("dcie")
    with pytest.raises(ValueError, match=r"loss 'dice' \(DiceLoss\) takes no argument\(s\) \['gamma'\]"):
        build_loss("dice", gamma=2.0)


HYPER = [
    (TverskyLoss, {"alpha": -0.1}, r"alpha must lie in \[0, inf\], got -0\.1"),
    (TverskyLoss, {"beta": -1}, r"beta must lie in \[0, inf\], got -1"),
    (TverskyLoss, {"alpha": 0, "beta": 0}, r"alpha \+ beta must be > 0"),
    (FocalTverskyLoss, {"gamma": 0}, r"gamma must lie in \(0, inf\], got 0"),
    (FocalTverskyLoss, {"gamma": -0.5}, r"gamma must lie in \(0, inf\], got -0\.5"),
    (FocalTverskyLoss, {"alpha": -1}, r"alpha must lie in \[0, inf\], got -1"),
    (FocalTverskyLoss, {"alpha": 0.0, "beta": 0.0}, r"alpha \+ beta must be > 0"),
    (FocalTverskyLoss, {"gamma": float("nan")}, r"gamma must be finite, got nan"),
    (FocalTverskyLoss, {"gamma": "big"}, r"gamma must be a number, got 'big'"),
    (FocalDiceLoss, {"beta": 0.5}, r"beta must lie in \[1, inf\], got 0\.5"),
    (FocalDiceLoss, {"neg_ratio": -1}, r"neg_ratio must lie in \[0, inf\], got -1"),
    (FocalDiceLoss, {"sampling": "random"}, r"sampling must be one of \(None, 'balanced'\), got 'random'"),
    (SensitivitySpecificityLoss, {"r": 1.5}, r"r must lie in \[0, 1\], got 1\.5"),
    (SensitivitySpecificityLoss, {"r": -0.1}, r"r must lie in \[0, 1\], got -0\.1"),
    (SensitivitySpecificityLoss, {"smooth_dr": -1e-5}, r"smooth_dr must lie in \[0, inf\], got -1e-05"),
    (DiceTwoClassLoss, {"smooth_nr": -1}, r"smooth_nr must lie in \[0, inf\], got -1"),
    (DiceLoss, {"weight": [1.0, -2.0, 1.0]}, r"weight must be finite and >= 0, got \[1\.0, -2\.0, 1\.0\]"),
    (GeneralizedDiceLoss, {"w_type": "cube"}, r"w_type must be one of .*got 'cube'"),
    (FocalLoss, {"gamma": -1}, r"gamma must lie in \[0, inf\], got -1"),
    (FocalLoss, {"alpha": 1.5}, r"alpha must lie in \[0, 1\], got 1\.5"),
    (FocalLoss, {"alpha": [0.5, -2.0]}, r"alpha"),  # per-class factors above 1 are MONAI's (its tests use them)
    (FocalLoss, {"weight": -1.0}, r"weight must be finite and >= 0, got -1\.0"),
]


@pytest.mark.parametrize(("cls", "kwargs", "match"), HYPER, ids=[f"{c.__name__}-{k}" for c, k, _ in HYPER])
def test_bad_hyper_parameters(cls, kwargs, match):
    activation = {} if cls is FocalLoss else {"sigmoid": True}  # MONAI's FocalLoss: sigmoid unless use_softmax
    with pytest.raises(ValueError, match=match):
        cls(**activation, **kwargs)


def test_focal_needs_logits_and_matching_per_class_values():
    with pytest.raises(ValueError, match=r"loss 'focal' takes logits: pass sigmoid=True .* or softmax=True"):
        build_loss("focal", sigmoid=False)
    with pytest.raises(ValueError, match=r"loss 'focal' takes logits"):
        build_loss("focal", other_act=torch.tanh)
    loss = FocalLoss(use_softmax=True, to_onehot_y=True, alpha=[0.2, 0.3])
    raises(r"alpha has 2 entries but the loss sees 3 channel\(s\)", loss, logits(), labels())
    loss = FocalLoss(weight=[1.0, 2.0])
    raises(r"weight has 2 entries but the loss sees 3 channel\(s\)", loss, logits(), regions())


def test_valid_input_passes_the_checks():
    """The checks reject only bad input: boundary values that are valid still compute."""
    for name in NAMES:
        assert torch.isfinite(build_loss(name, **SOFTMAX)(logits(), labels()))
        assert torch.isfinite(build_loss(name, **SIGMOID)(logits(), regions().bool().float()))
    assert torch.isfinite(
        FocalDiceLoss(sigmoid=True, beta=1.0, neg_ratio=0.0, sampling="balanced")(logits(), regions())
    )
    assert torch.isfinite(SensitivitySpecificityLoss(sigmoid=True, r=1.0)(logits(), regions()))
    assert torch.isfinite(TverskyLoss(sigmoid=True, alpha=0.0, beta=1.0)(logits(), regions()))


def test_huge_finite_values_are_not_reported_as_non_finite():
    x = torch.full((1, 2, 4, 4), 3e38)  # finite, but their float32 sum overflows
    x[:, 1] = -3e38
    labels = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    assert torch.isfinite(build_loss("dice", softmax=True, to_onehot_y=True)(x, labels))
