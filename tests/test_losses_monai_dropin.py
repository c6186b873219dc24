"""The MONAI-named drop-ins of ``scripts.losses`` against MONAI 1.6.1's classes (issue 12, item 3).

For random inputs over the modes (sigmoid, softmax, labels / one-hot / multi-label / soft targets, background
dropped, ``batch``, class weights, ``soft_label``, ``ignore_index``, 2D and 3D, every reduction) each of our
classes gives MONAI's value, ``reduction="none"`` shape and gradient w.r.t. the input. The two deliberate
differences (``DiceCELoss`` with ``sigmoid=True`` on several channels, ``DiceFocalLoss`` with ``softmax=True``)
are shown against MONAI and against an independent reference. The compiled path is checked on two cases (each
compilation costs seconds); every other test runs eagerly (``compile=False``).
"""

from __future__ import annotations

import copy
import warnings

import monai.losses as monai_losses
import pytest
import torch
import torch.nn.functional as F

from scripts.losses._checks import LossInputError
from scripts.losses.dice import DiceLoss
from scripts.losses.dice_ce import DiceCELoss
from scripts.losses.dice_focal import DiceFocalLoss
from scripts.losses.focal import FocalLoss
from scripts.losses.generalized_dice import GeneralizedDiceLoss
from scripts.losses.generalized_dice_focal import GeneralizedDiceFocalLoss
from scripts.losses.tversky import TverskyLoss

OURS = {cls.__name__: cls for cls in (DiceLoss, GeneralizedDiceLoss, TverskyLoss, FocalLoss, DiceCELoss, DiceFocalLoss)}
OURS["GeneralizedDiceFocalLoss"] = GeneralizedDiceFocalLoss  # issue 24
SHAPE_3D = (2, 3, 5, 4, 3)
SHAPE_2D = (3, 3, 6, 5)
IGNORED = 255  # a sentinel label, outside [0, C)


def make_target(kind: str, shape: tuple, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """``labels`` (B, 1, ...) ints; ``onehot`` / ``binary`` (overlapping regions) / ``soft`` (B, C, ...);
    ``labels_ignored_<v>``: labels with a fifth of the voxels ``v``; ``onehot_sentinel``: one-hot with a fifth of
    the voxels of no class; ``labels_absent``: the last class absent."""
    b, c, *spatial = shape
    labels = torch.randint(0, c, (b, 1, *spatial), generator=gen)
    if kind == "labels":
        return labels
    if kind == "labels_absent":
        return labels.clamp_max(c - 2)
    if kind.startswith("labels_ignored_"):
        return labels.masked_fill(torch.rand(labels.shape, generator=gen) < 0.2, int(kind.rsplit("_", 1)[1]))
    onehot = F.one_hot(labels[:, 0], c).movedim(-1, 1).to(dtype)
    if kind == "onehot":
        return onehot
    if kind == "onehot_sentinel":
        return onehot * (torch.rand((b, 1, *spatial), generator=gen) > 0.2)
    if kind == "binary":
        return (torch.rand(shape, generator=gen) < 0.4).to(dtype)
    if kind == "soft":
        return torch.rand(shape, generator=gen, dtype=dtype)
    raise ValueError(kind)


def make_inputs(target_kind: str, shape=SHAPE_3D, seed: int = 0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    x = (2 * torch.randn(shape, generator=gen)).to(dtype)
    return x, make_target(target_kind, shape, gen, dtype)


def value_and_grad(loss, x: torch.Tensor, target: torch.Tensor):
    """The loss and the gradient of a fixed random weighting of it (every element of a "none" output counts)."""
    x = x.clone().requires_grad_()
    value = loss(x, target)
    weights = torch.rand(value.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (value * weights.to(value.dtype)).sum().backward()
    return value.detach(), x.grad


def assert_same(got, want, rtol=1e-5, atol=1e-6):
    assert got[0].shape == want[0].shape, f"shape {tuple(got[0].shape)} vs MONAI's {tuple(want[0].shape)}"
    torch.testing.assert_close(got[0], want[0].to(got[0].dtype), rtol=rtol, atol=atol)
    torch.testing.assert_close(got[1], want[1].to(got[1].dtype), rtol=rtol, atol=atol)


def build(name: str, kwargs: dict, **extra):
    return OURS[name](**copy.deepcopy(kwargs), compile=False, **extra)


def monai(name: str, kwargs: dict):
    return getattr(monai_losses, name)(**copy.deepcopy(kwargs))


SOFTMAX_LABELS = {"softmax": True, "to_onehot_y": True}
# (class, kwargs, target kind, 2D?) -- MONAI's arguments only; ours get compile=False on top.
CASES = [
    # Dice / Jaccard
    ("DiceLoss", {"sigmoid": True}, "binary", False),
    ("DiceLoss", {**SOFTMAX_LABELS, "reduction": "sum"}, "labels", True),
    ("DiceLoss", {"softmax": True, "include_background": False, "reduction": "none"}, "onehot", False),
    ("DiceLoss", {**SOFTMAX_LABELS, "batch": True, "reduction": "none"}, "labels", False),
    ("DiceLoss", {"sigmoid": True, "weight": [1.0, 2.0, 0.5], "reduction": "none"}, "binary", True),
    ("DiceLoss", {**SOFTMAX_LABELS, "include_background": False, "weight": [2.0, 0.5]}, "labels", False),
    ("DiceLoss", {"sigmoid": True, "batch": True, "jaccard": True, "weight": 2.0, "reduction": "sum"}, "binary", True),
    ("DiceLoss", {"sigmoid": True, "soft_label": True, "squared_pred": True}, "soft", False),
    ("DiceLoss", {"sigmoid": True, "jaccard": True, "reduction": "none"}, "soft", True),
    ("DiceLoss", {"other_act": torch.tanh, "soft_label": True, "jaccard": True}, "soft", False),
    ("DiceLoss", {"other_act": torch.tanh, "squared_pred": True, "reduction": "none"}, "binary", False),
    ("DiceLoss", {**SOFTMAX_LABELS, "ignore_index": IGNORED, "reduction": "none"}, f"labels_ignored_{IGNORED}", False),
    ("DiceLoss", {**SOFTMAX_LABELS, "ignore_index": 1, "include_background": False}, "labels", True),
    ("DiceLoss", {"softmax": True, "ignore_index": -1, "batch": True, "reduction": "none"}, "onehot_sentinel", False),
    ("DiceLoss", {"softmax": True, "ignore_index": 0, "soft_label": True}, "onehot", False),
    # Generalized Dice
    ("GeneralizedDiceLoss", {**SOFTMAX_LABELS}, "labels_absent", False),
    ("GeneralizedDiceLoss", {**SOFTMAX_LABELS, "w_type": "simple", "reduction": "none"}, "labels_absent", True),
    ("GeneralizedDiceLoss", {"sigmoid": True, "w_type": "uniform", "reduction": "sum"}, "binary", False),
    ("GeneralizedDiceLoss", {**SOFTMAX_LABELS, "batch": True, "reduction": "none"}, "labels_absent", False),
    ("GeneralizedDiceLoss", {"softmax": True, "include_background": False, "batch": True}, "onehot", True),
    ("GeneralizedDiceLoss", {"sigmoid": True, "soft_label": True, "reduction": "none"}, "soft", False),
    # Tversky
    ("TverskyLoss", {"sigmoid": True, "alpha": 0.3, "beta": 0.7}, "binary", False),
    ("TverskyLoss", {**SOFTMAX_LABELS, "include_background": False, "reduction": "none"}, "labels", True),
    ("TverskyLoss", {**SOFTMAX_LABELS, "batch": True, "alpha": 0.7, "beta": 0.3, "reduction": "none"}, "labels", False),
    ("TverskyLoss", {"sigmoid": True, "soft_label": True, "reduction": "sum"}, "soft", False),
    ("TverskyLoss", {"sigmoid": True, "alpha": 0.2, "beta": 0.9}, "soft", True),
    (
        "TverskyLoss",
        {**SOFTMAX_LABELS, "ignore_index": IGNORED, "reduction": "none"},
        f"labels_ignored_{IGNORED}",
        False,
    ),
    ("TverskyLoss", {"softmax": True, "ignore_index": 2, "include_background": False}, "onehot", False),
    # Focal
    ("FocalLoss", {}, "binary", False),
    ("FocalLoss", {"to_onehot_y": True, "use_softmax": True, "reduction": "sum"}, "labels", True),
    ("FocalLoss", {"to_onehot_y": True, "use_softmax": True, "alpha": 0.25, "reduction": "none"}, "labels", False),
    ("FocalLoss", {"use_softmax": True, "alpha": [0.2, 0.3, 0.5], "gamma": 1.5}, "onehot", False),
    ("FocalLoss", {"alpha": 0.25, "gamma": 0.0, "reduction": "none"}, "binary", True),
    ("FocalLoss", {"alpha": [0.2, 0.7], "include_background": False, "weight": [1.0, 3.0]}, "binary", False),
    ("FocalLoss", {"gamma": 1.0, "alpha": 0.75, "weight": 0.5, "reduction": "sum"}, "soft", False),
    ("FocalLoss", {"use_softmax": True, "include_background": False, "weight": [2.0, 1.0]}, "onehot", True),
    ("FocalLoss", {"use_softmax": True, "include_background": False, "alpha": 0.25}, "onehot", False),
    ("FocalLoss", {"to_onehot_y": True, "ignore_index": IGNORED}, f"labels_ignored_{IGNORED}", False),
    (
        "FocalLoss",
        {"to_onehot_y": True, "use_softmax": True, "ignore_index": IGNORED, "reduction": "sum"},
        f"labels_ignored_{IGNORED}",
        True,
    ),
    ("FocalLoss", {"use_softmax": True, "ignore_index": 1, "reduction": "none"}, "onehot", False),
    ("FocalLoss", {"ignore_index": -1, "weight": [1.0, 2.0, 3.0]}, "onehot_sentinel", False),
    # Dice + CE (sigmoid on several channels: the deliberate difference, below)
    ("DiceCELoss", {**SOFTMAX_LABELS}, "labels", False),
    ("DiceCELoss", {**SOFTMAX_LABELS, "weight": torch.tensor([0.5, 1.0, 2.0]), "label_smoothing": 0.1}, "labels", True),
    ("DiceCELoss", {"softmax": True, "reduction": "sum", "lambda_dice": 0.5, "lambda_ce": 2.0}, "soft", False),
    (
        "DiceCELoss",
        {**SOFTMAX_LABELS, "include_background": False, "weight": torch.tensor([0.0, 1.0, 2.0])},
        "labels",
        False,
    ),
    ("DiceCELoss", {"to_onehot_y": True, "batch": True, "jaccard": True, "squared_pred": True}, "labels", True),
    ("DiceCELoss", {"softmax": True, "label_smoothing": 0.2, "weight": torch.tensor([1.0, 2.0, 1.0])}, "onehot", False),
    # Dice + focal (softmax: the deliberate difference, below)
    ("DiceFocalLoss", {"sigmoid": True}, "binary", False),
    ("DiceFocalLoss", {"sigmoid": True, "reduction": "none", "weight": [1.0, 2.0, 0.5], "gamma": 1.0}, "binary", True),
    ("DiceFocalLoss", {"sigmoid": True, "batch": True, "reduction": "none", "alpha": 0.25}, "binary", False),
    (
        "DiceFocalLoss",
        {"sigmoid": True, "include_background": False, "reduction": "sum", "lambda_focal": 0.5},
        "binary",
        True,
    ),
    ("DiceFocalLoss", {"to_onehot_y": True, "sigmoid": True, "jaccard": True, "lambda_dice": 2.0}, "labels", False),
    ("DiceFocalLoss", {"other_act": torch.tanh, "squared_pred": True}, "binary", False),
    # Generalised Dice + focal (issue 24; softmax: the deliberate difference, below)
    ("GeneralizedDiceFocalLoss", {"sigmoid": True}, "binary", False),
    ("GeneralizedDiceFocalLoss", {"sigmoid": True, "reduction": "none", "weight": [1.0, 2.0, 0.5]}, "binary", True),
    (
        "GeneralizedDiceFocalLoss",
        {"sigmoid": True, "to_onehot_y": True, "batch": True, "w_type": "simple"},
        "labels",
        False,
    ),
    (
        "GeneralizedDiceFocalLoss",
        {"sigmoid": True, "include_background": False, "reduction": "sum", "lambda_focal": 0.5, "gamma": 1.0},
        "binary",
        True,
    ),
    ("GeneralizedDiceFocalLoss", {"sigmoid": True, "w_type": "uniform", "lambda_gdl": 2.0}, "soft", False),
    ("GeneralizedDiceFocalLoss", {"other_act": torch.tanh, "reduction": "none"}, "binary", False),
    ("GeneralizedDiceFocalLoss", {}, "binary", True),
]


@pytest.mark.parametrize(
    "name, kwargs, target_kind, two_d",
    CASES,
    ids=[f"{c[0]}-{i}-{'2d' if c[3] else '3d'}-{c[2]}" for i, c in enumerate(CASES)],
)
def test_equals_monai(name, kwargs, target_kind, two_d):
    """Value, ``reduction="none"`` shape and input gradient equal MONAI 1.6.1's (float32, rtol 1e-5)."""
    x, target = make_inputs(target_kind, SHAPE_2D if two_d else SHAPE_3D, seed=len(kwargs) + 7 * bool(two_d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MONAI's and our "scalar alpha ignored" warning
        want = value_and_grad(monai(name, kwargs), x, target)
        got = value_and_grad(build(name, kwargs), x, target)
    assert_same(got, want)


@pytest.mark.parametrize(
    "name, kwargs, target_kind",
    [
        ("DiceLoss", {**SOFTMAX_LABELS, "weight": [1.0, 2.0, 3.0]}, "labels"),
        ("GeneralizedDiceLoss", {"sigmoid": True, "reduction": "none"}, "binary"),
        ("TverskyLoss", {**SOFTMAX_LABELS, "alpha": 0.3, "beta": 0.7}, "labels"),
        ("FocalLoss", {"to_onehot_y": True, "use_softmax": True, "alpha": 0.25}, "labels"),
        ("DiceCELoss", {**SOFTMAX_LABELS}, "labels"),
        ("DiceFocalLoss", {"sigmoid": True}, "binary"),
    ],
)
def test_float64_is_computed_in_float64(name, kwargs, target_kind):
    x, target = make_inputs(target_kind, dtype=torch.float64)
    got = value_and_grad(build(name, kwargs), x, target)
    assert got[0].dtype == got[1].dtype == torch.float64
    assert_same(got, value_and_grad(monai(name, kwargs), x, target))  # MONAI's focal term: float32


def test_classification_logits_without_spatial_dims():
    """``FocalLoss`` takes ``(B, C)`` logits, as MONAI's."""
    x, labels = torch.randn(16, 4), torch.randint(0, 4, (16, 1))
    for reduction in ("mean", "sum", "none"):
        kwargs = {"to_onehot_y": True, "reduction": reduction}
        assert_same(
            value_and_grad(build("FocalLoss", kwargs), x, labels), value_and_grad(monai("FocalLoss", kwargs), x, labels)
        )


# ---------------------------------------------------------------------- the deliberate differences
def per_channel_bce(x, g, weight=None, reduction="mean"):
    """Independent reference: torch's binary cross-entropy of each channel, then their mean (or sum)."""
    terms = [
        F.binary_cross_entropy_with_logits(
            x[:, c], g[:, c], pos_weight=None if weight is None else weight[c], reduction=reduction
        )
        for c in range(x.shape[1])
    ]
    return torch.stack(terms).mean() if reduction == "mean" else torch.stack(terms).sum()


@pytest.mark.parametrize(
    "kwargs, target_kind",
    [
        ({"sigmoid": True}, "binary"),
        ({"sigmoid": True, "reduction": "sum", "lambda_dice": 0.5, "lambda_ce": 2.0}, "binary"),
        ({"sigmoid": True, "weight": torch.tensor([1.0, 2.0, 4.0]), "include_background": False}, "binary"),
        ({"sigmoid": True, "to_onehot_y": True, "batch": True}, "labels"),
    ],
)
def test_dice_ce_sigmoid_takes_per_channel_bce_where_monai_takes_a_softmax_ce(kwargs, target_kind):
    """Overlapping regions (BraTS TC/WT/ET): ours is Dice + the per-channel BCE; MONAI 1.6.1 takes a softmax CE
    over the channels, treating them as exclusive."""
    x, target = make_inputs(target_kind)
    g = F.one_hot(target[:, 0], x.shape[1]).movedim(-1, 1).float() if target_kind == "labels" else target
    reduction, lam_dice, lam_ce = (
        kwargs.get(k, d) for k, d in (("reduction", "mean"), ("lambda_dice", 1.0), ("lambda_ce", 1.0))
    )
    weight = kwargs.get("weight")
    dice_kwargs = {k: v for k, v in kwargs.items() if k not in ("lambda_dice", "lambda_ce", "weight")}
    if weight is not None:
        dice_kwargs["weight"] = weight if kwargs.get("include_background", True) else weight[1:]

    def reference(x):
        dice = monai_losses.DiceLoss(**dice_kwargs)(x, target)
        return lam_dice * dice + lam_ce * per_channel_bce(x, g, weight, reduction)

    def monais_reading(x):  # what MONAI computes: the softmax cross-entropy over the channels
        dice = monai_losses.DiceLoss(**dice_kwargs)(x, target)
        ce = F.cross_entropy(x, target[:, 0] if target_kind == "labels" else g, weight=weight, reduction=reduction)
        return lam_dice * dice + lam_ce * ce

    ours = value_and_grad(build("DiceCELoss", kwargs), x, target)
    theirs = value_and_grad(monai("DiceCELoss", kwargs), x, target)
    assert_same(ours, value_and_grad(lambda x, t: reference(x), x, target))
    assert_same(theirs, value_and_grad(lambda x, t: monais_reading(x), x, target))
    assert abs(float(ours[0]) - float(theirs[0])) > 1e-2


@pytest.mark.parametrize(
    "kwargs, target_kind",
    [
        ({"softmax": True, "to_onehot_y": True}, "labels"),
        (
            {"softmax": True, "to_onehot_y": True, "reduction": "none", "gamma": 1.0, "weight": [1.0, 2.0, 0.5]},
            "labels",
        ),
        ({"softmax": True, "include_background": False, "reduction": "sum", "lambda_focal": 0.5}, "onehot"),
        ({"softmax": True, "alpha": 0.25, "batch": True, "jaccard": True}, "onehot"),
    ],
)
def test_dice_focal_softmax_takes_the_softmax_focal_term_where_monai_takes_the_sigmoid_one(kwargs, target_kind):
    """MONAI #8242: with ``softmax=True`` MONAI 1.6.1's focal term is still the sigmoid one; ours is MONAI's
    ``DiceLoss`` + ``FocalLoss(use_softmax=True)``."""
    x, target = make_inputs(target_kind)
    focal_keys = ("include_background", "to_onehot_y", "gamma", "alpha", "weight", "reduction")
    dice_kwargs = {k: v for k, v in kwargs.items() if k not in ("gamma", "alpha", "lambda_dice", "lambda_focal")}
    focal_kwargs = {k: v for k, v in kwargs.items() if k in focal_keys}
    lam_dice, lam_focal = kwargs.get("lambda_dice", 1.0), kwargs.get("lambda_focal", 1.0)

    def terms(x, use_softmax):
        dice = monai("DiceLoss", dice_kwargs)(x, target)
        return lam_dice * dice + lam_focal * monai("FocalLoss", {**focal_kwargs, "use_softmax": use_softmax})(x, target)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ours = value_and_grad(build("DiceFocalLoss", kwargs), x, target)
        theirs = value_and_grad(monai("DiceFocalLoss", kwargs), x, target)
        assert_same(ours, value_and_grad(lambda x, t: terms(x, True), x, target))
        assert_same(theirs, value_and_grad(lambda x, t: terms(x, False), x, target))
    assert (ours[0] - theirs[0]).abs().max() > 1e-2


def test_softmax_focal_gradient_is_finite_at_saturated_logits_where_monais_is_nan():
    """``(1 - p)^gamma`` with ``gamma < 1`` has an infinite slope where ``p`` rounds to 1: floored here."""
    labels = torch.tensor([[[0, 1, 2, 1]]])
    x = 1e4 * F.one_hot(labels[:, 0], 3).movedim(-1, 1).float()
    kwargs = {"to_onehot_y": True, "use_softmax": True, "gamma": 0.5}
    ours, theirs = (
        value_and_grad(build("FocalLoss", kwargs), x, labels),
        value_and_grad(monai("FocalLoss", kwargs), x, labels),
    )
    assert float(ours[0]) == float(theirs[0]) == 0.0
    assert torch.isfinite(ours[1]).all() and not torch.isfinite(theirs[1]).all()


def test_focal_alpha_sequence_takes_per_class_factors_above_one():
    """As MONAI's test_alpha_sequence_broadcasting (alpha [0.1, 0.5, 2.0])."""
    x, labels = make_inputs("labels")
    for use_softmax in (True, False):
        kwargs = {"to_onehot_y": True, "alpha": [0.1, 0.5, 2.0], "use_softmax": use_softmax}
        assert_same(
            value_and_grad(build("FocalLoss", kwargs), x, labels), value_and_grad(monai("FocalLoss", kwargs), x, labels)
        )


@pytest.mark.parametrize(
    "kwargs, target_kind",
    [
        ({"softmax": True, "to_onehot_y": True}, "labels_absent"),
        (
            {"softmax": True, "to_onehot_y": True, "reduction": "none", "gamma": 1.0, "weight": [1.0, 2.0, 0.5]},
            "labels",
        ),
        ({"softmax": True, "include_background": False, "reduction": "sum", "lambda_focal": 0.5}, "onehot"),
        ({"softmax": True, "batch": True, "w_type": "simple", "lambda_gdl": 0.5}, "onehot"),
    ],
)
def test_generalized_dice_focal_softmax_takes_the_softmax_focal_term(kwargs, target_kind):
    """As ``DiceFocalLoss`` (MONAI #8242): ours is MONAI's ``GeneralizedDiceLoss`` + ``FocalLoss(use_softmax=True)``;
    MONAI 1.6.1's ``GeneralizedDiceFocalLoss(softmax=True)`` takes the sigmoid focal term."""
    x, target = make_inputs(target_kind)
    focal_keys = ("include_background", "to_onehot_y", "gamma", "weight", "reduction")
    gdl_kwargs = {k: v for k, v in kwargs.items() if k not in ("gamma", "weight", "lambda_gdl", "lambda_focal")}
    focal_kwargs = {k: v for k, v in kwargs.items() if k in focal_keys}
    lam_gdl, lam_focal = kwargs.get("lambda_gdl", 1.0), kwargs.get("lambda_focal", 1.0)

    def terms(x, use_softmax):
        gdl = monai("GeneralizedDiceLoss", gdl_kwargs)(x, target)
        return lam_gdl * gdl + lam_focal * monai("FocalLoss", {**focal_kwargs, "use_softmax": use_softmax})(x, target)

    ours = value_and_grad(build("GeneralizedDiceFocalLoss", kwargs), x, target)
    theirs = value_and_grad(monai("GeneralizedDiceFocalLoss", kwargs), x, target)
    assert_same(ours, value_and_grad(lambda x, t: terms(x, True), x, target))
    assert_same(theirs, value_and_grad(lambda x, t: terms(x, False), x, target))
    assert (ours[0] - theirs[0]).abs().max() > 1e-2


@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
@pytest.mark.parametrize("lambda_focal", [0.5, 1.0, 1.5])
@pytest.mark.parametrize(
    "common, gamma, weights",
    [
        ({"include_background": True, "to_onehot_y": False}, 1.0, [None, torch.tensor([1.0, 1.0, 2.0]), (3, 2.0, 1)]),
        ({"include_background": False, "to_onehot_y": True}, 2.0, [2.0, torch.tensor([1.0, 2.0]), (2.0, 1)]),
    ],
    ids=["onehot_target_include_bg", "no_onehot_no_bg"],
)
def test_generalized_dice_focal_monais_own_value_tests(common, gamma, weights, lambda_focal, reduction):
    """MONAI 1.5.0's tests/losses/test_generalized_dice_focal_loss.py (commit d388d1c6), its two value tests:
    the class equals ``GeneralizedDiceLoss + lambda_focal * FocalLoss`` (MONAI's, no activation, sigmoid focal
    term); inputs drawn once under ``torch.manual_seed(0)`` as MONAI's sizes (MONAI draws unseeded)."""
    torch.manual_seed(0)
    size = [3, 3, 5, 5]
    label = torch.randint(low=0, high=2, size=size)
    if common["to_onehot_y"]:
        label = torch.argmax(label, dim=1, keepdim=True)
    pred = torch.randn(size)
    common = {**common, "reduction": reduction}
    for weight in weights:
        kwargs = {**common, "weight": weight, "gamma": gamma, "lambda_focal": lambda_focal}
        want = monai_losses.GeneralizedDiceLoss(**common)(pred, label) + lambda_focal * monai_losses.FocalLoss(
            weight=copy.deepcopy(weight), gamma=gamma, **common
        )(pred, label)
        for loss in (build("GeneralizedDiceFocalLoss", kwargs), monai("GeneralizedDiceFocalLoss", kwargs)):
            torch.testing.assert_close(loss(pred, label), want, rtol=1e-6, atol=1e-7)


def test_generalized_dice_focal_monais_own_exception_tests():
    """MONAI's test_ill_shape (AssertionError), test_ill_shape2/3 (ValueError), test_ill_lambda."""
    loss = build("GeneralizedDiceFocalLoss", {})
    with pytest.raises(AssertionError):
        loss(torch.ones((1, 2, 3)), torch.ones((1, 2, 5)))
    for x, target in [
        (torch.ones((1, 2, 3)), torch.ones((1, 1, 2, 3))),
        (torch.ones((1, 3, 4, 4)), torch.ones((1, 2, 4, 4))),
    ]:
        with pytest.raises(ValueError):
            loss(x, target)
    for bad in ({"lambda_gdl": -1.0}, {"lambda_focal": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            build("GeneralizedDiceFocalLoss", bad)


# ---------------------------------------------------------------------- our checks (MONAI warns or carries on)
@pytest.mark.parametrize("name", sorted(OURS))
def test_bad_input_raises_loss_input_error(name):
    kwargs = {"use_softmax": True} if name == "FocalLoss" else {"softmax": True}
    loss = build(name, {**kwargs, "to_onehot_y": True})
    x, labels = make_inputs("labels")
    for bad_x, bad_target, what in [
        (x, labels + 3, "label values"),
        (x.masked_fill(x > 2, float("nan")), labels, "NaN"),
        (x, labels[..., :2], "shape"),
        (x[:, :1], labels.clamp_max(1), "channel"),
    ]:
        with pytest.raises(LossInputError, match=what) as error:
            loss(bad_x, bad_target)
        assert isinstance(error.value, ValueError) and isinstance(error.value, AssertionError)


def test_weight_of_the_wrong_length_raises():
    x, labels = make_inputs("labels")
    for loss in (
        build("DiceLoss", {**SOFTMAX_LABELS, "weight": [1.0, 2.0]}),
        build("FocalLoss", {"to_onehot_y": True, "weight": [1.0, 2.0]}),
        build("FocalLoss", {"to_onehot_y": True, "alpha": [0.1, 0.5]}),
        build("DiceFocalLoss", {**SOFTMAX_LABELS, "weight": [1.0, 2.0, 3.0, 4.0]}),
    ):
        with pytest.raises(ValueError, match="weight|length of alpha"):
            loss(x, labels)
    with pytest.raises(ValueError, match="reduction"):
        DiceCELoss(reduction="none")


def test_monais_own_exception_tests():
    """MONAI's tests of bad arguments and shapes (listed in tests/data/monai_loss_cases/README.md) get the
    exception types they expect."""
    ones = torch.ones
    for name in ("DiceLoss", "GeneralizedDiceLoss", "TverskyLoss", "DiceCELoss", "DiceFocalLoss"):
        with pytest.raises(AssertionError):
            build(name, {})(ones(1, 2, 3), ones(1, 2, 5))
        for bad in ({"sigmoid": True, "softmax": True}, {"reduction": "unknown"}, {"reduction": None}):
            with pytest.raises(ValueError):
                build(name, bad)
    for name in ("DiceCELoss", "DiceFocalLoss"):
        for x, target in ((ones(1, 2, 3), ones(1, 1, 2, 3)), (ones(1, 3, 4, 4), ones(1, 2, 4, 4))):
            with pytest.raises(ValueError):
                build(name, {})(x, target)
        with pytest.raises(ValueError):
            build(name, {"lambda_dice": -1.0})
    with pytest.raises(ValueError):
        build("FocalLoss", {})(ones(1, 2, 3), ones(1, 3))
    for include_background, weight in ((True, (1.0, 1.0, 2.0)), (False, (1.0,) * 4), (False, (1.0, 1.0, -1.0))):
        with pytest.raises(ValueError):
            build("FocalLoss", {"include_background": include_background, "weight": weight})(
                ones(1, 4, 3, 3), ones(1, 4, 3, 3)
            )
    with pytest.warns(UserWarning, match="alpha"):
        build("FocalLoss", {"include_background": False, "alpha": 0.5, "use_softmax": True})(
            ones(1, 3, 3), ones(1, 3, 3)
        )


# ---------------------------------------------------------------------- compiled equals eager (a few cases)
@pytest.mark.compiled
@pytest.mark.parametrize(
    "name, kwargs, target_kind",
    [
        (
            "FocalLoss",
            {
                "to_onehot_y": True,
                "use_softmax": True,
                "ignore_index": IGNORED,
                "alpha": [0.2, 0.3, 0.5],
                "reduction": "sum",
            },
            f"labels_ignored_{IGNORED}",
        ),
        ("DiceFocalLoss", {"sigmoid": True, "batch": True, "reduction": "none", "weight": [1.0, 2.0, 0.5]}, "binary"),
    ],
)
def test_compiled_equals_eager(name, kwargs, target_kind):
    x, target = make_inputs(target_kind)
    compiled = OURS[name](**copy.deepcopy(kwargs))
    assert compiled.compile
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to eager would warn: this must compile
        got = value_and_grad(compiled, x, target)
    assert compiled.compile
    assert_same(got, value_and_grad(build(name, kwargs), x, target))
    assert_same(got, value_and_grad(monai(name, kwargs), x, target))
