"""lovasz, mcc, topk_ce and generalized_wasserstein_dice against references written here (numpy transcriptions of
the authors' algorithms) and MONAI where exact; empty, full, single-voxel and multi-component targets; finite
values and gradients; bad arguments raise naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.losses import DiceLoss as MonaiDice
from monai.losses import GeneralizedWassersteinDiceLoss as MonaiGWDL
from monai.losses import MCCLoss as MonaiMCC

from scripts.losses import BRATS_LABEL_DISTANCES, GeneralizedWassersteinDiceLoss, build_loss

SPATIAL = {"2d": (10, 9), "3d": (7, 6, 5)}


def labels_and_regions(spatial, seed=0):
    """Logits (2, C, ...) float64; labels (2, 1, ...) with 3 classes, class 2 absent from sample 1 and a single
    class-2 voxel in sample 0; regions (2, 3, ...) with an empty, a full, a single-voxel and a random channel."""
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(2, 3, *spatial, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 2, (2, 1, *spatial), generator=gen)
    labels[0, 0].view(-1)[3] = 2
    regions = (torch.rand(2, 3, *spatial, generator=gen) < 0.3).double()
    regions[0, 0] = 0
    regions[0, 1] = 1
    regions[1, 2] = 0
    regions[1, 2].view(-1)[4] = 1
    return x, labels, regions


def one_hot(labels, n):
    return F.one_hot(labels[:, 0], n).movedim(-1, 1).double()


# ---------------------------------------------------------------------------------------------------- lovasz
def np_lovasz_grad(gt_sorted):
    """Berman et al.'s lovasz_grad (Algorithm 1), numpy."""
    gts = gt_sorted.sum()
    intersection = gts - np.cumsum(gt_sorted)
    union = gts + np.cumsum(1 - gt_sorted)
    jaccard = 1.0 - intersection / union
    if len(gt_sorted) > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def np_lovasz_softmax(p, g):
    """lovasz_softmax(probas, labels, classes='present', per_image=False): the batch's voxels together."""
    p = np.moveaxis(p, 1, -1).reshape(-1, p.shape[1])
    g = np.moveaxis(g, 1, -1).reshape(-1, g.shape[1])
    losses = []
    for c in range(p.shape[1]):
        fg = g[:, c]
        if fg.sum() == 0:
            continue
        errors = np.abs(fg - p[:, c])
        order = np.argsort(-errors, kind="stable")
        losses.append(np.dot(errors[order], np_lovasz_grad(fg[order])))
    return np.mean(losses) if losses else 0.0


def np_lovasz_hinge(logits, g):
    """lovasz_hinge(logits, labels, per_image=True) per channel: (B, C) values."""
    out = np.zeros(logits.shape[:2])
    for b in range(logits.shape[0]):
        for c in range(logits.shape[1]):
            x, y = logits[b, c].ravel(), g[b, c].ravel()
            errors = 1.0 - x * (2.0 * y - 1.0)
            order = np.argsort(-errors, kind="stable")
            out[b, c] = np.dot(np.maximum(errors[order], 0), np_lovasz_grad(y[order]))
    return out


@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_lovasz_softmax_and_hinge_equal_the_authors_algorithm(dims):
    x, labels, regions = labels_and_regions(SPATIAL[dims])
    got = build_loss("lovasz", softmax=True, to_onehot_y=True)(x, labels)
    want = np_lovasz_softmax(torch.softmax(x, 1).numpy(), one_hot(labels, 3).numpy())
    assert float(got) == pytest.approx(want, rel=1e-10)
    # class 2 is present only in sample 0: over the batch it counts; without the background two classes remain
    no_bg = build_loss("lovasz", softmax=True, to_onehot_y=True, include_background=False)(x, labels)
    want = np_lovasz_softmax(torch.softmax(x, 1).numpy()[:, 1:], one_hot(labels, 3).numpy()[:, 1:])
    assert float(no_bg) == pytest.approx(want, rel=1e-10)
    per = build_loss("lovasz", sigmoid=True, reduction="none")(x, regions)
    np.testing.assert_allclose(per.numpy(), np_lovasz_hinge(x.numpy(), regions.numpy()), rtol=1e-10)
    mean = build_loss("lovasz", sigmoid=True)(x, regions)
    assert float(mean) == pytest.approx(np_lovasz_hinge(x.numpy(), regions.numpy()).mean(), rel=1e-10)


def test_lovasz_absent_classes_perfect_predictions_and_gradients():
    x, labels, regions = labels_and_regions(SPATIAL["2d"])
    only_background = torch.zeros_like(labels)
    got = build_loss("lovasz", softmax=True, to_onehot_y=True)(x, only_background)
    want = np_lovasz_softmax(torch.softmax(x, 1).numpy(), one_hot(only_background, 3).numpy())
    assert float(got) == pytest.approx(want, rel=1e-10)
    margin = torch.where(regions > 0, 2.0, -2.0).double()  # every hinge error 1 - 2 < 0: loss 0
    assert float(build_loss("lovasz", sigmoid=True)(margin, regions)) == 0
    x.requires_grad_()
    value = build_loss("lovasz", sigmoid=True)(x, regions) + build_loss("lovasz", softmax=True, to_onehot_y=True)(
        x, labels
    )
    value.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------------- mcc
@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_mcc_equals_monai_and_the_formula(dims):
    x, labels, regions = labels_and_regions(SPATIAL[dims])
    for kw, target in [({"sigmoid": True}, regions), ({"softmax": True, "to_onehot_y": True}, labels)]:
        for batch in (False, True):
            ours = build_loss("mcc", **kw, batch=batch, reduction="none")(x, target)
            monai = MonaiMCC(**kw, batch=batch, reduction="none")(x, target)
            torch.testing.assert_close(ours, monai.reshape(ours.shape), rtol=1e-10, atol=1e-12)
    p, g = torch.sigmoid(x).numpy(), regions.numpy()
    axes = tuple(range(2, p.ndim))
    tp, fp = (p * g).sum(axes), (p * (1 - g)).sum(axes)
    fn, tn = ((1 - p) * g).sum(axes), ((1 - p) * (1 - g)).sum(axes)
    mcc = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn) + 1e-5)
    np.testing.assert_allclose(build_loss("mcc", sigmoid=True, reduction="none")(x, regions).numpy(), 1 - mcc)


def test_mcc_perfect_is_zero_and_no_smoothing_stays_finite():
    _, _, regions = labels_and_regions(SPATIAL["2d"])
    perfect = regions.clone()  # probabilities equal to the target (empty, full, single voxel included)
    assert float(build_loss("mcc")(perfect, regions)) == 0
    x = torch.randn(regions.shape, dtype=torch.float64, requires_grad=True)
    value = build_loss("mcc", sigmoid=True, smooth_dr=0.0)(x, regions)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------------------------------- topk_ce
def np_topk(values, k):
    values = np.sort(values.ravel())[::-1]
    return values[: max(1, int(values.size * k / 100))].mean()


@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_topk_ce_is_the_mean_of_the_hardest_ten_percent(dims):
    x, labels, regions = labels_and_regions(SPATIAL[dims])
    ce = F.cross_entropy(x, labels[:, 0], reduction="none").numpy()  # nnU-Net's per-voxel CE
    got = build_loss("topk_ce", softmax=True, to_onehot_y=True)(x, labels)
    assert float(got) == pytest.approx(np_topk(ce, 10), rel=1e-10)
    assert float(build_loss("topk_ce", softmax=True, to_onehot_y=True, k=100)(x, labels)) == pytest.approx(ce.mean())
    bce = F.binary_cross_entropy_with_logits(x, regions, reduction="none").numpy()
    assert float(build_loss("topk_ce", sigmoid=True)(x, regions)) == pytest.approx(np_topk(bce, 10), rel=1e-10)
    no_bg = build_loss("topk_ce", sigmoid=True, include_background=False, k=25, reduction="none")(x, regions)
    assert no_bg.shape == (1, 1) and float(no_bg) == pytest.approx(np_topk(bce[:, 1:], 25), rel=1e-10)


def test_topk_ce_one_voxel_keeps_one_value_and_gradient_only_on_the_kept():
    x = torch.tensor([[[0.3, -2.0, 4.0]]], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([[[1.0, 0.0, 0.0]]], dtype=torch.float64)
    value = build_loss("topk_ce", sigmoid=True)(x, g)  # 3 values: int(0.3) = 0, at least one is kept
    assert float(value) == pytest.approx(F.softplus(torch.tensor(4.0, dtype=torch.float64)).item())
    value.backward()
    assert x.grad[0, 0, 0] == 0 and x.grad[0, 0, 1] == 0 and x.grad[0, 0, 2] > 0
    with pytest.raises(ValueError, match=r"k must lie in \(0, 100\], got 0"):
        build_loss("topk_ce", k=0)
    with pytest.raises(ValueError, match=r"include_background=False is not supported by TopKCrossEntropyLoss"):
        build_loss("topk_ce", softmax=True, include_background=False)


# ---------------------------------------------------------------------------------- generalized_wasserstein_dice
@pytest.mark.parametrize("dims", sorted(SPATIAL))
def test_wasserstein_dice_equals_monai_with_the_brats_matrix(dims):
    gen = torch.Generator().manual_seed(3)
    x = 2 * torch.randn(2, 4, *SPATIAL[dims], generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 4, (2, 1, *SPATIAL[dims]), generator=gen)
    labels[1] = 0  # a sample with the background only
    labels[1, 0].view(-1)[2] = 3  # and a single enhancing voxel
    ours = build_loss("generalized_wasserstein_dice", dist_matrix=BRATS_LABEL_DISTANCES, softmax=True,
                      to_onehot_y=True, reduction="none")(x, labels)  # fmt: skip
    monai = MonaiGWDL(np.array(BRATS_LABEL_DISTANCES), reduction="none")(x, labels)
    torch.testing.assert_close(ours, monai.reshape(-1, 1), rtol=1e-10, atol=1e-12)
    identity = build_loss("generalized_wasserstein_dice", softmax=True, to_onehot_y=True)(x, labels)
    torch.testing.assert_close(identity, MonaiGWDL(1 - np.eye(4))(x, labels), rtol=1e-10, atol=1e-12)
    batch = build_loss("generalized_wasserstein_dice", softmax=True, to_onehot_y=True, batch=True, reduction="none")
    assert batch(x, labels).shape == (1, 1)


def test_wasserstein_dice_sigmoid_is_the_soft_dice_per_channel():
    x, _, regions = labels_and_regions(SPATIAL["3d"])
    ours = build_loss("generalized_wasserstein_dice", sigmoid=True, reduction="none")(x, regions)
    monai = MonaiDice(sigmoid=True, reduction="none")(x, regions).reshape(2, 3)
    torch.testing.assert_close(ours, monai, rtol=1e-10, atol=1e-12)


def test_wasserstein_dice_bad_matrices_name_the_problem():
    with pytest.raises(ValueError, match=r"square \(C, C\) matrix with C >= 2, got shape \(2, 3\)"):
        GeneralizedWassersteinDiceLoss([[0, 1, 1], [1, 0, 1]])
    with pytest.raises(ValueError, match=r"symmetric with a zero diagonal"):
        GeneralizedWassersteinDiceLoss([[0, 1], [0.5, 0]])
    with pytest.raises(ValueError, match=r"finite and >= 0"):
        GeneralizedWassersteinDiceLoss([[0, -1], [-1, 0]])
    with pytest.raises(ValueError, match=r"must be a square matrix of numbers"):
        GeneralizedWassersteinDiceLoss("brats")
    x, labels, regions = labels_and_regions(SPATIAL["2d"])
    with pytest.raises(ValueError, match=r"dist_matrix is \(4, 4\) but input has 3 classes"):
        GeneralizedWassersteinDiceLoss(BRATS_LABEL_DISTANCES, softmax=True, to_onehot_y=True)(x, labels)
    with pytest.raises(ValueError, match=r"in sigmoid mode each channel is a two-label problem"):
        GeneralizedWassersteinDiceLoss(1 - np.eye(3), sigmoid=True)(x, regions)


def test_brats_label_distances_are_the_authors_four_label_matrix():
    """Fidon & Shit's BraTS code (``BRATS_DIST_MATRIX``), written out here: background 1 from every tumour class,
    core-oedema 0.6, core-enhancing 0.5, oedema-enhancing 0.7 (rows: background, core, oedema, enhancing)."""
    bg, core, oedema, enhancing = range(4)
    m = np.array(BRATS_LABEL_DISTANCES)
    assert (m == m.T).all() and (np.diag(m) == 0).all() and (m[bg, 1:] == 1).all()
    assert (m[core, oedema], m[core, enhancing], m[oedema, enhancing]) == (0.6, 0.5, 0.7)
