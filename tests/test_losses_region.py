"""Region losses (and the checked MONAI focal loss) against float64 re-implementations of their papers' formulas.

The ``ref_*`` functions below are written from the formulas in ``docs/losses.md`` and the papers, in
plain float64 torch, without calling ``scripts.losses``. Each returns per ``(b, c)`` values, ``(B, C)`` or
``(1, C)`` with ``batch=True``.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch

from scripts.losses import (
    DiceLoss,
    DiceTwoClassLoss,
    FocalDiceLoss,
    FocalLoss,
    FocalTverskyLoss,
    GeneralizedDiceLoss,
    SensitivitySpecificityLoss,
    TverskyLoss,
)

S = 1e-5  # default smooth_nr / smooth_dr


# ---------------------------------------------------------------- float64 references, from the formulas
def ref_sigmoid(x):
    return 1.0 / (1.0 + torch.exp(-x))


def ref_softmax(x):
    e = torch.exp(x - x.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def ref_one_hot(labels, n):
    classes = torch.arange(n).view(1, n, *([1] * (labels.ndim - 2)))
    return (labels == classes).double()


def sums(t, batch):
    """Sum over space (and batch): (B, C) or (1, C)."""
    s = t.flatten(2).sum(-1)
    return s.sum(0, keepdim=True) if batch else s


def ref_dice(p, g, batch, snr=S, sdr=S):
    return 1 - (2 * sums(p * g, batch) + snr) / (sums(p, batch) + sums(g, batch) + sdr)


def ref_dice_squared(p, g, batch, snr=S, sdr=S):
    return 1 - (2 * sums(p * g, batch) + snr) / (sums(p * p, batch) + sums(g * g, batch) + sdr)


def ref_iou(p, g, batch, snr=S, sdr=S):
    # MONAI's smoothing: numerator 2 TP + s_nr over 2 (TP + FP + FN) + s_dr, i.e. (TP + s_nr/2) / (union + s_dr/2)
    inter = sums(p * g, batch)
    union = sums(p + g - p * g, batch)
    return 1 - (inter + snr / 2) / (union + sdr / 2)


def ref_tversky(p, g, batch, alpha, beta, snr=S, sdr=S):
    tp = sums(p * g, batch)
    fp = sums(p * (1 - g), batch)
    fn = sums((1 - p) * g, batch)
    return 1 - (tp + snr) / (tp + alpha * fp + beta * fn + sdr)


def ref_focal_tversky(p, g, batch, alpha, beta, gamma, snr=S, sdr=S):
    return ref_tversky(p, g, batch, alpha, beta, snr, sdr) ** gamma


def ref_generalized_dice(p, g, batch, snr=S, sdr=S):
    """Sudre 2017 with MONAI's rule for absent classes (weight = the largest finite weight), (B, 1) or (1, 1)."""
    tp, sp, sg = sums(p * g, batch), sums(p, batch), sums(g, batch)
    out = []
    for i in range(tp.shape[0]):
        w = [1 / float(v) ** 2 if float(v) > 0 else math.inf for v in sg[i]]
        finite = [v for v in w if v != math.inf]
        w = torch.tensor([v if v != math.inf else (max(finite) if finite else 0.0) for v in w], dtype=torch.float64)
        out.append(1 - (2 * (w * tp[i]).sum() + snr) / ((w * (sp[i] + sg[i])).sum() + sdr))
    return torch.stack(out)[:, None]


def ref_dice_two_class(p, g, batch, snr=S, sdr=S):
    d_fg = (2 * sums(p * g, batch) + snr) / (sums(p, batch) + sums(g, batch) + sdr)
    pb, gb = 1 - p, 1 - g
    d_bg = (2 * sums(pb * gb, batch) + snr) / (sums(pb, batch) + sums(gb, batch) + sdr)
    return 1 - (d_fg + d_bg) / 2


def ref_balanced_mask(p, g, neg_ratio):
    """Every foreground voxel + ceil(neg_ratio * n_fg) background voxels of highest p (>= 1 voxel), numpy loops."""
    pn, gn = p.detach().numpy(), g.detach().numpy()
    mask = np.zeros_like(pn)
    for b in range(pn.shape[0]):
        for c in range(pn.shape[1]):
            pf, fg = pn[b, c].ravel(), gn[b, c].ravel() > 0.5
            bg_idx = np.flatnonzero(~fg)
            n_fg = int(fg.sum())
            k = 1 if n_fg == 0 else math.ceil(neg_ratio * n_fg)
            k = min(k, bg_idx.size)
            hardest = bg_idx[np.argsort(-pf[bg_idx], kind="stable")[:k]]
            m = fg.astype(pn.dtype)
            m[hardest] = 1
            mask[b, c] = m.reshape(pn.shape[2:])
    return torch.from_numpy(mask)


def ref_focal_dice(p, g, batch, beta, sampling=None, neg_ratio=1.0, snr=S, sdr=S):
    if sampling == "balanced":
        m = ref_balanced_mask(p, g, neg_ratio)
        p, g = p * m, g * m
    dsc = (2 * sums(p * g, batch) + snr) / (sums(p, batch) + sums(g, batch) + sdr)
    return 1 - dsc ** (1 / beta)


def ref_sensitivity_specificity(p, g, batch, r, sdr=S, mode="sigmoid"):
    """Brosch et al. 2015, eq. 2, per channel; a softmax background (channel 0) is the complement problem of the
    foreground, so its sensitivity weight is 1 - r (docs/losses.md)."""
    e = (g - p) ** 2
    sens = sums(e * g, batch) / (sums(g, batch) + sdr)
    spec = sums(e * (1 - g), batch) / (sums(1 - g, batch) + sdr)
    rs = torch.full((1, p.shape[1]), r, dtype=torch.float64)
    if mode in ("softmax_labels", "softmax_binary"):
        rs[0, 0] = 1 - r
    return rs * sens + (1 - rs) * spec


def ref_focal(x, g, mode, gamma, alpha):
    """Lin 2017 per voxel, ``(B, C, *spatial)``. sigmoid: alpha_t = alpha on positives, 1 - alpha on
    negatives; softmax: -alpha_c (1 - p_c)^gamma log p_c on the true class, alpha_0 = 1 - alpha, alpha_c = alpha."""
    if mode == "sigmoid":
        p = ref_sigmoid(x)
        pt = torch.where(g > 0.5, p, 1 - p)
        at = torch.where(g > 0.5, alpha, 1 - alpha) if alpha is not None else torch.ones_like(p)
        loss = -at * (1 - pt) ** gamma * torch.log(pt)
    else:
        p = ref_softmax(x)
        n = x.shape[1]
        a = torch.tensor([1 - alpha] + [alpha] * (n - 1), dtype=torch.float64) if alpha is not None else torch.ones(n)
        loss = -a.view(1, n, *([1] * (x.ndim - 2))) * (1 - p) ** gamma * torch.log(p) * g
    return loss


def ref_focal_reduce(loss, reduction):
    """MONAI's reductions of the focal loss: none per voxel, mean over everything, sum of per-(b, c) means."""
    return {"none": loss, "mean": loss.mean(), "sum": loss.flatten(2).mean(-1).sum()}[reduction]


def focal(sigmoid=False, softmax=False, **kwargs):
    """The drop-in ``FocalLoss`` takes MONAI's ``use_softmax`` (sigmoid otherwise)."""
    return FocalLoss(use_softmax=softmax, **kwargs)


def ref_reduce(v, reduction):
    return {"mean": v.mean(), "sum": v.sum(), "none": v}[reduction]


# ---------------------------------------------------------------- the cases
# name -> (class, kwargs, reference(x, p, g, mode, batch))
CASES = {
    "dice": (DiceLoss, {}, lambda x, p, g, m, b: ref_dice(p, g, b)),
    "dice_squared": (DiceLoss, {"squared_pred": True}, lambda x, p, g, m, b: ref_dice_squared(p, g, b)),
    "iou": (DiceLoss, {"jaccard": True}, lambda x, p, g, m, b: ref_iou(p, g, b)),
    "tversky": (
        TverskyLoss,
        {"alpha": 0.3, "beta": 0.7},
        lambda x, p, g, m, b: ref_tversky(p, g, b, 0.3, 0.7),
    ),
    "generalized_dice": (GeneralizedDiceLoss, {}, lambda x, p, g, m, b: ref_generalized_dice(p, g, b)),
    "dice_two_class": (DiceTwoClassLoss, {}, lambda x, p, g, m, b: ref_dice_two_class(p, g, b)),
    "focal_tversky": (FocalTverskyLoss, {}, lambda x, p, g, m, b: ref_focal_tversky(p, g, b, 0.3, 0.7, 0.75)),
    "focal_tversky_g2": (
        FocalTverskyLoss,
        {"alpha": 0.6, "beta": 0.2, "gamma": 2.0, "smooth_nr": 0.1, "smooth_dr": 0.2},
        lambda x, p, g, m, b: ref_focal_tversky(p, g, b, 0.6, 0.2, 2.0, 0.1, 0.2),
    ),
    "focal_dice": (FocalDiceLoss, {}, lambda x, p, g, m, b: ref_focal_dice(p, g, b, 2.0)),
    "focal_dice_balanced": (
        FocalDiceLoss,
        {"beta": 3.0, "sampling": "balanced", "neg_ratio": 0.5},
        lambda x, p, g, m, b: ref_focal_dice(p, g, b, 3.0, "balanced", 0.5),
    ),
    "sensitivity_specificity": (
        SensitivitySpecificityLoss,
        {},
        lambda x, p, g, m, b: ref_sensitivity_specificity(p, g, b, 0.05, mode=m),
    ),
    "sensitivity_specificity_r": (
        SensitivitySpecificityLoss,
        {"r": 0.7, "smooth_dr": 0.5},
        lambda x, p, g, m, b: ref_sensitivity_specificity(p, g, b, 0.7, 0.5, mode=m),
    ),
}
MONAI_SHAPED = (DiceLoss, TverskyLoss, GeneralizedDiceLoss)  # the drop-ins return MONAI's reduction="none" shapes
FOCAL_CASES = {
    "focal": ({"gamma": 2.0, "alpha": 0.25}, lambda x, g, m: ref_focal(x, g, m, 2.0, 0.25)),
    "focal_g1_noalpha": ({"gamma": 1.0, "alpha": None}, lambda x, g, m: ref_focal(x, g, m, 1.0, None)),
}

SPATIAL = {"2d": (5, 6), "3d": (3, 4, 5)}
# mode -> (channels, activation kwargs, label target?)
MODES = {
    "sigmoid_multilabel": (3, {"sigmoid": True}, False),
    "sigmoid_binary": (1, {"sigmoid": True}, False),
    "softmax_labels": (3, {"softmax": True, "to_onehot_y": True}, True),
    "softmax_binary": (2, {"softmax": True, "to_onehot_y": True}, True),
    "softmax_no_background": (3, {"softmax": True, "to_onehot_y": True, "include_background": False}, True),
}


def make_batch(mode, spatial, seed=0, scale=2.0):
    """float64 logits x, the loss target (labels or binary channels), and the reference's (p, g) in float64."""
    n, act, labels = MODES[mode]
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(2, n, *spatial, generator=gen, dtype=torch.float64)
    if labels:
        target = torch.randint(0, n, (2, 1, *spatial), generator=gen)
        p, g = ref_softmax(x), ref_one_hot(target, n)
    else:
        target = torch.randint(0, 2, (2, n, *spatial), generator=gen)
        p, g = ref_sigmoid(x), target.double()
    if not act.get("include_background", True):
        p, g = p[:, 1:], g[:, 1:]
    return x, target, p, g


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("dims", sorted(SPATIAL))
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_region_loss_matches_float64_reference(case, mode, dims, batch):
    cls, kwargs, ref = CASES[case]
    x, target, p, g = make_batch(mode, SPATIAL[dims], seed=zlib.crc32(f"{case}{mode}{dims}".encode()))
    act = MODES[mode][1]
    expected = ref(x, p, g, mode, batch)
    for reduction in ("none", "mean", "sum"):
        loss = cls(**act, **kwargs, batch=batch, reduction=reduction)
        got32 = loss(x.float(), target)
        got64 = loss(x, target)
        want = ref_reduce(expected, reduction)
        assert got32.dtype == torch.float32 and got64.dtype == torch.float64
        if reduction == "none" and cls in MONAI_SHAPED:  # MONAI's: no batch axis with batch=True; Dice and GDL
            want = want[0] if batch else want  # broadcast over the spatial axes, Tversky not
            want = want if cls is TverskyLoss else want.reshape(*want.shape, *([1] * len(SPATIAL[dims])))
        assert got32.shape == want.shape, (reduction, got32.shape, want.shape)
        # MONAI computes the generalized Dice weights in float32 even for float64 input
        rtol64 = 1e-6 if case == "generalized_dice" else 1e-10
        torch.testing.assert_close(got64, want, rtol=rtol64, atol=1e-12)
        torch.testing.assert_close(got32.double(), want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("dims", sorted(SPATIAL))
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("case", sorted(FOCAL_CASES))
def test_focal_matches_float64_reference(case, mode, dims):
    kwargs, ref = FOCAL_CASES[case]
    x, target, _, _ = make_batch(mode, SPATIAL[dims], seed=7)
    n, act, labels = MODES[mode]
    g = ref_one_hot(target, n) if labels else target.double()
    kind = "softmax" if act.get("softmax") else "sigmoid"
    if not act.get("include_background", True):  # MONAI's order: channel 0 dropped, then the softmax
        x, g, act = x[:, 1:], g[:, 1:], {**act, "include_background": True, "to_onehot_y": False}
        target = g
        kwargs = {**kwargs, "alpha": None}  # MONAI ignores a scalar alpha without the background (a warning)
        expected = ref_focal(x, g, kind, kwargs["gamma"], None)
    else:
        expected = ref(x, g, kind)
    for reduction in ("none", "mean", "sum"):
        got = focal(**act, **kwargs, reduction=reduction)(x.float(), target)
        torch.testing.assert_close(got.double(), ref_focal_reduce(expected, reduction), rtol=2e-5, atol=2e-6)


def test_focal_gradient_matches_float64_reference():
    # MONAI's FocalLoss casts to float32, so no float64 gradcheck: compare with the reference's autograd instead.
    for mode in ("sigmoid_multilabel", "softmax_labels"):
        x, target, _, _ = make_batch(mode, (4, 5), seed=3)
        n, act, labels = MODES[mode]
        g = ref_one_hot(target, n) if labels else target.double()
        x64 = x.clone().requires_grad_()
        ref_focal(x64, g, "softmax" if labels else "sigmoid", 2.0, 0.25).mean().backward()
        x32 = x.float().requires_grad_()
        focal(**act, gamma=2.0, alpha=0.25)(x32, target).backward()
        torch.testing.assert_close(x32.grad.double(), x64.grad, rtol=1e-4, atol=1e-7)


def test_focal_per_class_alpha_and_weight():
    x, target, _, _ = make_batch("softmax_labels", (4, 5), seed=11)
    g = ref_one_hot(target, 3)
    p = ref_softmax(x)
    alpha, weight = [0.1, 0.2, 0.9], [1.0, 2.0, 0.5]
    per_voxel = -((1 - p) ** 2) * torch.log(p) * g
    per_voxel = per_voxel * torch.tensor(alpha, dtype=torch.float64).view(1, 3, 1, 1)
    expected = per_voxel * torch.tensor(weight, dtype=torch.float64).view(1, 3, 1, 1)
    loss = focal(softmax=True, to_onehot_y=True, alpha=alpha, weight=weight)
    torch.testing.assert_close(loss(x.float(), target).double(), expected.mean(), rtol=2e-5, atol=1e-7)


def test_pure_formulas_without_smoothing():
    """With smoothing 0 the losses are the papers' bare ratios; hand-computed values on a 4-voxel example."""
    p = torch.tensor([0.9, 0.6, 0.2, 0.1], dtype=torch.float64).view(1, 1, 4)
    g = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64).view(1, 1, 4)
    # TP = 0.9 + 0.2 = 1.1, FP = 0.6 + 0.1 = 0.7, FN = 0.1 + 0.8 = 0.9, sum p = 1.8, sum g = 2
    zero = {"smooth_nr": 0.0, "smooth_dr": 0.0}
    torch.testing.assert_close(DiceLoss(**zero)(p, g), torch.tensor(1 - 2.2 / 3.8, dtype=torch.float64))
    iou = DiceLoss(jaccard=True, **zero)(p, g)
    torch.testing.assert_close(iou, torch.tensor(1 - 1.1 / 2.7, dtype=torch.float64))
    tv = TverskyLoss(alpha=0.3, beta=0.7, **zero)(p, g)
    torch.testing.assert_close(tv, torch.tensor(1 - 1.1 / (1.1 + 0.21 + 0.63), dtype=torch.float64))
    ftl = FocalTverskyLoss(**zero)(p, g)
    torch.testing.assert_close(ftl, torch.tensor((1 - 1.1 / 1.94) ** 0.75, dtype=torch.float64))
    fd = FocalDiceLoss(**zero)(p, g)
    torch.testing.assert_close(fd, torch.tensor(1 - (2.2 / 3.8) ** 0.5, dtype=torch.float64))
    # V-Net: sum p^2 = 0.81 + 0.36 + 0.04 + 0.01 = 1.22, sum g^2 = 2
    sq = DiceLoss(squared_pred=True, **zero)(p, g)
    torch.testing.assert_close(sq, torch.tensor(1 - 2.2 / 3.22, dtype=torch.float64))
    # two-class: background p = [.1 .4 .8 .9], g = [0 1 0 1]: TP_bg = 0.4 + 0.9 = 1.3, sums 2.2 and 2
    dl2 = DiceTwoClassLoss(**zero)(p, g)
    torch.testing.assert_close(dl2, torch.tensor(1 - (2.2 / 3.8 + 2.6 / 4.2) / 2, dtype=torch.float64))
    # Brosch: fg errors (0.1^2 + 0.8^2) / 2 = 0.325, bg errors (0.6^2 + 0.1^2) / 2 = 0.185
    ss = SensitivitySpecificityLoss(r=0.05, smooth_dr=0.0)(p, g)
    torch.testing.assert_close(ss, torch.tensor(0.05 * 0.325 + 0.95 * 0.185, dtype=torch.float64))


def test_balanced_sampling_selects_hardest_background_by_hand():
    p = torch.tensor([0.9, 0.8, 0.1, 0.7, 0.3, 0.6], dtype=torch.float64).view(1, 1, 6)
    g = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], dtype=torch.float64).view(1, 1, 6)
    # 2 foreground voxels, neg_ratio 1 -> 2 hardest background voxels: p = 0.8 and 0.7 (indices 1, 3)
    # kept p = [.9 .8 .7 .3], g = [1 0 0 1]: TP = 1.2, sum p = 2.7, sum g = 2
    loss = FocalDiceLoss(beta=1.0, sampling="balanced", neg_ratio=1.0, smooth_nr=0.0, smooth_dr=0.0)
    torch.testing.assert_close(loss(p, g), torch.tensor(1 - 2.4 / 4.7, dtype=torch.float64))
    # empty foreground: the single hardest background voxel (0.9 here) is kept -> DSC = 0 / 0.9
    g0 = torch.zeros_like(g)
    torch.testing.assert_close(loss(p, g0), torch.tensor(1.0, dtype=torch.float64))
    # neg_ratio 0: foreground only -> TP = 1.2, sum p = 1.2, DSC = 2.4 / 3.2
    loss0 = FocalDiceLoss(beta=1.0, sampling="balanced", neg_ratio=0.0, smooth_nr=0.0, smooth_dr=0.0)
    torch.testing.assert_close(loss0(p, g), torch.tensor(1 - 2.4 / 3.2, dtype=torch.float64))


# ---------------------------------------------------------------- identities
def test_identities():
    for mode in ("sigmoid_multilabel", "softmax_labels"):
        x, target, _, _ = make_batch(mode, (3, 4, 5), seed=5)
        act = MODES[mode][1]
        dice = DiceLoss(**act)(x, target)
        tversky = TverskyLoss(**act, alpha=0.3, beta=0.7)(x, target)
        # Tversky(0.5, 0.5) is Dice; the smoothing terms differ by a factor 2, so compare them unsmoothed
        zero = {"smooth_nr": 0.0, "smooth_dr": 0.0}
        dice0 = DiceLoss(**act, **zero)(x, target)
        torch.testing.assert_close(TverskyLoss(**act, alpha=0.5, beta=0.5, **zero)(x, target), dice0)
        torch.testing.assert_close(FocalTverskyLoss(**act, alpha=0.5, beta=0.5, gamma=1.0, **zero)(x, target), dice0)
        torch.testing.assert_close(FocalTverskyLoss(**act, alpha=0.3, beta=0.7, gamma=1.0)(x, target), tversky)
        torch.testing.assert_close(FocalDiceLoss(**act, beta=1.0)(x, target), dice)
        # balanced sampling that keeps every background voxel is no sampling
        torch.testing.assert_close(
            FocalDiceLoss(**act, sampling="balanced", neg_ratio=1e6)(x, target), FocalDiceLoss(**act)(x, target)
        )


def test_dice_two_class_is_dice_with_background_on_two_channels():
    x, target, _, _ = make_batch("sigmoid_binary", (3, 4, 5), seed=9)
    p = torch.sigmoid(x)
    two = torch.cat([1 - p, p], dim=1)
    for batch in (False, True):
        got = DiceTwoClassLoss(sigmoid=True, batch=batch)(x, target)
        want = DiceLoss(include_background=True, to_onehot_y=True, batch=batch)(two, target)
        torch.testing.assert_close(got, want)
    # 2-channel softmax: equals MONAI-backed Dice with the background included
    x2, labels, _, _ = make_batch("softmax_binary", (3, 4, 5), seed=9)
    got = DiceTwoClassLoss(softmax=True, to_onehot_y=True)(x2, labels)
    torch.testing.assert_close(got, DiceLoss(softmax=True, to_onehot_y=True)(x2, labels))


# ---------------------------------------------------------------- gradients
GRAD_MODES = ("sigmoid_multilabel", "sigmoid_binary", "softmax_labels")


@pytest.mark.parametrize("mode", GRAD_MODES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck_float64(case, mode):
    cls, kwargs, _ = CASES[case]
    x, target, _, _ = make_batch(mode, (3, 3), seed=13, scale=1.0)
    loss = cls(**MODES[mode][1], **kwargs)
    assert torch.autograd.gradcheck(lambda t: loss(t, target), (x.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


# ---------------------------------------------------------------- edge cases
# an empty class predicted empty costs 1 - smooth_nr / smooth_dr: equal smoothing for the "perfect costs 0" checks
EDGE_LOSSES = {
    **{
        name: (cls, {**kwargs, "smooth_nr": kwargs["smooth_dr"]} if "smooth_nr" in kwargs else kwargs)
        for name, (cls, kwargs, _) in CASES.items()
    },
    "focal": (focal, {"gamma": 2.0, "alpha": 0.25}),
}


def edge_batch(mode, kind, spatial=(4, 4, 4)):
    """Logits of +-1e4 that are perfect / all wrong for the target, for empty or full foreground, or random."""
    gen = torch.Generator().manual_seed(1)
    n = 3
    if mode == "sigmoid":
        g = {
            "empty": torch.zeros(2, n, *spatial),
            "full": torch.ones(2, n, *spatial),
        }.get(kind, torch.randint(0, 2, (2, n, *spatial), generator=gen).float())
        sign = 2 * g - 1
        target = g.long()
    else:
        labels = {
            "empty": torch.zeros(2, 1, *spatial, dtype=torch.long),
            "full": torch.full((2, 1, *spatial), 2, dtype=torch.long),
        }.get(kind, torch.randint(0, n, (2, 1, *spatial), generator=gen))
        g = ref_one_hot(labels, n).float()
        sign = 2 * g - 1
        target = labels
    if kind == "wrong":
        sign = -sign
    x = 1e4 * sign
    if kind == "random":
        x = 1e4 * torch.randn(2, n, *spatial, generator=gen).sign()
    return x, target


def value_and_grad(loss, x, target):
    x = x.clone().requires_grad_()
    value = loss(x, target)
    (grad,) = torch.autograd.grad(value, x)
    return value.detach(), grad


@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
@pytest.mark.parametrize("case", sorted(EDGE_LOSSES))
def test_edge_cases_finite_and_right(case, mode):
    cls, kwargs = EDGE_LOSSES[case]
    act = {"sigmoid": True} if mode == "sigmoid" else {"softmax": True, "to_onehot_y": True}
    loss = cls(**act, **kwargs)
    for kind in ("perfect", "empty", "full", "wrong", "random"):
        x, target = edge_batch(mode, kind)
        value, grad = value_and_grad(loss, x, target)
        assert torch.isfinite(value), (kind, value)
        assert torch.isfinite(grad).all(), kind
        if kind in ("perfect", "empty", "full"):
            # a perfect prediction (empty / full foreground: also perfect here) costs ~0
            assert 0 <= float(value) < 1e-4, (kind, float(value))
        if (
            kind == "wrong"
            and case != "focal"
            and (mode == "sigmoid" or not case.startswith(("dice_two_class", "sensitivity")))
        ):
            # a completely wrong prediction costs about the maximum, 1 (up to smoothing, which a power < 1
            # magnifies); in softmax mode the two-class Dice and the sensitivity-specificity loss see the
            # wrong classes' probabilities as partly right background, so they stay lower
            assert 0.95 < float(value) <= 1.0, float(value)


@pytest.mark.parametrize("case", sorted(EDGE_LOSSES))
def test_empty_target_with_nonempty_prediction_is_finite(case):
    cls, kwargs = EDGE_LOSSES[case]
    x = torch.randn(2, 3, 4, 4)
    value, grad = value_and_grad(cls(sigmoid=True, **kwargs), x, torch.zeros(2, 3, 4, 4))
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    if case == "generalized_dice":
        # every class absent: no finite weight to substitute, all weights 0, loss 1 - smooth_nr / smooth_dr = 0
        assert float(value) == pytest.approx(0.0, abs=1e-6)
    else:
        assert float(value) > 0


@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
@pytest.mark.parametrize("case", sorted(EDGE_LOSSES))
def test_bf16_autocast_close_to_float32(case, mode):
    cls, kwargs = EDGE_LOSSES[case]
    act = {"sigmoid": True} if mode == "sigmoid" else {"softmax": True, "to_onehot_y": True}
    loss = cls(**act, **kwargs)
    x, target = edge_batch(mode, "random")
    x = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    conv = torch.nn.Conv3d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1, 1))
        conv.bias.zero_()
    ref = loss(conv(x), target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
        assert out.dtype == torch.bfloat16
        value = loss(out, target)
    assert value.dtype == torch.float32
    value.backward()
    assert torch.isfinite(value) and all(torch.isfinite(q.grad).all() for q in conv.parameters())
    torch.testing.assert_close(value, ref.detach(), rtol=2e-2, atol=2e-3)


def test_fp16_input_over_65504_voxels_does_not_overflow():
    x = torch.full((1, 1, 300, 300), 3.0, dtype=torch.float16)
    target = torch.ones(1, 1, 300, 300)
    for cls, kwargs in EDGE_LOSSES.values():
        value = cls(sigmoid=True, **kwargs)(x, target)
        assert torch.isfinite(value) and value.dtype == torch.float32
