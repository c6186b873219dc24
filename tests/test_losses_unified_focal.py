"""The Unified Focal loss family (Yeung et al. 2022) against the reference code's conventions and the formulas.

``keras_*`` below is a float64 numpy transcription of the authors' binary Keras code (mlyg/unified-focal-loss,
``loss_functions.py``): channels last, ``K.epsilon() = 1e-7`` clip, mTI with delta on FN, per-class terms,
the mean over the two classes in the focal Tversky parts, ``weight`` on the focal Tversky part as the code
does (identical to the printed equation at weight = 0.5). Not copied: the code's ``[:, :, :, k]`` channel
indexing (wrong for 3D); here ``[..., k]``. ``ref_*`` is a float64 torch re-implementation of the formulas in
``docs/losses.md`` for C classes (background suppressed, rare classes enhanced) and per-channel
sigmoid problems. Neither calls ``scripts.losses``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from loss_references import ref_one_hot, ref_softmax, seed_of
from monai.losses import AsymmetricUnifiedFocalLoss as MonaiAsymmetricUnifiedFocalLoss
from monai.losses.unified_focal_loss import AsymmetricFocalLoss as MonaiAsymmetricFocalLoss

from scripts.losses import (
    AsymmetricFocalLoss,
    AsymmetricFocalTverskyLoss,
    AsymmetricUnifiedFocalLoss,
    SymmetricFocalLoss,
    SymmetricFocalTverskyLoss,
    SymmetricUnifiedFocalLoss,
)

EPS = 1e-7


# ---------------------------------------------------------------- numpy transcription of the binary reference code
def keras_axes(a):
    """identify_axis: the spatial axes of a channels-last (B, *spatial, 2) array."""
    return tuple(range(1, a.ndim - 1))


def keras_symmetric_focal(y_true, y_pred, delta=0.7, gamma=2.0):
    y_pred = np.clip(y_pred, EPS, 1.0 - EPS)
    cross_entropy = -y_true * np.log(y_pred)
    back_ce = (1 - delta) * np.power(1 - y_pred[..., 0], gamma) * cross_entropy[..., 0]
    fore_ce = delta * np.power(1 - y_pred[..., 1], gamma) * cross_entropy[..., 1]
    return np.mean(np.sum(np.stack([back_ce, fore_ce], axis=-1), axis=-1))


def keras_asymmetric_focal(y_true, y_pred, delta=0.7, gamma=2.0):
    y_pred = np.clip(y_pred, EPS, 1.0 - EPS)
    cross_entropy = -y_true * np.log(y_pred)
    back_ce = (1 - delta) * np.power(1 - y_pred[..., 0], gamma) * cross_entropy[..., 0]
    fore_ce = delta * cross_entropy[..., 1]
    return np.mean(np.sum(np.stack([back_ce, fore_ce], axis=-1), axis=-1))


def keras_dice_class(y_true, y_pred, delta):
    y_pred = np.clip(y_pred, EPS, 1.0 - EPS)
    axis = keras_axes(y_true)
    tp = np.sum(y_true * y_pred, axis=axis)
    fn = np.sum(y_true * (1 - y_pred), axis=axis)
    fp = np.sum((1 - y_true) * y_pred, axis=axis)
    return (tp + EPS) / (tp + delta * fn + (1 - delta) * fp + EPS)


def keras_symmetric_focal_tversky(y_true, y_pred, delta=0.7, gamma=0.75):
    d = keras_dice_class(y_true, y_pred, delta)
    back_dice = (1 - d[:, 0]) * np.power(1 - d[:, 0], -gamma)
    fore_dice = (1 - d[:, 1]) * np.power(1 - d[:, 1], -gamma)
    return np.mean(np.stack([back_dice, fore_dice], axis=-1))


def keras_asymmetric_focal_tversky(y_true, y_pred, delta=0.7, gamma=0.75):
    d = keras_dice_class(y_true, y_pred, delta)
    back_dice = 1 - d[:, 0]
    fore_dice = (1 - d[:, 1]) * np.power(1 - d[:, 1], -gamma)
    return np.mean(np.stack([back_dice, fore_dice], axis=-1))


def keras_sym_unified(y_true, y_pred, weight=0.5, delta=0.6, gamma=0.5):
    ftl = keras_symmetric_focal_tversky(y_true, y_pred, delta, gamma)
    fl = keras_symmetric_focal(y_true, y_pred, delta, gamma)
    return weight * ftl + (1 - weight) * fl


def keras_asym_unified(y_true, y_pred, weight=0.5, delta=0.6, gamma=0.5):
    ftl = keras_asymmetric_focal_tversky(y_true, y_pred, delta, gamma)
    fl = keras_asymmetric_focal(y_true, y_pred, delta, gamma)
    return weight * ftl + (1 - weight) * fl


# name -> (our class, its default kwargs, the keras function, its keyword names)
FAMILY = {
    "symmetric_focal": (SymmetricFocalLoss, {"delta": 0.7, "gamma": 2.0}, keras_symmetric_focal),
    "asymmetric_focal": (AsymmetricFocalLoss, {"delta": 0.7, "gamma": 2.0}, keras_asymmetric_focal),
    "symmetric_focal_tversky": (
        SymmetricFocalTverskyLoss,
        {"delta": 0.7, "gamma": 0.75},
        keras_symmetric_focal_tversky,
    ),
    "asymmetric_focal_tversky": (
        AsymmetricFocalTverskyLoss,
        {"delta": 0.7, "gamma": 0.75},
        keras_asymmetric_focal_tversky,
    ),
    "symmetric_unified_focal": (
        SymmetricUnifiedFocalLoss,
        {"weight": 0.5, "delta": 0.6, "gamma": 0.5},
        keras_sym_unified,
    ),
    "asymmetric_unified_focal": (
        AsymmetricUnifiedFocalLoss,
        {"weight": 0.5, "delta": 0.6, "gamma": 0.5},
        keras_asym_unified,
    ),
}
# non-default hyper-parameters (weight stays 0.5, where the code and the printed equation agree)
OTHER_PARAMS = {
    "symmetric_focal": {"delta": 0.4, "gamma": 0.5},
    "asymmetric_focal": {"delta": 0.9, "gamma": 3.0},
    "symmetric_focal_tversky": {"delta": 0.3, "gamma": 0.2},
    "asymmetric_focal_tversky": {"delta": 0.8, "gamma": 0.9},
    "symmetric_unified_focal": {"weight": 0.5, "delta": 0.8, "gamma": 0.25},
    "asymmetric_unified_focal": {"weight": 0.5, "delta": 0.3, "gamma": 0.75},
}
SPATIAL = {"2d": (5, 6), "3d": (3, 4, 5)}


def to_keras(t):
    """(B, C, *spatial) torch -> channels-last float64 numpy."""
    return np.moveaxis(t.detach().double().numpy(), 1, -1)


def binary_case(spatial, seed, scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(2, 2, *spatial, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 2, (2, 1, *spatial), generator=gen)
    return x, labels


# ---------------------------------------------------------------- binary: equal to the reference code
@pytest.mark.parametrize("params", ["default", "other"])
@pytest.mark.parametrize("dims", sorted(SPATIAL))
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_two_channel_softmax_equals_reference_code(name, dims, params):
    cls, defaults, keras = FAMILY[name]
    kwargs = defaults if params == "default" else OTHER_PARAMS[name]
    x, labels = binary_case(SPATIAL[dims], seed_of(name, dims, params))
    y_true, y_pred = to_keras(ref_one_hot(labels, 2)), to_keras(ref_softmax(x))
    want = keras(y_true, y_pred, **kwargs)
    loss = cls(softmax=True, to_onehot_y=True, **kwargs)
    assert abs(loss(x, labels).item() - want) < 1e-10
    assert abs(loss(x.float(), labels).item() - want) < 1e-6
    # probabilities without activation, one-hot target: the reference's own input
    probs = cls(**kwargs)
    assert abs(probs(ref_softmax(x), ref_one_hot(labels, 2)).item() - want) < 1e-10


@pytest.mark.parametrize("dims", sorted(SPATIAL))
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_one_sigmoid_channel_equals_reference_on_complement_pair(name, dims):
    cls, kwargs, keras = FAMILY[name]
    gen = torch.Generator().manual_seed(seed_of("sig", name, dims))
    x = 2 * torch.randn(2, 1, *SPATIAL[dims], generator=gen, dtype=torch.float64)
    g = torch.randint(0, 2, (2, 1, *SPATIAL[dims]), generator=gen)
    p = 1 / (1 + torch.exp(-x))
    want = keras(to_keras(torch.cat([1 - g, g], 1).double()), to_keras(torch.cat([1 - p, p], 1)), **kwargs)
    loss = cls(sigmoid=True, **kwargs)
    assert abs(loss(x, g).item() - want) < 1e-10
    assert abs(loss(x.float(), g).item() - want) < 1e-6
    # the same as two softmax channels on the logits [0, x], and as probabilities [1 - p, p]
    two = torch.cat([torch.zeros_like(x), x], 1)
    torch.testing.assert_close(loss(x, g), cls(softmax=True, to_onehot_y=True, **kwargs)(two, g), rtol=1e-12, atol=0)
    pair = cls(**kwargs)(torch.cat([1 - p, p], 1), torch.cat([1 - g, g], 1))
    torch.testing.assert_close(loss(x, g), pair, rtol=1e-10, atol=0)


def test_asymmetric_unified_by_hand():
    """Two voxels, two classes, probabilities given; every term written out."""
    p1 = torch.tensor([0.8, 0.3], dtype=torch.float64)  # foreground probability
    g1 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    probs = torch.stack([1 - p1, p1]).view(1, 2, 2)
    target = torch.stack([1 - g1, g1]).view(1, 2, 2)
    d, gm = 0.6, 0.5
    # focal part, per voxel summed over classes: voxel 0 is foreground, voxel 1 background
    f0 = d * -math.log(0.8)
    f1 = (1 - d) * (1 - 0.7) ** gm * -math.log(0.7)
    focal = (f0 + f1) / 2
    # background class: TP = 0.7, FN = 0.3 (voxel 1), FP = 0.2 (voxel 0)
    mti_bg = (0.7 + EPS) / (0.7 + d * 0.3 + (1 - d) * 0.2 + EPS)
    # foreground class: TP = 0.8, FN = 0.2 (voxel 0), FP = 0.3 (voxel 1)
    mti_fg = (0.8 + EPS) / (0.8 + d * 0.2 + (1 - d) * 0.3 + EPS)
    tversky = ((1 - mti_bg) + (1 - mti_fg) ** (1 - gm)) / 2
    for w in (0.5, 0.2):
        got = AsymmetricUnifiedFocalLoss(weight=w, delta=d, gamma=gm)(probs, target)
        assert abs(got.item() - (w * focal + (1 - w) * tversky)) < 1e-12


# ---------------------------------------------------------------- multi-class / multi-label: the formulas
def ref_parts(p, g, delta, gamma, symmetric, batch, snr=EPS, sdr=EPS):
    """Categorical float64 reference, channel 0 background: focal part per sample (B, 1) (or (1, 1)), focal
    Tversky part per (b, c) (or (1, c))."""
    p = p.clamp(EPS, 1 - EPS)
    n = p.shape[1]
    focal = torch.zeros_like(p[:, 0])
    for c in range(n):
        ce = -g[:, c] * torch.log(p[:, c])
        if c == 0:
            focal = focal + (1 - delta) * (1 - p[:, c]) ** gamma * ce
        else:
            focal = focal + delta * ((1 - p[:, c]) ** gamma if symmetric else 1.0) * ce
    focal = focal.flatten(1).mean(1, keepdim=True)
    if batch:
        focal = focal.mean(0, keepdim=True)
    terms = []
    for c in range(n):
        pc, gc = p[:, c].flatten(1), g[:, c].flatten(1)
        tp, fn, fp = (pc * gc).sum(1), ((1 - pc) * gc).sum(1), (pc * (1 - gc)).sum(1)
        if batch:
            tp, fn, fp = tp.sum(0, keepdim=True), fn.sum(0, keepdim=True), fp.sum(0, keepdim=True)
        mti = (tp + snr) / (tp + delta * fn + (1 - delta) * fp + sdr)
        terms.append(1 - mti if (c == 0 and not symmetric) else (1 - mti) ** (1 - gamma))
    return focal, torch.stack(terms, 1)


def ref_family(name, p, g, kwargs, batch, sigmoid):
    """Per-(b, c) (or per-sample) values whose mean is the loss, in the layout our reduction="none" returns."""
    symmetric = name.startswith("symmetric")
    delta, gamma = kwargs["delta"], kwargs["gamma"]
    if sigmoid:  # each channel a binary problem [1 - p_c, p_c]; (B, C) per sample and channel
        cols = [
            ref_family(
                name,
                torch.stack([1 - p[:, c], p[:, c]], 1),
                torch.stack([1 - g[:, c], g[:, c]], 1),
                kwargs,
                batch,
                False,
            ).mean(1)
            for c in range(p.shape[1])
        ]
        return torch.stack(cols, 1)
    focal, tversky = ref_parts(p, g, delta, gamma, symmetric, batch)
    if is_focal_part(name):
        return focal
    if name.endswith("focal_tversky"):
        return tversky
    w = kwargs["weight"]
    return w * focal + (1 - w) * tversky  # focal broadcast over the classes


MODES = {
    "softmax3": (3, {"softmax": True, "to_onehot_y": True}),
    "softmax4_probs": (4, {}),  # probabilities, no activation: categorical
    "sigmoid3": (3, {"sigmoid": True}),
    "sigmoid3_no_bg": (3, {"sigmoid": True, "include_background": False}),
}


def mode_case(mode, spatial, seed):
    n, act = MODES[mode]
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(2, n, *spatial, generator=gen, dtype=torch.float64)
    if act.get("sigmoid"):
        target = torch.randint(0, 2, (2, n, *spatial), generator=gen)
        p, g = 1 / (1 + torch.exp(-x)), target.double()
        if not act.get("include_background", True):
            p, g = p[:, 1:], g[:, 1:]
        return x, target, p, g
    labels = torch.randint(0, n, (2, 1, *spatial), generator=gen)
    p, g = ref_softmax(x), ref_one_hot(labels, n)
    if act.get("softmax"):
        return x, labels, p, g
    return p, g, p, g  # the loss gets the probabilities and the one-hot target


def is_focal_part(name):
    return name.endswith("_focal") and "unified" not in name


# the focal parts have no region sums and take no ``batch``
FORMULA_CASES = [
    (name, mode, dims, batch)
    for name in sorted(FAMILY)
    for mode in sorted(MODES)
    for dims in sorted(SPATIAL)
    for batch in ((False,) if is_focal_part(name) else (False, True))
]


@pytest.mark.parametrize("name, mode, dims, batch", FORMULA_CASES)
def test_matches_float64_formula(name, mode, dims, batch):
    cls, kwargs, _ = FAMILY[name]
    x, target, p, g = mode_case(mode, SPATIAL[dims], seed_of(name, mode, dims))
    act = MODES[mode][1]
    extra = {} if is_focal_part(name) else {"batch": batch}
    want = ref_family(name, p, g, kwargs, batch, act.get("sigmoid", False))
    for reduction in ("none", "mean", "sum"):
        loss = cls(**act, **kwargs, **extra, reduction=reduction)
        got64, got32 = loss(x, target), loss(x.float(), target)
        assert got64.dtype == torch.float64 and got32.dtype == torch.float32
        expected = {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction]
        assert got64.shape == expected.shape
        torch.testing.assert_close(got64, expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(got32.double(), expected, rtol=1e-5, atol=1e-6)


def test_reduction_none_shapes():
    x, target, _, _ = mode_case("softmax3", (4, 5), 0)
    xs, ts, _, _ = mode_case("sigmoid3", (4, 5), 0)
    for name, (cls, _, _) in FAMILY.items():
        focal_only = is_focal_part(name)
        soft = cls(softmax=True, to_onehot_y=True, reduction="none")(x, target)
        assert soft.shape == ((2, 1) if focal_only else (2, 3)), name
        assert cls(sigmoid=True, reduction="none")(xs, ts).shape == (2, 3), name
        if not focal_only:
            assert cls(softmax=True, to_onehot_y=True, reduction="none", batch=True)(x, target).shape == (1, 3)


# ---------------------------------------------------------------- identities
def test_symmetric_and_asymmetric_differ_only_as_specified():
    x, labels, p, g = mode_case("softmax3", (4, 5, 3), 21)
    pc = p.clamp(EPS, 1 - EPS)
    for delta, gamma in ((0.7, 2.0), (0.6, 0.5)):
        act = {"softmax": True, "to_onehot_y": True, "delta": delta, "gamma": gamma}
        # focal: only the rare classes' modulating factor differs
        rare = (delta * g[:, 1:] * -torch.log(pc[:, 1:]) * (1 - (1 - pc[:, 1:]) ** gamma)).sum(1).mean()
        diff = AsymmetricFocalLoss(**act)(x, labels) - SymmetricFocalLoss(**act)(x, labels)
        torch.testing.assert_close(diff, rare, rtol=1e-10, atol=1e-12)
        # focal Tversky: only the background's power differs (mean over 3 classes)
        if gamma <= 1:
            tp, fn, fp = [(a * b).flatten(2).sum(-1)[:, 0] for a, b in ((pc, g), (1 - pc, g), (pc, 1 - g))]
            base = 1 - (tp + EPS) / (tp + delta * fn + (1 - delta) * fp + EPS)
            bg = (base - base ** (1 - gamma)).mean() / 3
            diff = AsymmetricFocalTverskyLoss(**act)(x, labels) - SymmetricFocalTverskyLoss(**act)(x, labels)
            torch.testing.assert_close(diff, bg, rtol=1e-9, atol=1e-12)
    # gamma = 0 removes every focal modulation: the two variants coincide
    for sym, asym in (
        (SymmetricFocalLoss, AsymmetricFocalLoss),
        (SymmetricFocalTverskyLoss, AsymmetricFocalTverskyLoss),
        (SymmetricUnifiedFocalLoss, AsymmetricUnifiedFocalLoss),
    ):
        act = {"softmax": True, "to_onehot_y": True, "gamma": 0.0}
        torch.testing.assert_close(sym(**act)(x, labels), asym(**act)(x, labels))
    # an all-background target: the focal parts only see the (identical) background term
    zeros = torch.zeros_like(labels)
    act = {"softmax": True, "to_onehot_y": True}
    torch.testing.assert_close(SymmetricFocalLoss(**act)(x, zeros), AsymmetricFocalLoss(**act)(x, zeros))


@pytest.mark.parametrize("mode", ["softmax3", "sigmoid3"])
def test_unified_is_weighted_sum_with_weight_on_focal_part(mode):
    x, target, _, _ = mode_case(mode, (4, 5, 3), 5)
    act = MODES[mode][1]
    for uni, focal, tversky in (
        (SymmetricUnifiedFocalLoss, SymmetricFocalLoss, SymmetricFocalTverskyLoss),
        (AsymmetricUnifiedFocalLoss, AsymmetricFocalLoss, AsymmetricFocalTverskyLoss),
    ):
        f = focal(**act, delta=0.6, gamma=0.5)(x, target)
        t = tversky(**act, delta=0.6, gamma=0.5)(x, target)
        for w in (0.0, 0.3, 0.5, 1.0):
            got = uni(**act, weight=w, delta=0.6, gamma=0.5)(x, target)
            torch.testing.assert_close(got, w * f + (1 - w) * t, rtol=1e-12, atol=1e-12)


def test_sigmoid_channels_are_independent_binary_problems():
    x, target, _, _ = mode_case("sigmoid3", (4, 5), 8)
    for cls, _, _ in FAMILY.values():
        full = cls(sigmoid=True, reduction="none")(x, target)
        for c in range(3):
            single = cls(sigmoid=True, reduction="none")(x[:, c : c + 1], target[:, c : c + 1])
            torch.testing.assert_close(full[:, c : c + 1], single, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("mode", ["softmax3", "sigmoid3", "softmax4_probs"])
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_gradcheck_float64(name, mode):
    cls, kwargs, _ = FAMILY[name]
    x, target, _, _ = mode_case(mode, (3, 3), 13)
    if mode == "softmax4_probs":  # keep probabilities inside the clip range, where the clip does not act
        x = x.clamp(0.01, 0.99)
    loss = cls(**MODES[mode][1], **kwargs)
    assert torch.autograd.gradcheck(lambda t: loss(t, target), (x.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


# ---------------------------------------------------------------- edge cases
def edge_case(mode, kind, spatial=(4, 4, 3)):
    """Logits of +-1e4 that are perfect or all wrong, for random, empty or full foreground."""
    gen = torch.Generator().manual_seed(3)
    if mode == "sigmoid":
        g = {"empty": torch.zeros(2, 3, *spatial), "full": torch.ones(2, 3, *spatial)}.get(
            kind, torch.randint(0, 2, (2, 3, *spatial), generator=gen).float()
        )
        target = g.long()
    else:
        target = {
            "empty": torch.zeros(2, 1, *spatial, dtype=torch.long),
            "full": torch.full((2, 1, *spatial), 2, dtype=torch.long),
        }.get(kind, torch.randint(0, 3, (2, 1, *spatial), generator=gen))
        g = ref_one_hot(target, 3).float()
    sign = -(2 * g - 1) if kind == "wrong" else 2 * g - 1
    return 1e4 * sign, target


@pytest.mark.parametrize("kind", ["perfect", "wrong", "empty", "full"])
@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_extreme_logits_finite_values_and_gradients(name, mode, kind):
    cls, kwargs, _ = FAMILY[name]
    act = {"sigmoid": True} if mode == "sigmoid" else {"softmax": True, "to_onehot_y": True}
    x, target = edge_case(mode, kind)
    x64 = x.double()
    if mode == "sigmoid":
        p, g = 1 / (1 + torch.exp(-x64)), target.double()
    else:
        p, g = ref_softmax(x64), ref_one_hot(target, 3)
    want = ref_family(name, p, g, kwargs, False, mode == "sigmoid").mean()
    for dtype in (torch.float32, torch.float64):
        xx = x.detach().to(dtype).clone().requires_grad_()
        value = cls(**act, **kwargs)(xx, target)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(xx.grad).all(), (dtype, value)
        torch.testing.assert_close(value.double(), want, rtol=1e-5 if dtype == torch.float32 else 1e-10, atol=1e-7)
    if kind == "perfect":  # a focal part of ~1e-7 and a focal Tversky part of ~(1e-7)^(1-gamma)
        assert value.item() < 0.02
    if kind == "wrong":
        assert value.item() > 0.1


def test_empty_class_contribution():
    """An empty class predicted empty: the clipped probabilities give FP >= 1e-7 N against the reference's
    smoothing of 1e-7, so its mTI is 1 / (1 + (1 - delta) N) and the focal Tversky term is close to 1, as in the
    reference code; smoothing of 1 makes it close to 0."""
    labels = torch.zeros(1, 1, 4, 5, dtype=torch.long)
    x = torch.cat([torch.full((1, 1, 4, 5), 1e4), torch.zeros(1, 1, 4, 5)], 1).double()
    n, delta, gamma = 20, 0.7, 0.75
    loss = SymmetricFocalTverskyLoss(softmax=True, to_onehot_y=True, reduction="none")
    mti_empty = EPS / ((1 - delta) * n * EPS + EPS)
    assert abs(loss(x, labels)[0, 1].item() - (1 - mti_empty) ** (1 - gamma)) < 1e-9
    smoothed = SymmetricFocalTverskyLoss(softmax=True, to_onehot_y=True, reduction="none", smooth_nr=1, smooth_dr=1)
    assert smoothed(x, labels)[0, 1].item() < 0.05


def test_perfect_prediction_equals_reference_code():
    """At the clip bounds (1e-7 / 1 - 1e-7) the values still follow the reference, also in float32."""
    labels = torch.randint(0, 2, (2, 1, 5, 6), generator=torch.Generator().manual_seed(4))
    labels[0, 0, 0, 0], labels[0, 0, 0, 1] = 0, 1
    x = 30.0 * (2 * ref_one_hot(labels, 2) - 1)
    y_true = to_keras(ref_one_hot(labels, 2))
    y_pred = np.clip(to_keras(ref_softmax(x)), EPS, 1 - EPS)
    for _, (cls, kwargs, keras) in sorted(FAMILY.items()):
        want = keras(y_true, y_pred, **kwargs)
        got64 = cls(softmax=True, to_onehot_y=True, **kwargs)(x, labels).item()
        got32 = cls(softmax=True, to_onehot_y=True, **kwargs)(x.float(), labels).item()
        assert abs(got64 - want) < 1e-10 * max(1.0, want), (cls.__name__, got64, want)
        assert abs(got32 - want) < 1e-6 + 1e-5 * want, (cls.__name__, got32, want)


@pytest.mark.parametrize("mode", ["sigmoid3", "softmax3"])
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_bf16_autocast_cpu(name, mode):
    cls, kwargs, _ = FAMILY[name]
    x, target, _, _ = mode_case(mode, (6, 5, 4), 17)
    loss = cls(**MODES[mode][1], **kwargs)
    xb = x.bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(xb, target)
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(value) and torch.isfinite(xb.grad.float()).all()
    # computed in float32 from the bf16 logits; and close to the float32 loss of the unrounded logits
    torch.testing.assert_close(value, loss(xb.detach().float(), target), rtol=1e-6, atol=1e-7)
    assert abs(value.item() - loss(x.float(), target).item()) < 2e-2 * max(1.0, value.item())


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_bad_hyper_parameters(name):
    cls, kwargs, _ = FAMILY[name]
    with pytest.raises(ValueError, match=r"delta must lie in \[0, 1\], got 1.5"):
        cls(delta=1.5)
    with pytest.raises(ValueError, match=r"delta must lie in \[0, 1\], got -0.1"):
        cls(delta=-0.1)
    with pytest.raises(ValueError, match=r"gamma must lie in \[0, .*\], got -1"):
        cls(gamma=-1.0)
    if "tversky" in name or "unified" in name:  # the focal Tversky exponent 1 - gamma must stay >= 0
        with pytest.raises(ValueError, match=r"gamma must lie in \[0, 1\], got 1.5"):
            cls(gamma=1.5)
    if "unified" in name:
        with pytest.raises(ValueError, match=r"weight must lie in \[0, 1\], got 2"):
            cls(weight=2.0)
    with pytest.raises(ValueError, match="include_background=False is not supported"):
        cls(softmax=True, include_background=False)
    with pytest.raises(ValueError, match="mutually exclusive"):
        cls(sigmoid=True, softmax=True)


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_bad_inputs(name):
    cls, _, _ = FAMILY[name]
    x = torch.randn(2, 3, 4, 5)
    labels = torch.randint(0, 3, (2, 1, 4, 5))
    soft = cls(softmax=True, to_onehot_y=True)
    with pytest.raises(ValueError, match="target batch and spatial shape"):
        soft(x, labels[:, :, :3])
    with pytest.raises(ValueError, match=r"label values must lie in \[0, 3\), got values in \[0, 3\]"):
        soft(x, torch.where(labels == 1, 3, labels))
    bad = x.clone()
    bad[0, 1, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="input contains 1 NaN or infinite"):
        soft(bad, labels)
    with pytest.raises(ValueError, match="softmax=True needs at least 2 channels"):
        soft(x[:, :1], labels.clamp(max=1))
    with pytest.raises(ValueError, match="target has 2 channel"):
        cls(sigmoid=True)(x, torch.randint(0, 2, (2, 2, 4, 5)))
    with pytest.raises(ValueError, match="include_background=False is not supported"):
        cls(include_background=False)(torch.softmax(x, 1), ref_one_hot(labels, 3).float())


# ---------------------------------------------------------------- MONAI 1.6.1 is not a reference
def test_monai_asymmetric_unified_focal_deviates():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 6, 6, generator=gen)
    labels = torch.randint(0, 3, (2, 1, 6, 6), generator=gen)
    p = torch.softmax(x, 1)
    monai = MonaiAsymmetricUnifiedFocalLoss(to_onehot_y=True, num_classes=3)
    ours = AsymmetricUnifiedFocalLoss(to_onehot_y=True)
    # a third channel is ignored by MONAI: changing its probabilities (and its voxels' labels) changes nothing
    p2 = p.clone()
    p2[:, 2] = p2[:, 2] * 0.1
    labels2 = torch.where(labels == 2, torch.zeros_like(labels), labels)
    assert abs(monai(p, labels).item() - monai(p2, labels).item()) < 1e-7
    assert abs(ours(p, labels).item() - ours(p2, labels).item()) > 1e-3
    assert abs(ours(p, labels).item() - ours(p, labels2).item()) > 1e-3
    # its delta defaults to 0.7, the paper's is 0.6
    assert monai.delta == 0.7 and ours.delta == 0.6
    # its focal term is half the reference code's (the mean over two class terms instead of their sum)
    x2, labels_b = binary_case((6, 6), 9)
    p_b = ref_softmax(x2).float()
    y_true, y_pred = to_keras(ref_one_hot(labels_b, 2)), to_keras(p_b)
    monai_focal = MonaiAsymmetricFocalLoss(to_onehot_y=True, delta=0.7, gamma=2.0)(p_b, labels_b).item()
    assert abs(monai_focal - 0.5 * keras_asymmetric_focal(y_true, y_pred)) < 1e-6
    assert (
        abs(AsymmetricFocalLoss(to_onehot_y=True)(p_b, labels_b).item() - keras_asymmetric_focal(y_true, y_pred)) < 1e-6
    )
    # no activation: logits go in as if they were probabilities (clipped), so MONAI(logits) != the loss of softmax
    monai_logits = MonaiAsymmetricUnifiedFocalLoss(to_onehot_y=True, delta=0.6)(x2.float(), labels_b).item()
    ours_logits = AsymmetricUnifiedFocalLoss(softmax=True, to_onehot_y=True)(x2.float(), labels_b).item()
    assert abs(monai_logits - ours_logits) > 1e-2
