"""The slice-by-slice voxel sums (``scripts/losses/_chunked.py``) and the fast paths built on them (issue 6).

The one-slice values of every loss are checked against float64 formula references in ``test_losses_region``,
``test_losses_compound`` and ``test_losses_unified_focal`` (their tensors are smaller than one slice). Here:

- many small slices give the value and gradient of one slice, for every catalogue loss in both bundle modes:
  slicing changes the summation order only;
- float64 ``gradcheck`` through the sliced backward pass (finite differences, many slices);
- the MONAI-backed region losses, computed from slice sums, equal MONAI's own modules (a second
  implementation) for each of their options;
- the balanced-sampling mask with ties at the threshold, against a numpy stable-argsort reference;
- a target that requires grad still gets its gradient; the float16 / bfloat16 input gets a gradient in its dtype;
- peak extra memory: no full-size temporary beyond the gradient itself (counted by the benchmark's ledger).
"""

from __future__ import annotations

import inspect
import math

import monai.losses
import numpy as np
import pytest
import torch

from benchmarks._memory import peak_extra_bytes
from scripts.losses import LOSSES, CheckedDiceLoss, CheckedGeneralizedDiceLoss, CheckedTverskyLoss, _chunked, build_loss
from scripts.losses.focal_dice import balanced_mask

NAMES = sorted(LOSSES)
MODES = {
    "sigmoid": {"sigmoid": True},
    "softmax_labels": {"softmax": True, "to_onehot_y": True},
}


def batch_for(mode, spatial=(5, 6, 7), seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    x = (3 * torch.randn(2, 3, *spatial, generator=gen)).to(dtype)
    if mode == "sigmoid":
        return x, (torch.rand(2, 3, *spatial, generator=gen) < 0.3).float()
    return x, torch.randint(0, 3, (2, 1, *spatial), generator=gen).float()


def value_and_grad(loss, x, target):
    leaf = x.detach().clone().requires_grad_()
    out = loss(leaf, target)
    out.sum().backward()
    return out.detach(), leaf.grad


@pytest.fixture
def tiny_slices(monkeypatch):
    """70 elements per slice: 11 voxels of a (2, 3, ...) batch; a 3x4x5 volume is 6 slices, the last partial."""
    monkeypatch.setitem(_chunked.CHUNK_ELEMENTS, "cpu", 70)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", NAMES)
def test_many_slices_equal_one_slice(name, mode, monkeypatch):
    x, target = batch_for(mode, spatial=(3, 4, 5))
    pooled = "batch" in inspect.signature(LOSSES[name].cls).parameters
    configs = [{"reduction": "mean"}, {"reduction": "none", **({"batch": True} if pooled else {})}]
    whole = [value_and_grad(build_loss(name, **MODES[mode], **c), x, target) for c in configs]
    monkeypatch.setitem(_chunked.CHUNK_ELEMENTS, "cpu", 70)
    assert len(_chunked.chunk_slices(x[0, 0].numel(), 6, x.device)) == 6
    for config, (whole_value, whole_grad) in zip(configs, whole):
        value, grad = value_and_grad(build_loss(name, **MODES[mode], **config), x, target)
        torch.testing.assert_close(value, whole_value, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(grad, whole_grad, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("name", ["dice", "sensitivity_specificity", "exp_log", "focal"])
def test_gradcheck_through_many_slices(name, tiny_slices):
    # float64 everywhere except the focal loss, which MONAI computes in float32: checked by assert_close below
    x, labels = batch_for("softmax_labels", spatial=(2, 3, 5), seed=3, dtype=torch.float64)
    loss = build_loss(name, softmax=True, to_onehot_y=True)
    if name == "focal":
        leaf = x.clone().requires_grad_()
        loss(leaf, labels).backward()
        xs = x.clone().requires_grad_()
        p = torch.softmax(xs, 1)
        g = (labels == torch.arange(3).view(1, 3, 1, 1, 1)).double()
        alpha = torch.tensor([0.75, 0.25, 0.25], dtype=torch.float64).view(1, 3, 1, 1, 1)
        (-(alpha * (1 - p) ** 2 * g * torch.log(p))).mean(dim=(2, 3, 4)).mean().backward()
        torch.testing.assert_close(leaf.grad, xs.grad, rtol=1e-4, atol=1e-8)
        return
    assert torch.autograd.gradcheck(lambda t: loss(t, labels), (x.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


# ---------------------------------------------------------------- MONAI-backed region losses vs MONAI itself
# ---------------------------------------------------------------- hand-written gradients vs autograd
REFERENCE_CONFIGS = {
    "sigmoid": ({"sigmoid": True}, "regions"),
    "sigmoid_no_background": ({"sigmoid": True, "include_background": False}, "regions"),
    "softmax_labels": ({"softmax": True, "to_onehot_y": True}, "labels"),
    "softmax_onehot_soft": ({"softmax": True}, "soft"),
    "probabilities": ({}, "probabilities"),
}


def reference_case(kind, seed=11):
    gen = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(2, 3, 3, 4, 5, generator=gen, dtype=torch.float64)
    x[0, :, 0, 0, 0] = torch.tensor([40.0, -40.0, 0.0], dtype=torch.float64)  # saturated voxel
    if kind == "regions":
        return x, (torch.rand(2, 3, 3, 4, 5, generator=gen) < 0.3).double()
    if kind == "labels":
        return x, torch.randint(0, 3, (2, 1, 3, 4, 5), generator=gen).double()
    soft = torch.softmax(torch.randn(2, 3, 3, 4, 5, generator=gen, dtype=torch.float64), 1)
    if kind == "soft":
        return x, soft
    return torch.softmax(x, 1), soft  # probabilities in, soft one-hot target


# the focal loss takes logits only (its builder defaults to sigmoid=True): no probabilities case
GRADIENT_CASES = [
    (name, config)
    for name in NAMES
    for config in sorted(REFERENCE_CONFIGS)
    if (name, config) != ("focal", "probabilities")
]


@pytest.mark.parametrize("name, config", GRADIENT_CASES)
def test_hand_written_gradient_equals_autograd(name, config, tiny_slices):
    """A target that requires grad sends the loss through autograd end to end (activation and terms, one
    slice); otherwise the gradient is the hand-written one, slice by slice. Both must agree (float64)."""
    flags, kind = REFERENCE_CONFIGS[config]
    try:
        loss = build_loss(name, **flags, reduction="sum")
    except ValueError:
        pytest.skip(f"{name} does not take {flags}")
    x, target = reference_case(kind)
    try:
        value, grad = value_and_grad(loss, x, target)
    except ValueError as err:  # e.g. include_background=False in a categorical mode
        pytest.skip(str(err))
    leaf = x.clone().requires_grad_()
    ref_value = loss(leaf, target.clone().requires_grad_())
    ref_value.backward()
    tol = {"rtol": 1e-5, "atol": 1e-7} if name == "focal" else {"rtol": 1e-8, "atol": 1e-12}  # MONAI's, float32
    torch.testing.assert_close(value, ref_value.detach(), **tol)
    torch.testing.assert_close(grad, leaf.grad, **tol)


MONAI_OPTIONS = [
    (CheckedDiceLoss, monai.losses.DiceLoss, {}),
    (CheckedDiceLoss, monai.losses.DiceLoss, {"squared_pred": True}),
    (CheckedDiceLoss, monai.losses.DiceLoss, {"jaccard": True}),
    (CheckedDiceLoss, monai.losses.DiceLoss, {"jaccard": True, "squared_pred": True, "smooth_nr": 0.0}),
    (CheckedDiceLoss, monai.losses.DiceLoss, {"weight": [0.2, 1.0, 3.0]}),
    (CheckedDiceLoss, monai.losses.DiceLoss, {"weight": 2.5}),
    (CheckedTverskyLoss, monai.losses.TverskyLoss, {"alpha": 0.3, "beta": 0.7}),
    (CheckedTverskyLoss, monai.losses.TverskyLoss, {"alpha": 0.9, "beta": 0.1, "smooth_dr": 1.0}),
    (CheckedGeneralizedDiceLoss, monai.losses.GeneralizedDiceLoss, {}),
    (CheckedGeneralizedDiceLoss, monai.losses.GeneralizedDiceLoss, {"w_type": "simple"}),
    (CheckedGeneralizedDiceLoss, monai.losses.GeneralizedDiceLoss, {"w_type": "uniform"}),
]


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("ours_cls,monai_cls,options", MONAI_OPTIONS)
def test_monai_region_losses_equal_monai(ours_cls, monai_cls, options, mode, batch, tiny_slices):
    x, target = batch_for(mode, seed=5)
    x = x.double()
    if mode == "sigmoid":
        target[1, 2] = 0  # an empty class: MONAI's generalized Dice weight replacement
    flags = {**MODES[mode], "batch": batch, **options}
    ours = ours_cls(**flags, reduction="none")
    theirs = monai_cls(**flags, reduction="none")
    got, got_grad = value_and_grad(ours, x, target)
    want, want_grad = value_and_grad(theirs, x, target)
    torch.testing.assert_close(got, want.reshape(got.shape), rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-6, atol=1e-9)


def test_monai_region_losses_without_background_equal_monai(tiny_slices):
    x, labels = batch_for("softmax_labels", seed=6)
    for ours_cls, monai_cls, options in MONAI_OPTIONS:
        if "weight" in options and not isinstance(options["weight"], float):
            options = {**options, "weight": options["weight"][1:]}
        flags = {"softmax": True, "to_onehot_y": True, "include_background": False, **options}
        got = ours_cls(**flags)(x.double(), labels)
        want = monai_cls(**flags)(x.double(), labels)
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)


def test_dice_weight_of_wrong_length_is_monais_error():
    x, labels = batch_for("softmax_labels")
    with pytest.raises(ValueError, match="length of the `weight` sequence"):
        CheckedDiceLoss(softmax=True, to_onehot_y=True, weight=[1.0, 2.0])(x, labels)


# ---------------------------------------------------------------- balanced sampling mask
def ref_mask(p, fg, neg_ratio):
    """Foreground plus the ceil(neg_ratio * n_fg) background voxels of highest p, stable order (numpy)."""
    pn, fn = p.numpy(), fg.numpy()
    out = fn.copy()
    for b in range(pn.shape[0]):
        for c in range(pn.shape[1]):
            pf, ff = pn[b, c].ravel(), fn[b, c].ravel()
            bg = np.flatnonzero(~ff)
            n_fg = int(ff.sum())
            k = min(1 if n_fg == 0 else math.ceil(neg_ratio * n_fg), bg.size)
            chosen = bg[np.argsort(-pf[bg], kind="stable")[:k]]
            flat = out[b, c].reshape(-1)
            flat[chosen] = True
    return torch.from_numpy(out)


@pytest.mark.parametrize("neg_ratio", [0.0, 0.5, 1.0, 3.0, 1e6])
def test_balanced_mask_with_ties_equals_stable_sort(neg_ratio):
    gen = torch.Generator().manual_seed(7)
    p = torch.randint(0, 4, (2, 3, 5, 6), generator=gen).float() / 4  # only 4 values: ties everywhere
    fg = torch.rand(2, 3, 5, 6, generator=gen) < 0.2
    fg[0, 1] = False  # empty foreground: one background voxel
    fg[1, 2] = True  # no background
    got = balanced_mask(p, fg, neg_ratio)
    assert got.dtype == torch.bool
    assert torch.equal(got, ref_mask(p, fg, neg_ratio))


# ---------------------------------------------------------------- gradients and dtypes
@pytest.mark.parametrize("name", ["dice", "asymmetric_unified_focal", "bce_dice"])
def test_target_that_requires_grad_gets_its_gradient(name):
    x, target = batch_for("sigmoid")
    soft = (0.8 * target + 0.1).double().requires_grad_()
    build_loss(name, sigmoid=True)(x.double(), soft).backward()
    assert soft.grad is not None and torch.isfinite(soft.grad).all() and soft.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["dice", "focal", "symmetric_unified_focal"])
def test_low_precision_input_gets_gradient_of_its_dtype(name, dtype, tiny_slices):
    x, target = batch_for("sigmoid")
    value, grad = value_and_grad(build_loss(name, sigmoid=True), x.to(dtype), target)
    value32, grad32 = value_and_grad(build_loss(name, sigmoid=True), x.to(dtype).float(), target)
    assert value.dtype == torch.float32 and grad.dtype == dtype
    torch.testing.assert_close(value, value32)  # computed in float32 from the same (rounded) logits
    torch.testing.assert_close(grad, grad32.to(dtype))


# ---------------------------------------------------------------- memory
def peak_beyond_gradient(loss, x, target):
    def run():
        leaf = x.detach().requires_grad_()
        loss(leaf, target).backward()
        return leaf.grad

    return peak_extra_bytes(run, [x, target], x.device) - x.nbytes


@pytest.mark.parametrize(
    "mode,names", [("sigmoid", ["dice", "focal"]), ("softmax_labels", ["exp_log", "asymmetric_unified_focal"])]
)
def test_peak_extra_memory_is_the_gradient_plus_slices_whatever_the_volume(mode, names, monkeypatch):
    """Beyond the gradient, a loss keeps slice-sized temporaries only: 8x the volume, the same extra bytes
    (within two slices). MONAI's Dice loss, for contrast, grows with the volume (3x the input)."""
    monkeypatch.setitem(_chunked.CHUNK_ELEMENTS, "cpu", 1 << 11)
    monkeypatch.setitem(_chunked.PARALLEL_SLICES, "cpu", False)  # the ledger sees the calling thread only
    slice_bytes = 4 << 11
    small, large = batch_for(mode, spatial=(16, 16, 16)), batch_for(mode, spatial=(32, 32, 32))
    for name in names:
        loss = build_loss(name, **MODES[mode])
        extra_small, extra_large = peak_beyond_gradient(loss, *small), peak_beyond_gradient(loss, *large)
        assert 0 <= extra_large <= extra_small + 2 * slice_bytes, (name, extra_small, extra_large)
    monai_dice = monai.losses.DiceLoss(**MODES[mode])
    assert peak_beyond_gradient(monai_dice, *large) >= 1.5 * large[0].nbytes
