"""The map losses (boundary, gdl_boundary, hausdorff_dt, log_hausdorff_dt, blob) against references written here
(scipy's distance transform and labelling, numpy transcriptions of the authors' code) and MONAI where exact; the
maps passed as extra target channels (from the transforms) give the same values as the maps computed by the
loss; empty, full, single-voxel and multi-component targets; hostile maps raise naming the problem. The maps are
float32 (as the transforms write them), so float64 losses agree with the float64 references to about 1e-7."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.losses import BoundaryLoss as MonaiBoundary
from monai.losses import DiceLoss as MonaiDice
from monai.losses import GeneralizedDiceLoss as MonaiGDL
from monai.losses import HausdorffDTLoss as MonaiHD
from monai.losses import LogHausdorffDTLoss as MonaiLogHD
from scipy import ndimage

from scripts.losses import BlobLoss, BoundaryLoss, GDLBoundaryLoss, HausdorffDTLoss, build_loss, rebalanced_alpha
from scripts.transforms import ConnectedComponentsd, SignedDistanced

SPATIAL = {"2d": (12, 11), "3d": (9, 8, 7)}


def signed(mask):  # Kervadec et al.'s one_hot2dist, one channel
    mask = mask.astype(bool)
    if not mask.any() or mask.all():
        return np.zeros(mask.shape)
    return ndimage.distance_transform_edt(~mask) * ~mask - (ndimage.distance_transform_edt(mask) - 1) * mask


def unsigned(mask):  # Karimi & Salcudean's d: distance to the boundary from either side
    mask = mask.astype(bool)
    if not mask.any() or mask.all():
        return np.zeros(mask.shape)
    return ndimage.distance_transform_edt(mask) + ndimage.distance_transform_edt(~mask)


def blobs(shape, seed, fraction=0.2):
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 1.2)
    return noise > np.quantile(noise, 1 - fraction)


def kits_like(spatial, seed=0):
    """Logits (2, 3, ...) and labels (2, 1, ...): sample 0 several kidney blobs with tumour inside, sample 1
    a single tumour voxel and no kidney."""
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(2, 3, *spatial, generator=gen, dtype=torch.float64)
    kidney = blobs(spatial, seed, 0.3)
    tumour = kidney & blobs(spatial, seed + 1, 0.3)
    labels = np.zeros((2, 1, *spatial), np.int64)
    labels[0, 0][kidney] = 1
    labels[0, 0][tumour] = 2
    labels[1, 0].flat[5] = 2
    return x, torch.from_numpy(labels)


def regions_like(spatial, seed=0):
    """Logits (2, 3, ...) and regions: sample 0 multi-component, empty, full; sample 1 single voxel, blobs,
    empty."""
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(2, 3, *spatial, generator=gen, dtype=torch.float64)
    g = np.zeros((2, 3, *spatial))
    g[0, 0] = blobs(spatial, seed)
    g[0, 2] = 1
    g[1, 0].flat[7] = 1
    g[1, 1] = blobs(spatial, seed + 2)
    return x, torch.from_numpy(g)


def one_hot(labels, n):
    return F.one_hot(labels[:, 0], n).movedim(-1, 1).double()


def ref_boundary(p, g):
    """(B, C) mean_x p phi per sample and channel."""
    phi = np.stack([[signed(gc.numpy() > 0.5) for gc in gb] for gb in g])
    return (p.numpy() * phi).reshape(*p.shape[:2], -1).mean(-1)


def with_maps(target, transform, num_classes=None):
    """The target with the maps of the transform appended per sample, as the data loader hands it over."""
    return torch.stack([transform(keys="label", num_classes=num_classes)({"label": t})["label"] for t in target])


# --------------------------------------------------------------------------------------------------- boundary
@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_boundary_softmax_equals_reference_monai_and_the_maps_from_the_transform(dims):
    x, labels = kits_like(SPATIAL[dims])
    p = torch.softmax(x, 1)
    for include_background in (True, False):
        kw = {"softmax": True, "to_onehot_y": True, "include_background": include_background}
        got = BoundaryLoss(**kw, reduction="none")(x, labels)
        want = ref_boundary(p, one_hot(labels, 3))[:, (0 if include_background else 1) :]
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-9)
        monai = MonaiBoundary(**kw)(x, labels)
        torch.testing.assert_close(BoundaryLoss(**kw)(x, labels), monai.to(torch.float64), rtol=1e-6, atol=1e-8)
        target = with_maps(labels, SignedDistanced, num_classes=3)
        assert target.shape[1] == 4
        torch.testing.assert_close(BoundaryLoss(**kw, maps_in_target=True)(x, target), BoundaryLoss(**kw)(x, labels))


@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_boundary_sigmoid_on_empty_full_single_voxel_and_blobs(dims):
    x, g = regions_like(SPATIAL[dims])
    x.requires_grad_()
    got = BoundaryLoss(sigmoid=True, reduction="none")(x, g)
    np.testing.assert_allclose(got.detach().numpy(), ref_boundary(torch.sigmoid(x).detach(), g), rtol=1e-6)
    assert got[0, 1] == 0 and got[0, 2] == 0 and got[1, 2] == 0  # empty and full channels: zero map
    got.sum().backward()
    assert torch.isfinite(x.grad).all()
    target = with_maps(g.float(), SignedDistanced)
    torch.testing.assert_close(
        BoundaryLoss(sigmoid=True, maps_in_target=True)(x, target), BoundaryLoss(sigmoid=True)(x, g)
    )


def test_boundary_is_lowest_for_the_exact_prediction():
    _, g = regions_like(SPATIAL["2d"])
    exact = torch.where(g > 0, 20.0, -20.0).double()
    loss = BoundaryLoss(sigmoid=True)
    assert loss(exact, g) < loss(exact.roll(2, -1), g) and loss(exact, g) < loss(-exact, g)


# --------------------------------------------------------------------------------------------- gdl_boundary
def test_gdl_boundary_is_gdl_plus_boundary_of_the_foreground_with_the_papers_schedule():
    x, labels = kits_like(SPATIAL["3d"])
    loss = GDLBoundaryLoss(softmax=True, to_onehot_y=True, reduction="none")
    gdl = MonaiGDL(softmax=True, to_onehot_y=True, reduction="none")(x, labels).reshape(-1, 1)
    boundary = MonaiBoundary(softmax=True, to_onehot_y=True, include_background=False, reduction="none")(x, labels)
    boundary = boundary.mean(1, keepdim=True)
    for epoch, alpha in [(0, 1.0), (1, 0.99), (50, 0.5), (98, 0.02), (99, 0.01), (150, 0.01)]:
        assert rebalanced_alpha(epoch) == pytest.approx(alpha)
        loss.alpha = rebalanced_alpha(epoch)
        torch.testing.assert_close(loss(x, labels), alpha * gdl + (1 - alpha) * boundary, rtol=1e-6, atol=1e-8)
    target = with_maps(labels, SignedDistanced, num_classes=3)
    maps = GDLBoundaryLoss(softmax=True, to_onehot_y=True, alpha=0.3, maps_in_target=True)(x, target)
    torch.testing.assert_close(maps, GDLBoundaryLoss(softmax=True, to_onehot_y=True, alpha=0.3)(x, labels))
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 1\.5"):
        loss.alpha = 1.5
    with pytest.raises(ValueError, match=r"epoch must be an integer >= 0, got -1"):
        rebalanced_alpha(-1)


def test_gdl_boundary_sigmoid_uses_every_channel_for_the_boundary():
    x, g = regions_like(SPATIAL["2d"])
    loss = build_loss("gdl_boundary", sigmoid=True, alpha=0.0, reduction="none")
    want = ref_boundary(torch.sigmoid(x), g).mean(1, keepdims=True)
    np.testing.assert_allclose(loss(x, g).numpy(), want, rtol=1e-6)


# ------------------------------------------------------------------------------------------------- hausdorff
def ref_hausdorff(p, g, alpha=2.0):
    out = np.zeros(p.shape[:2])
    for b in range(p.shape[0]):
        for c in range(p.shape[1]):
            pc, gc = p[b, c].numpy(), g[b, c].numpy()
            out[b, c] = np.mean((pc - gc) ** 2 * (unsigned(pc > 0.5) ** alpha + unsigned(gc > 0.5) ** alpha))
    return out


@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_hausdorff_dt_equals_reference_and_monai(dims):
    x, labels = kits_like(SPATIAL[dims])
    g = one_hot(labels, 3)
    got = HausdorffDTLoss(softmax=True, to_onehot_y=True, reduction="none")(x, labels)
    np.testing.assert_allclose(got.numpy(), ref_hausdorff(torch.softmax(x, 1), g), rtol=1e-6)
    kw = {"softmax": True, "to_onehot_y": True, "include_background": False}  # MONAI's default background
    torch.testing.assert_close(
        HausdorffDTLoss(**kw)(x, labels), MonaiHD(**kw)(x, labels).double(), rtol=1e-6, atol=1e-8
    )
    xs, regions = regions_like(SPATIAL[dims])
    got = build_loss("hausdorff_dt", sigmoid=True, reduction="none")(xs, regions)
    np.testing.assert_allclose(got.numpy(), ref_hausdorff(torch.sigmoid(xs), regions), rtol=1e-6)
    target = torch.cat(
        [regions, torch.stack([SignedDistanced(signed=False)({"label": r})["label"][3:] for r in regions])], 1
    )
    torch.testing.assert_close(
        build_loss("hausdorff_dt", sigmoid=True, maps_in_target=True)(xs, target),
        build_loss("hausdorff_dt", sigmoid=True)(xs, regions),
    )


def test_log_hausdorff_dt_per_sample_and_channel_and_monai_for_one():
    x, g = regions_like(SPATIAL["3d"])
    per = build_loss("log_hausdorff_dt", sigmoid=True, reduction="none")(x, g)
    np.testing.assert_allclose(per.numpy(), np.log1p(ref_hausdorff(torch.sigmoid(x), g)), rtol=1e-6)
    one = (x[:1, :1], g[:1, :1])
    monai = MonaiLogHD(sigmoid=True, include_background=True)(*one)
    torch.testing.assert_close(build_loss("log_hausdorff_dt", sigmoid=True)(*one), monai.double(), rtol=1e-6, atol=0)


def test_hausdorff_dt_perfect_prediction_is_zero_and_gradients_are_finite():
    _, g = regions_like(SPATIAL["2d"])
    exact = torch.where(g > 0, 30.0, -30.0).double().requires_grad_()
    value = build_loss("hausdorff_dt", sigmoid=True)(exact, g)
    assert float(value) < 1e-20
    value.backward()
    assert torch.isfinite(exact.grad).all()


# ------------------------------------------------------------------------------------------------------ blob
def ref_blob(x, g, mode, main="dice"):
    """Kofler et al.'s compute_loss with alpha = 2 (main), beta = 1 (blob), transcribed: the main loss on the
    whole volume; per sample and channel, per component n (scipy labelling, full connectivity) the loss of the
    probabilities masked to 0 on the other components against component n; the mean over components, then over
    the (sample, channel) pairs that have components. Dice: MONAI's DiceLoss; BCE: torch's."""
    if mode == "sigmoid":
        p, onehot, first = torch.sigmoid(x), g, 0
        main_value = MonaiDice(sigmoid=True)(x, g)
        if main == "bce_dice":
            main_value = main_value + F.binary_cross_entropy_with_logits(x, g)
    else:
        p, onehot, first = torch.softmax(x, 1), one_hot(g, x.shape[1]), 1
        main_value = MonaiDice(softmax=True, to_onehot_y=True)(x, g)
        if main == "bce_dice":
            main_value = main_value + F.cross_entropy(x, g[:, 0])
    terms = []
    for b in range(x.shape[0]):
        for c in range(first, x.shape[1]):
            ids, n = ndimage.label(onehot[b, c].numpy() > 0.5, structure=np.ones((3,) * (x.ndim - 2)))
            comp = []
            for k in range(1, n + 1):
                mask = torch.from_numpy((ids == 0) | (ids == k))
                pm = (p[b, c] * mask)[None, None]
                gk = torch.from_numpy(ids == k).double()[None, None]
                value = MonaiDice()(pm, gk)
                if main == "bce_dice":
                    value = value + F.binary_cross_entropy(pm, gk)
                comp.append(value)
            if comp:
                terms.append(sum(comp) / len(comp))
    return 2 * main_value + (sum(terms) / len(terms) if terms else 0)


@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_blob_equals_the_authors_algorithm(dims):
    x, g = regions_like(SPATIAL[dims])
    torch.testing.assert_close(build_loss("blob", sigmoid=True)(x, g), ref_blob(x, g, "sigmoid"), rtol=1e-7, atol=0)
    bce_dice = build_loss("blob", sigmoid=True, main="bce_dice")(x, g)
    torch.testing.assert_close(bce_dice, ref_blob(x, g, "sigmoid", main="bce_dice"), rtol=1e-7, atol=0)
    x, labels = kits_like(SPATIAL[dims])
    torch.testing.assert_close(
        build_loss("blob", softmax=True, to_onehot_y=True)(x, labels),
        ref_blob(x, labels, "softmax"),
        rtol=1e-7,
        atol=0,
    )
    torch.testing.assert_close(
        build_loss("blob", softmax=True, to_onehot_y=True, main="bce_dice")(x, labels),
        ref_blob(x, labels, "softmax", main="bce_dice"),
        rtol=1e-7,
        atol=0,
    )


def test_blob_maps_from_the_transform_single_voxel_and_no_components():
    x, labels = kits_like(SPATIAL["3d"])
    target = with_maps(labels, ConnectedComponentsd, num_classes=3)
    kw = {"softmax": True, "to_onehot_y": True}
    torch.testing.assert_close(BlobLoss(**kw, maps_in_target=True)(x, target), BlobLoss(**kw)(x, labels))
    empty = torch.zeros(1, 1, 5, 6, dtype=torch.float64)
    x1 = torch.randn(1, 1, 5, 6, dtype=torch.float64, requires_grad=True)
    # no component: the blob term is 0, the loss is alpha times the main loss
    torch.testing.assert_close(BlobLoss(sigmoid=True)(x1, empty), 2 * build_loss("dice", sigmoid=True)(x1, empty))
    single = empty.clone()
    single[0, 0, 2, 3] = 1
    value = BlobLoss(sigmoid=True)(x1, single)
    torch.testing.assert_close(value, ref_blob(x1.detach(), single, "sigmoid"), rtol=1e-7, atol=0)
    value.backward()
    assert torch.isfinite(x1.grad).all()
    # face connectivity splits blobs that touch by a corner only
    diagonal = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    diagonal[0, 0, 0, 0] = diagonal[0, 0, 1, 1] = 1
    x2 = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    assert BlobLoss(sigmoid=True, connectivity=1)(x2, diagonal) != BlobLoss(sigmoid=True)(x2, diagonal)


# --------------------------------------------------------------------------------------------------- hostile
@pytest.mark.parametrize("name", ["boundary", "gdl_boundary", "hausdorff_dt", "log_hausdorff_dt", "blob"])
def test_maps_in_target_with_wrong_channels_or_values_raise_naming_the_problem(name):
    x, labels = kits_like(SPATIAL["2d"])
    loss = build_loss(name, softmax=True, to_onehot_y=True, maps_in_target=True)
    with pytest.raises(
        ValueError,
        match=r"maps_in_target=True: target must hold 1 target channel\(s\) followed by "
        r"3 \w+ map channel\(s\) \(one per input channel\), got 1 channel\(s\)",
    ):
        loss(x, labels)
    bad = torch.cat([labels.double(), torch.zeros(2, 3, *labels.shape[2:], dtype=torch.float64)], 1)
    bad[0, 2, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"maps of the target contain NaN or infinite values"):
        loss(x, bad)
    bad[0, 2, 0, 0] = -0.5
    if name == "blob":
        with pytest.raises(ValueError, match=r"component maps must hold whole numbers >= 0"):
            loss(x, bad)
    elif "hausdorff" in name:
        with pytest.raises(ValueError, match=r"unsigned distance maps must be >= 0, got values down to -0\.5"):
            loss(x, bad)
    bad[0, 2, 0, 0] = 0
    bad[0, 0, 0, 0] = 3  # the label part is checked as a plain target
    with pytest.raises(ValueError, match=r"target label values must lie in \[0, 3\)"):
        loss(x, bad)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match=r"main must be a catalogue loss other than blob and gdl_boundary, got 'dcie'"):
        BlobLoss(main="dcie")
    with pytest.raises(ValueError, match=r"main must be a catalogue loss other than blob"):
        BlobLoss(main="blob")
    with pytest.raises(ValueError, match=r"connectivity must be None \(full\) or an integer >= 1, got 0"):
        BlobLoss(connectivity=0)
    with pytest.raises(ValueError, match=r"beta must lie in \[0, inf\], got -1"):
        BlobLoss(beta=-1)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, inf\], got -2"):
        HausdorffDTLoss(alpha=-2)
