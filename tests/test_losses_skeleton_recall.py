"""``skeleton_recall`` (Kirchhoff et al., ECCV 2024) against the authors' code (github MIC-DKFZ/Skeleton-Recall
f259f63: ``SkeletonTransform``, ``MemoryEfficientSoftDiceLoss``, ``SoftSkeletonRecallLoss`` and
``DC_SkelREC_and_CE_loss`` as ``nnUNetTrainerSkeletonRecall`` builds it, transcribed below without DDP and the
ignore label), by hand, and with the tubed skeleton as data (``TubedSkeletond``) against the loss's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.morphology import dilation, skeletonize

from scripts.losses import LossInputError, SkeletonRecallLoss, build_loss
from scripts.transforms import TubedSkeletond

SMOOTH = 1e-5  # the trainer's soft_dice_kwargs / soft_skelrec_kwargs


def authors_skel(seg_all: np.ndarray) -> np.ndarray:
    """``SkeletonTransform(do_tube=True).apply`` on one sample's ``(1, *spatial)`` label map."""
    bin_seg = seg_all > 0
    seg_all_skel = np.zeros_like(bin_seg, dtype=np.int16)
    if not np.sum(bin_seg[0]) == 0:
        skel = skeletonize(bin_seg[0])
        skel = (skel > 0).astype(np.int16)
        skel = dilation(dilation(skel))
        skel *= seg_all[0].astype(np.int16)
        seg_all_skel[0] = skel
    return seg_all_skel


def authors_dice(x, y, batch_dice):
    """``MemoryEfficientSoftDiceLoss(softmax, batch_dice, do_bg=False, smooth=1e-5)``."""
    x = torch.softmax(x, 1)
    axes = tuple(range(2, x.ndim))
    with torch.no_grad():
        y_onehot = torch.zeros(x.shape, device=x.device, dtype=torch.bool)
        y_onehot.scatter_(1, y.long(), 1)
        y_onehot = y_onehot[:, 1:]
        sum_gt = y_onehot.sum(axes)
    x = x[:, 1:]
    intersect = (x * y_onehot).sum(axes)
    sum_pred = x.sum(axes)
    if batch_dice:
        intersect, sum_pred, sum_gt = intersect.sum(0), sum_pred.sum(0), sum_gt.sum(0)
    dc = (2 * intersect + SMOOTH) / (torch.clip(sum_gt + sum_pred + SMOOTH, 1e-8))
    return -dc.mean()


def authors_srec(x, y, batch_dice):
    """``SoftSkeletonRecallLoss(softmax, batch_dice, do_bg=False, smooth=1e-5)``."""
    shp_x = x.shape
    x = torch.softmax(x, 1)[:, 1:]
    axes = list(range(2, len(shp_x)))
    with torch.no_grad():
        gt = y.long()
        y_onehot = torch.zeros(shp_x, device=x.device, dtype=y.dtype)
        y_onehot.scatter_(1, gt, 1)
        y_onehot = y_onehot[:, 1:]
        sum_gt = y_onehot.sum(axes)
    inter_rec = (x * y_onehot).sum(axes)
    if batch_dice:
        inter_rec, sum_gt = inter_rec.sum(0), sum_gt.sum(0)
    rec = (inter_rec + SMOOTH) / (torch.clip(sum_gt + SMOOTH, 1e-8))
    return -rec.mean()


def authors_loss(net_output, target, skel, batch_dice):
    """``DC_SkelREC_and_CE_loss`` with weight_ce = weight_dice = weight_srec = 1, no ignore label."""
    dc_loss = authors_dice(net_output, target, batch_dice)
    srec_loss = authors_srec(net_output, skel, batch_dice)
    ce_loss = F.cross_entropy(net_output, target[:, 0].long())
    return ce_loss + dc_loss + srec_loss


def tubes_like_branches(shape, n_classes, seed):
    """Label maps with thin and thick bars of several classes plus noise, so that skeletons are not trivial."""
    gen = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int64)
    for b in range(shape[0]):
        for c in range(1, n_classes):
            axis = int(gen.integers(1, len(shape)))
            index = [b] + [slice(int(gen.integers(0, 3)), s - int(gen.integers(0, 3))) for s in shape[1:]]
            width = int(gen.integers(1, 4))
            start = int(gen.integers(0, shape[axis] - width))
            index[axis] = slice(start, start + width)
            labels[tuple(index)] = c
    noise = gen.random(shape) < 0.03
    labels[noise] = gen.integers(0, n_classes, int(noise.sum()))
    return labels[:, None]


@pytest.mark.parametrize("batch_dice", [False, True])
@pytest.mark.parametrize(("spatial", "n_classes"), [((14, 13), 2), ((14, 13), 3), ((10, 11, 9), 2), ((10, 11, 9), 3)])
def test_value_and_gradient_match_the_authors(spatial, n_classes, batch_dice):
    labels = tubes_like_branches((2, *spatial), n_classes, seed=len(spatial) * 10 + n_classes)
    # float64: with their int16 skeleton, ``sum_gt + smooth`` is float32 (torch's default dtype), a float32 rounding
    skel = torch.from_numpy(np.stack([authors_skel(lab) for lab in labels]).astype(np.float64))
    target = torch.from_numpy(labels)
    assert skel.sum() > 0
    x = torch.randn(2, n_classes, *spatial, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x_ref, x_ours = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    reference = authors_loss(x_ref, target, skel, batch_dice)
    loss = build_loss("skeleton_recall", softmax=True, to_onehot_y=True, batch=batch_dice, compile=False)
    ours = loss(x_ours, target)
    # ours is 1 - score per term (the package's convention), theirs -score: the value differs by the two weights
    torch.testing.assert_close(ours, reference + 2.0, rtol=1e-12, atol=1e-12)
    reference.backward()
    ours.backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("spatial", [(16, 15), (12, 11, 10)])
def test_tubed_skeleton_as_data_equals_the_authors_transform_and_the_loss_own(spatial):
    labels = tubes_like_branches((2, *spatial), 3, seed=7)
    transform = TubedSkeletond(num_classes=3)
    with_maps = torch.stack([transform({"label": torch.from_numpy(lab).float()})["label"] for lab in labels])
    maps = with_maps[:, 1:]
    authors = np.stack([authors_skel(lab) for lab in labels])[:, 0]
    for c in (1, 2):
        np.testing.assert_array_equal(maps[:, c].numpy(), (authors == c).astype(np.float32))
    x = torch.randn(2, 3, *spatial, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kwargs = {"softmax": True, "to_onehot_y": True, "compile": False}
    as_data = build_loss("skeleton_recall", maps_in_target=True, **kwargs)(x, with_maps.double())
    own = build_loss("skeleton_recall", **kwargs)(x, torch.from_numpy(labels))
    torch.testing.assert_close(as_data, own, rtol=1e-12, atol=1e-12)


def test_region_mode_by_hand():
    """Per channel (sigmoid, the BraTS regions; beyond the authors' trainer): the tube of the union of the regions
    times each region; BCE, Dice and recall per channel, computed here with numpy."""
    gen = np.random.default_rng(5)
    wt = np.zeros((1, 16, 14, 12), bool)
    wt[0, 3:13, 5:8, 4:7] = True
    wt[0, 8, 2:12, 5] = True
    tc = wt & (np.indices(wt.shape)[1] < 9)
    regions = np.stack([tc[0], wt[0]])[None]  # (1, 2, ...)
    union = regions[0].any(0)
    tube = dilation(dilation((skeletonize(union) > 0).astype(np.int16))) > 0
    t = regions & tube
    x = gen.standard_normal(regions.shape)
    p = 1 / (1 + np.exp(-x))
    g = regions.astype(float)
    axes = (2, 3, 4)
    bce = -(g * np.log(p) + (1 - g) * np.log(1 - p)).mean(axes)
    dice = 1 - (2 * (p * g).sum(axes) + SMOOTH) / ((p + g).sum(axes) + SMOOTH)
    recall = 1 - ((p * t).sum(axes) + SMOOTH) / (t.sum(axes) + SMOOTH)
    loss = SkeletonRecallLoss(sigmoid=True, reduction="none", compile=False)
    ours = loss(torch.from_numpy(x), torch.from_numpy(g))
    np.testing.assert_allclose(ours.numpy(), bce + dice + recall, rtol=1e-12)
    as_data = TubedSkeletond()({"label": torch.from_numpy(g[0])})["label"]
    np.testing.assert_array_equal(as_data[2:].numpy(), t[0].astype(np.float32))


def test_a_one_voxel_line_is_its_own_tube_and_an_empty_target_has_no_recall_term():
    label = np.zeros((1, 12, 12, 12), np.int64)
    label[0, 6, 2:10, 6] = 1
    tubes = TubedSkeletond(num_classes=2)({"label": torch.from_numpy(label).float()})["label"][1:]
    np.testing.assert_array_equal(tubes[1].numpy(), label[0].astype(np.float32))
    x = torch.randn(1, 2, 12, 12, 12, dtype=torch.float64)
    empty = torch.zeros(1, 1, 12, 12, 12, dtype=torch.long)
    loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False, compile=False)
    p = torch.softmax(x, 1)
    ce = -torch.log_softmax(x, 1)[:, 0].mean()
    dice = 1 - SMOOTH / (p[:, 1].sum() + SMOOTH)
    torch.testing.assert_close(loss(x, empty), ce + dice, rtol=1e-12, atol=1e-12)  # recall: 1 - smooth / smooth


def test_weights_scale_their_terms():
    labels = torch.from_numpy(tubes_like_branches((1, 12, 12), 2, seed=2))
    x = torch.randn(1, 2, 12, 12, dtype=torch.float64)
    kwargs = {"softmax": True, "to_onehot_y": True, "include_background": False, "compile": False}

    def only(**weights):
        return SkeletonRecallLoss(**({"lambda_ce": 0.0, "lambda_dice": 0.0, "lambda_srec": 0.0} | weights), **kwargs)

    terms = [only(**{name: 1.0})(x, labels) for name in ("lambda_ce", "lambda_dice", "lambda_srec")]
    mixed = SkeletonRecallLoss(lambda_ce=0.5, lambda_dice=2.0, lambda_srec=3.0, **kwargs)(x, labels)
    torch.testing.assert_close(mixed, 0.5 * terms[0] + 2.0 * terms[1] + 3.0 * terms[2], rtol=1e-12, atol=1e-12)
    srec = terms[2].item()
    assert 0 < srec < 1


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="include_background=True is not supported by SkeletonRecallLoss"):
        SkeletonRecallLoss(softmax=True, to_onehot_y=True)
    loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False, maps_in_target=True)
    with pytest.raises(LossInputError, match="tubed skeleton maps must be masks of 0 and 1"):
        loss(torch.randn(1, 2, 6, 6), torch.cat([torch.zeros(1, 1, 6, 6), torch.full((1, 2, 6, 6), 0.5)], 1))
    with pytest.raises(ValueError, match="lambda_srec"):
        SkeletonRecallLoss(sigmoid=True, lambda_srec=-1.0)
    with pytest.raises(ValueError, match="tubed skeletons take 1 to 3 spatial dims"):
        TubedSkeletond()({"label": torch.ones(1, 3, 3, 3, 3)})
