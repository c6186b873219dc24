"""Distribution and compound losses against float64 re-implementations of their papers' formulas, and against
PyTorch / MONAI where those are exact.

The ``ref_*`` functions are written from the formulas in ``docs/losses.md`` and the papers, in plain
float64 torch with naive logs (fine for the moderate logits used), without calling ``scripts.losses``. Each
returns the layout our ``reduction="none"`` documents: ``(B, C)`` per sample and channel, ``(B, 1)`` per sample
for a categorical cross-entropy, ``(1, .)`` with ``batch=True``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from loss_references import ref_one_hot, ref_sigmoid, ref_softmax, seed_of
from monai.losses import DiceCELoss as MonaiDiceCELoss
from monai.losses import DiceFocalLoss as MonaiDiceFocalLoss
from monai.losses import DiceLoss as MonaiDiceLoss
from monai.losses import FocalLoss as MonaiFocalLoss

from scripts.losses import (
    ComboLoss,
    CrossEntropyLoss,
    DiceCELoss,
    DiceFocalLoss,
    ExpLogLoss,
    WeightedCrossEntropyLoss,
)

# ---------------------------------------------------------------- float64 references, from the formulas


def vmean(t, batch=False):
    """Mean over the voxels of (B, K, *spatial): (B, K), or (1, K) over the batch too."""
    m = t.flatten(2).mean(-1)
    return m.mean(0, keepdim=True) if batch else m


def rsum(t, batch):
    s = t.flatten(2).sum(-1)
    return s.sum(0, keepdim=True) if batch else s


def dsc(p, g, batch, s=1e-5):
    return (2 * rsum(p * g, batch) + s) / (rsum(p, batch) + rsum(g, batch) + s)


def keep(t, keep_bg):
    return t if keep_bg else t[:, 1:]


def ref_ce(p, g, cat, keep_bg, batch=False):
    if cat:  # Σ_c over every class, per voxel
        return vmean(-(g * torch.log(p)).sum(1, keepdim=True), batch)
    p, g = keep(p, keep_bg), keep(g, keep_bg)
    return vmean(-(g * torch.log(p) + (1 - g) * torch.log(1 - p)), batch)


def ref_wce(p, g, cat, keep_bg, pos_weight="auto", weight_from="target"):
    """Sudre 2017: w = (N - S) / S over the batch (S >= 1 voxel), background weight 1 in categorical mode."""
    n_vox = g[:, 0].numel()
    src = g if weight_from == "target" else p.detach()
    w = []
    for c in range(g.shape[1]):
        s = float(src[:, c].sum())
        w.append(pos_weight if pos_weight != "auto" else (n_vox - s) / max(s, 1.0))
    if cat:
        total = -g[:, :1] * torch.log(p[:, :1])
        for c in range(1, g.shape[1]):
            total = total - w[c] * g[:, c : c + 1] * torch.log(p[:, c : c + 1])
        return vmean(total)
    cols = [
        -(w[c] * g[:, c] * torch.log(p[:, c]) + (1 - g[:, c]) * torch.log(1 - p[:, c])).flatten(1).mean(1)
        for c in range(g.shape[1])
    ]
    return keep(torch.stack(cols, 1), keep_bg)


def ref_exp_log(p, g, cat, keep_bg, batch, wd=0.8, wc=0.2, gd=0.3, gc=0.3, s=1.0):
    """Wong 2018: wd E_i[(-ln Dice_i)^gd] + wc E_x[w_l (-ln p_l)^gc], w_l = (Σ_k f_k / f_l)^0.5 over the batch."""
    dice = dsc(keep(p, keep_bg), keep(g, keep_bg), batch, s)
    dice_term = (-torch.log(dice)) ** gd
    if cat:
        f = [float(g[:, k].sum()) for k in range(g.shape[1])]
        cross = sum(
            math.sqrt(sum(f) / f[k]) * g[:, k : k + 1] * (-torch.log(p[:, k : k + 1])) ** gc for k in range(len(f))
        )
        return wd * dice_term + wc * vmean(cross, batch)
    p, g = keep(p, keep_bg), keep(g, keep_bg)
    cols = []
    for c in range(g.shape[1]):
        f1, f0 = float(g[:, c].sum()), float((1 - g[:, c]).sum())
        w1, w0 = math.sqrt((f0 + f1) / f1), math.sqrt((f0 + f1) / f0)
        voxel = w1 * g[:, c] * (-torch.log(p[:, c])) ** gc + w0 * (1 - g[:, c]) * (-torch.log(1 - p[:, c])) ** gc
        cols.append(voxel)
    return wd * dice_term + wc * vmean(torch.stack(cols, 1), batch)


def ref_combo(p, g, keep_bg, batch, alpha=0.5, beta=0.5, s=1e-5, cat=False):
    """Taghanaki 2019, one binary problem per channel / class: alpha wBCE - (1 - alpha) DSC; a categorical
    background is the complement problem of the foreground, so beta and 1 - beta swap there (docs/losses.md)."""
    p, g = keep(p, keep_bg), keep(g, keep_bg)
    b = torch.full((1, p.shape[1], *([1] * (p.ndim - 2))), beta, dtype=torch.float64)
    if cat and keep_bg:
        b[:, 0] = 1 - beta
    wbce = vmean(-(b * g * torch.log(p) + (1 - b) * (1 - g) * torch.log(1 - p)), batch)
    return alpha * wbce - (1 - alpha) * dsc(p, g, batch, s)


def ref_dice_focal(p, g, cat, keep_bg, batch, ld=1.0, lf=1.0, gamma=2.0):
    p, g = keep(p, keep_bg), keep(g, keep_bg)
    if cat:
        fl = -((1 - p) ** gamma) * g * torch.log(p)
    else:
        fl = -(g * (1 - p) ** gamma * torch.log(p) + (1 - g) * p**gamma * torch.log(1 - p))
    return ld * (1 - dsc(p, g, batch)) + lf * vmean(fl, batch)


def ref_bce_dice(p, g, cat, keep_bg, batch, ld=1.0, lce=1.0):
    dice = 1 - dsc(keep(p, keep_bg), keep(g, keep_bg), batch)
    return ld * dice + lce * ref_ce(p, g, cat, keep_bg, batch)


# name -> (class, kwargs, reference(p, g, categorical, keep_bg, batch), takes batch?, categorical without bg?)
CASES = {
    "ce": (CrossEntropyLoss, {}, lambda p, g, c, k, b: ref_ce(p, g, c, k), False, False),
    "wce": (WeightedCrossEntropyLoss, {}, lambda p, g, c, k, b: ref_wce(p, g, c, k), False, False),
    "wce_pred": (
        WeightedCrossEntropyLoss,
        {"weight_from": "prediction"},
        lambda p, g, c, k, b: ref_wce(p, g, c, k, weight_from="prediction"),
        False,
        False,
    ),
    "wce_fixed": (
        WeightedCrossEntropyLoss,
        {"pos_weight": 3.5},
        lambda p, g, c, k, b: ref_wce(p, g, c, k, pos_weight=3.5),
        False,
        False,
    ),
    "exp_log": (ExpLogLoss, {}, lambda p, g, c, k, b: ref_exp_log(p, g, c, k, b), True, True),
    "exp_log_params": (
        ExpLogLoss,
        {"w_dice": 0.3, "w_cross": 0.7, "gamma_dice": 2.0, "gamma_cross": 0.5, "smooth_nr": 0.5, "smooth_dr": 0.5},
        lambda p, g, c, k, b: ref_exp_log(p, g, c, k, b, 0.3, 0.7, 2.0, 0.5, 0.5),
        True,
        True,
    ),
    "combo": (ComboLoss, {}, lambda p, g, c, k, b: ref_combo(p, g, k, b, cat=c), True, True),
    "combo_params": (
        ComboLoss,
        {"alpha": 0.8, "beta": 0.3},
        lambda p, g, c, k, b: ref_combo(p, g, k, b, 0.8, 0.3, cat=c),
        True,
        True,
    ),
    "dice_focal": (DiceFocalLoss, {}, lambda p, g, c, k, b: ref_dice_focal(p, g, c, k, b), True, True),
    "dice_focal_params": (
        DiceFocalLoss,
        {"lambda_dice": 0.4, "lambda_focal": 2.0, "gamma": 0.5},
        lambda p, g, c, k, b: ref_dice_focal(p, g, c, k, b, 0.4, 2.0, 0.5),
        True,
        True,
    ),
    "bce_dice": (DiceCELoss, {}, lambda p, g, c, k, b: ref_bce_dice(p, g, c, k, b), True, True),
    "bce_dice_params": (
        DiceCELoss,
        {"lambda_dice": 0.25, "lambda_ce": 1.5},
        lambda p, g, c, k, b: ref_bce_dice(p, g, c, k, b, 0.25, 1.5),
        True,
        True,
    ),
}

SPATIAL = {"2d": (5, 6), "3d": (3, 4, 5)}
# mode -> (channels, kwargs, labels?, categorical?)
MODES = {
    "sigmoid_multilabel": (3, {"sigmoid": True}, False, False),
    "sigmoid_no_background": (3, {"sigmoid": True, "include_background": False}, False, False),
    "sigmoid_binary": (1, {"sigmoid": True}, False, False),
    "softmax_labels": (3, {"softmax": True, "to_onehot_y": True}, True, True),
    "softmax_binary": (2, {"softmax": True, "to_onehot_y": True}, True, True),
    "softmax_no_background": (3, {"softmax": True, "to_onehot_y": True, "include_background": False}, True, True),
    "probabilities": (3, {}, True, True),  # softmax probabilities and one-hot target, no activation
}


def make_batch(mode, spatial, seed, scale=2.0):
    """(loss input, loss target, float64 p, float64 g) for a mode; every class present in the batch."""
    n, act, labels, _ = MODES[mode]
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(2, n, *spatial, generator=gen, dtype=torch.float64)
    if labels:
        target = torch.randint(0, n, (2, 1, *spatial), generator=gen)
        target.view(-1)[:n] = torch.arange(n)
        p, g = ref_softmax(x), ref_one_hot(target, n)
        if not act:
            return p, g, p, g
        return x, target, p, g
    target = torch.randint(0, 2, (2, n, *spatial), generator=gen)
    target[0, :, 0], target[1, :, -1] = 0, 1
    return x, target, ref_sigmoid(x), target.double()


# the modes in which MONAI's DiceCELoss / DiceFocalLoss compute the papers' formulas (plus our two deliberate
# differences): elsewhere MONAI's choices (cross-entropy of probabilities taken as logits, background dropped
# before the softmax) define the drop-ins
DROP_IN_PAPER_MODES = ("sigmoid_multilabel", "sigmoid_binary", "softmax_labels", "softmax_binary")


def case_list():
    out = []
    for name, (_, _, _, takes_batch, cat_no_bg) in sorted(CASES.items()):
        for mode in sorted(MODES):
            if mode == "softmax_no_background" and not cat_no_bg:
                continue  # raises, tested below
            if name.startswith(("bce_dice", "dice_focal")) and mode not in DROP_IN_PAPER_MODES:
                continue  # MONAI's own semantics there, tested against MONAI in tests/test_losses_monai_dropin.py
            for dims in sorted(SPATIAL):
                for batch in (False, True) if takes_batch else (False,):
                    out.append((name, mode, dims, batch))
    return out


@pytest.mark.parametrize("name, mode, dims, batch", case_list())
def test_matches_float64_reference(name, mode, dims, batch):
    cls, kwargs, ref, takes_batch, _ = CASES[name]
    _, act, _, cat = MODES[mode]
    x, target, p, g = make_batch(mode, SPATIAL[dims], seed_of(name, mode, dims))
    want = ref(p, g, cat, act.get("include_background", True), batch)
    extra = {"batch": batch} if takes_batch else {}
    # the drop-ins for MONAI's DiceCELoss / DiceFocalLoss reduce "none" and "sum" as MONAI does (tested against
    # MONAI in tests/test_losses_monai_dropin.py); their mean is the papers' formula
    reductions = ("mean",) if cls in (DiceCELoss, DiceFocalLoss) else ("none", "mean", "sum")
    for reduction in reductions:
        loss = cls(**act, **kwargs, **extra, reduction=reduction)
        got64, got32 = loss(x, target), loss(x.float(), target)
        assert got64.dtype == torch.float64 and got32.dtype == torch.float32
        expected = {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction]
        assert got64.shape == expected.shape, (reduction, got64.shape, expected.shape)
        torch.testing.assert_close(got64, expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(got32.double(), expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- second libraries
def test_cross_entropy_equals_torch():
    x, labels, _, _ = make_batch("softmax_labels", (4, 5, 3), 1)
    torch.testing.assert_close(
        CrossEntropyLoss(softmax=True, to_onehot_y=True)(x, labels), F.cross_entropy(x, labels[:, 0])
    )
    xs, gs, _, _ = make_batch("sigmoid_multilabel", (4, 5, 3), 2)
    got = CrossEntropyLoss(sigmoid=True)(xs, gs)
    torch.testing.assert_close(got, F.binary_cross_entropy_with_logits(xs, gs.double()))


def test_weighted_ce_equals_torch_pos_weight():
    x, g, _, _ = make_batch("sigmoid_multilabel", (6, 5), 3)
    gd = g.double()
    s = gd.sum((0, 2, 3))
    w = (gd[:, 0].numel() - s) / s
    want = F.binary_cross_entropy_with_logits(x, gd, pos_weight=w.view(3, 1, 1))
    torch.testing.assert_close(WeightedCrossEntropyLoss(sigmoid=True)(x, g), want)


def test_bce_dice_against_monai_dice_ce():
    x, labels, _, _ = make_batch("softmax_labels", (4, 5, 3), 4)
    for include_background in (True, False):
        ours = DiceCELoss(softmax=True, to_onehot_y=True, include_background=include_background)(x, labels)
        monai = MonaiDiceCELoss(softmax=True, to_onehot_y=True, include_background=include_background)(x, labels)
        torch.testing.assert_close(ours, monai)
    x1, g1, _, _ = make_batch("sigmoid_binary", (4, 5, 3), 5)
    torch.testing.assert_close(DiceCELoss(sigmoid=True)(x1, g1), MonaiDiceCELoss(sigmoid=True)(x1, g1.double()))
    # several sigmoid channels: per-channel BCE, which MONAI 1.6.1's DiceCELoss does not take
    xs, gs, _, _ = make_batch("sigmoid_multilabel", (4, 5, 3), 6)
    ours = DiceCELoss(sigmoid=True)(xs, gs)
    want = MonaiDiceLoss(sigmoid=True)(xs, gs.double()) + F.binary_cross_entropy_with_logits(xs, gs.double())
    torch.testing.assert_close(ours, want)
    assert abs(MonaiDiceCELoss(sigmoid=True)(xs, gs.double()).item() - ours.item()) > 1e-2


def test_dice_focal_against_monai_dice_plus_focal():
    xs, gs, _, _ = make_batch("sigmoid_multilabel", (4, 5, 3), 7)
    want = MonaiDiceLoss(sigmoid=True)(xs, gs.double()) + MonaiFocalLoss(gamma=2.0)(xs, gs.double())
    torch.testing.assert_close(DiceFocalLoss(sigmoid=True)(xs, gs), want)
    x, labels, _, _ = make_batch("softmax_labels", (4, 5, 3), 8)
    g = ref_one_hot(labels, 3)
    want = MonaiDiceLoss(softmax=True)(x, g) + 0.5 * MonaiFocalLoss(gamma=2.0, use_softmax=True)(x, g)
    ours = DiceFocalLoss(softmax=True, to_onehot_y=True, lambda_focal=0.5)(x, labels)
    torch.testing.assert_close(ours, want)
    # MONAI 1.6.1's DiceFocalLoss takes a sigmoid focal term even with softmax=True (MONAI issue #8242)
    monai = MonaiDiceFocalLoss(softmax=True, to_onehot_y=True, lambda_focal=0.5)(x, labels)
    assert abs(monai.item() - ours.item()) > 1e-3


# ---------------------------------------------------------------- identities and paper properties
def test_two_softmax_channels_give_the_binary_formulas():
    """WCE and Combo are binary in their papers: two softmax channels on [0, z] = one sigmoid channel on z."""
    gen = torch.Generator().manual_seed(9)
    z = 2 * torch.randn(2, 1, 5, 4, generator=gen, dtype=torch.float64)
    g = torch.randint(0, 2, (2, 1, 5, 4), generator=gen)
    two = torch.cat([torch.zeros_like(z), z], 1)
    soft = {"softmax": True, "to_onehot_y": True}
    for weight_from in ("target", "prediction"):
        torch.testing.assert_close(
            WeightedCrossEntropyLoss(**soft, weight_from=weight_from)(two, g),
            WeightedCrossEntropyLoss(sigmoid=True, weight_from=weight_from)(z, g),
        )
    torch.testing.assert_close(
        ComboLoss(**soft, include_background=False, alpha=0.7, beta=0.8)(two, g),
        ComboLoss(sigmoid=True, alpha=0.7, beta=0.8)(z, g),
    )
    torch.testing.assert_close(CrossEntropyLoss(**soft)(two, g), CrossEntropyLoss(sigmoid=True)(z, g))


def test_hand_computed_values():
    """Four voxels, probabilities given, every number written out."""
    p = torch.tensor([0.9, 0.6, 0.2, 0.1], dtype=torch.float64).view(1, 1, 4)
    g = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64).view(1, 1, 4)
    ln = math.log
    # WCE: N = 4, sum g = 2 -> w = 1; with prediction weights: sum p = 1.8 -> w = 2.2 / 1.8
    bce = -(ln(0.9) + ln(0.4) + ln(0.2) + ln(0.9)) / 4
    assert abs(WeightedCrossEntropyLoss()(p, g).item() - bce) < 1e-12
    w = 2.2 / 1.8
    wce = -(w * ln(0.9) + ln(0.4) + w * ln(0.2) + ln(0.9)) / 4
    assert abs(WeightedCrossEntropyLoss(weight_from="prediction")(p, g).item() - wce) < 1e-12
    # Combo, alpha = 0.5, beta = 0.7, no smoothing: DSC = 2 * 1.1 / 3.8
    wbce = -(0.7 * ln(0.9) + 0.3 * ln(0.4) + 0.7 * ln(0.2) + 0.3 * ln(0.9)) / 4
    combo = ComboLoss(beta=0.7, smooth_nr=0, smooth_dr=0)(p, g).item()
    assert abs(combo - (0.5 * wbce - 0.5 * 2.2 / 3.8)) < 1e-12
    # ExpLog: Dice = (2.2 + 1) / (3.8 + 1); f_1 = f_0 = 2 -> w = sqrt(2) for both labels
    dice_term = (-ln(3.2 / 4.8)) ** 0.3
    cross = math.sqrt(2) * sum((-ln(q)) ** 0.3 for q in (0.9, 0.4, 0.2, 0.9)) / 4
    assert abs(ExpLogLoss()(p, g).item() - (0.8 * dice_term + 0.2 * cross)) < 1e-12
    # Dice + focal (gamma 2): voxel terms -(1-p_t)^2 ln p_t with p_t = 0.9, 0.4, 0.2, 0.9
    focal = -sum((1 - q) ** 2 * ln(q) for q in (0.9, 0.4, 0.2, 0.9)) / 4
    dice = 1 - 2.2 / 3.8
    # the drop-ins take logits in their cross-entropy / focal terms, as MONAI's classes do
    x = torch.log(p / (1 - p))
    assert abs(DiceFocalLoss(sigmoid=True, smooth_nr=0, smooth_dr=0)(x, g).item() - (dice + focal)) < 1e-12
    assert abs(DiceCELoss(sigmoid=True, smooth_nr=0, smooth_dr=0)(x, g).item() - (dice + bce)) < 1e-12


def test_weighted_ce_weight_is_detached():
    """With weights from predictions, the gradient is that of the loss with the weight held constant."""
    x, g, _, _ = make_batch("sigmoid_multilabel", (5, 4), 10)
    xa = x.clone().requires_grad_()
    WeightedCrossEntropyLoss(sigmoid=True, weight_from="prediction")(xa, g).backward()
    xb = x.clone().requires_grad_()
    ref_wce(ref_sigmoid(xb), g.double(), False, True, weight_from="prediction").mean().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-10, atol=1e-14)
    # and it differs from the gradient of the undetached weight
    xc = x.clone().requires_grad_()
    pc = ref_sigmoid(xc)
    s = pc.sum((0, 2, 3), keepdim=True)
    w = (pc[:, 0].numel() - s) / s
    (-(w * g * torch.log(pc) + (1 - g) * torch.log(1 - pc))).mean().backward()
    assert (xc.grad - xa.grad).abs().max() > 1e-4


def test_weighted_ce_guards_empty_foreground_and_all_foreground():
    x = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    empty, full = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    p = ref_sigmoid(x)
    # empty: only the negative term; all foreground: w = 0, the formula's value
    torch.testing.assert_close(WeightedCrossEntropyLoss(sigmoid=True)(x, empty), -torch.log(1 - p).mean())
    torch.testing.assert_close(WeightedCrossEntropyLoss(sigmoid=True)(x, full), torch.zeros((), dtype=torch.float64))


def test_exp_log_absent_label_is_finite():
    """A label absent from the batch has no voxel using its weight; the loss stays finite and exact."""
    x, labels, p, g = make_batch("softmax_labels", (4, 5), 11)
    labels = labels.clamp(max=1)  # no voxel of class 2
    g = ref_one_hot(labels, 3)
    got = ExpLogLoss(softmax=True, to_onehot_y=True)(x, labels)
    f0, f1 = float(g[:, 0].sum()), float(g[:, 1].sum())
    cross = sum(
        math.sqrt((f0 + f1) / f) * g[:, k : k + 1] * (-torch.log(p[:, k : k + 1])) ** 0.3 for k, f in ((0, f0), (1, f1))
    )
    want = 0.8 * ((-torch.log(dsc(p, g, False, 1.0))) ** 0.3).mean() + 0.2 * vmean(cross).mean()
    torch.testing.assert_close(got, want)


def test_combo_minimum_is_minus_one_minus_alpha():
    g = torch.randint(0, 2, (2, 3, 4, 4), generator=torch.Generator().manual_seed(12))
    x = 60.0 * (2 * g.double() - 1)
    for alpha in (0.5, 0.2):
        value = ComboLoss(sigmoid=True, alpha=alpha, smooth_nr=0, smooth_dr=0)(x, g).item()
        assert abs(value - (-(1 - alpha))) < 1e-12


# ---------------------------------------------------------------- gradients
GRAD_MODES = ("sigmoid_multilabel", "sigmoid_binary", "softmax_labels", "probabilities")


# wce_pred's weight is detached on purpose (not the derivative of its value): test_weighted_ce_weight_is_detached
@pytest.mark.parametrize("mode", GRAD_MODES)
@pytest.mark.parametrize("name", sorted(set(CASES) - {"wce_pred"}))
def test_gradcheck_float64(name, mode):
    cls, kwargs, _, _, _ = CASES[name]
    x, target, _, _ = make_batch(mode, (3, 3), seed_of("grad", name, mode), scale=1.0)
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
@pytest.mark.parametrize("name", sorted(CASES))
def test_extreme_logits_finite_values_and_gradients(name, mode, kind):
    cls, kwargs, _, _, _ = CASES[name]
    act = {"sigmoid": True} if mode == "sigmoid" else {"softmax": True, "to_onehot_y": True}
    x, target = edge_case(mode, kind)
    for dtype in (torch.float32, torch.float64):
        xx = x.detach().to(dtype).clone().requires_grad_()
        value = cls(**act, **kwargs)(xx, target)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(xx.grad).all(), (dtype, value)
    if name == "ce":  # logits forms are exact: 0 when right, the logit gap when wrong
        want = {"perfect": 0.0, "empty": 0.0, "full": 0.0}.get(kind, 1e4 if mode == "sigmoid" else 2e4 + math.log(2))
        assert abs(value.item() - want) < 1e-6 * max(1.0, want)


@pytest.mark.parametrize("mode", ["sigmoid_multilabel", "softmax_labels"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_bf16_autocast_cpu(name, mode):
    cls, kwargs, _, _, _ = CASES[name]
    x, target, _, _ = make_batch(mode, (6, 5, 4), 17)
    loss = cls(**MODES[mode][1], **kwargs)
    xb = x.bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(xb, target)
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(value) and torch.isfinite(xb.grad.float()).all()
    torch.testing.assert_close(value, loss(xb.detach().float(), target), rtol=1e-6, atol=1e-7)
    assert abs(value.item() - loss(x.float(), target).item()) < 2e-2 * max(1.0, abs(value.item()))


# ---------------------------------------------------------------- bad input
BAD_PARAMS = [
    (WeightedCrossEntropyLoss, {"pos_weight": -1.0}, r"pos_weight must lie in \[0, inf\], got -1"),
    (
        WeightedCrossEntropyLoss,
        {"pos_weight": "balanced"},
        r"pos_weight must be 'auto' or a number >= 0, got 'balanced'",
    ),
    (WeightedCrossEntropyLoss, {"weight_from": "labels"}, r"weight_from must be one of .*, got 'labels'"),
    (ExpLogLoss, {"w_dice": -0.1}, r"w_dice must lie in \[0, inf\], got -0.1"),
    (ExpLogLoss, {"w_cross": -1}, r"w_cross must lie in \[0, inf\], got -1"),
    (ExpLogLoss, {"gamma_dice": 0.0}, r"gamma_dice must lie in \(0, inf\], got 0"),
    (ExpLogLoss, {"gamma_cross": -0.3}, r"gamma_cross must lie in \(0, inf\], got -0.3"),
    (ExpLogLoss, {"smooth_nr": -1.0}, r"smooth_nr must lie in \[0, inf\], got -1"),
    (ComboLoss, {"alpha": 1.5}, r"alpha must lie in \[0, 1\], got 1.5"),
    (ComboLoss, {"beta": -0.1}, r"beta must lie in \[0, 1\], got -0.1"),
    (DiceFocalLoss, {"gamma": -2.0}, r"gamma must lie in \[0, inf\], got -2"),
    (DiceFocalLoss, {"lambda_dice": -1.0}, r"lambda_dice must lie in \[0, inf\], got -1"),
    (DiceFocalLoss, {"lambda_focal": -1.0}, r"lambda_focal must lie in \[0, inf\], got -1"),
    (DiceCELoss, {"lambda_ce": -0.5}, r"lambda_ce must lie in \[0, inf\], got -0.5"),
    (DiceCELoss, {"smooth_dr": -1e-5}, r"smooth_dr must lie in \[0, inf\], got -1e-05"),
    (CrossEntropyLoss, {"reduction": "avg"}, r"reduction must be one of .*, got 'avg'"),
    (CrossEntropyLoss, {"softmax": True, "include_background": False}, "include_background=False is not supported"),
    (WeightedCrossEntropyLoss, {"softmax": True, "include_background": False}, "include_background=False is not"),
    (ComboLoss, {"sigmoid": True, "softmax": True}, "mutually exclusive"),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD_PARAMS)
def test_bad_hyper_parameters(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("cls", sorted({c for c, *_ in CASES.values()}, key=lambda c: c.__name__))
def test_bad_inputs(cls):
    x = torch.randn(2, 3, 4, 5)
    labels = torch.randint(0, 3, (2, 1, 4, 5))
    soft = cls(softmax=True, to_onehot_y=True)
    with pytest.raises(ValueError, match="target batch and spatial shape"):
        soft(x, labels[:, :, :3])
    with pytest.raises(ValueError, match=r"label values must lie in \[0, 3\), got values in \[-1, 2\]"):
        soft(x, torch.where(labels == 1, -1, labels))
    bad = x.clone()
    bad[1, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="input contains 1 NaN or infinite"):
        soft(bad, labels)
    with pytest.raises(ValueError, match="softmax=True needs at least 2 channels"):
        soft(x[:, :1], labels.clamp(max=1))
    with pytest.raises(ValueError, match=r"target values must lie in \[0, 1\], got values in \[0, 2\]"):
        cls(sigmoid=True)(x, torch.randint(0, 3, (2, 3, 4, 5)))
    with pytest.raises(ValueError, match="include_background=False needs at least 2 channels"):
        cls(sigmoid=True, include_background=False)(x[:, :1], torch.randint(0, 2, (2, 1, 4, 5)))
