"""``recall_ce`` (Tian et al., ICRA 2022) against the authors' code (github PotatoTian/recall-semseg, commit
a3f7fc3d1246, ``ptsemseg/loss/recall_loss.py``, ``RecallCrossEntropy``: transcribed below with ``.cuda()`` dropped
and the class count from the input; its ignore-label lines run only when a voxel is ignored: as written they raise
IndexError for a batch with one label value or one class with false negatives), by hand, and its per-channel mode
against the two-class categorical one."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scripts.losses import RecallCrossEntropyLoss, build_loss


def authors_recall_ce(input, target, n_classes, ignore_index=255):
    pred = input.argmax(1)
    idex = (pred != target).view(-1)
    gt_counter = torch.ones((n_classes,), dtype=input.dtype)
    gt_idx, gt_count = torch.unique(target, return_counts=True)
    if (gt_idx == ignore_index).any():  # corrected: the authors' line reads gt_count[1] even without an ignored
        gt_count[gt_idx == ignore_index] = gt_count[1]  # voxel, an IndexError when the batch holds one label only
        gt_idx[gt_idx == ignore_index] = 1
    gt_counter[gt_idx] = gt_count.to(input.dtype)
    fn_counter = torch.ones((n_classes,), dtype=input.dtype)
    fn = target.view(-1)[idex]
    fn_idx, fn_count = torch.unique(fn, return_counts=True)
    if (fn_idx == ignore_index).any():  # corrected as above (one class with false negatives: IndexError)
        fn_count[fn_idx == ignore_index] = fn_count[1]
        fn_idx[fn_idx == ignore_index] = 1
    fn_counter[fn_idx] = fn_count.to(input.dtype)
    weight = fn_counter / gt_counter
    ce = F.cross_entropy(input, target, reduction="none", ignore_index=ignore_index)
    return (weight[target] * ce).mean()


def value_and_grad(fn, x, *args):
    x = x.clone().requires_grad_()
    value = fn(x, *args)
    value.backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("spatial", [(9, 7), (6, 5, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("absent", [False, True], ids=["all_present", "last_absent"])
def test_value_and_gradient_match_the_authors_code(spatial, n_classes, absent):
    gen = torch.Generator().manual_seed(n_classes + len(spatial))
    x = torch.randn(3, n_classes, *spatial, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, n_classes - int(absent), (3, *spatial), generator=gen)
    want = value_and_grad(authors_recall_ce, x, labels, n_classes)
    for compile in (False, True):
        loss = RecallCrossEntropyLoss(softmax=True, to_onehot_y=True, compile=compile)
        got = value_and_grad(loss, x, labels[:, None])
        torch.testing.assert_close(got[0], want[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-12)


def test_by_hand():
    """4 voxels, 2 classes: labels (0, 0, 1, 1), argmax (0, 1, 0, 1): FN = (1, 1), N = (2, 2), w = (1/2, 1/2);
    a perfect class 1 instead (argmax (0, 1, 1, 1)): FN_1 = 0 -> counter 1, w = (1/2, 1/2)."""
    x = torch.tensor([[[2.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 3.0]]], dtype=torch.float64)
    labels = torch.tensor([[[0, 0, 1, 1]]])
    ce = -F.log_softmax(x, 1).gather(1, labels)[0, 0]
    got = build_loss("recall_ce", softmax=True, to_onehot_y=True, compile=False)(x, labels)
    assert got.item() == pytest.approx(float((0.5 * ce).mean()), rel=1e-12)
    x[0, 1, 2] = 5.0  # voxel 2 now predicted 1: class 1 has no false negative, class 0 still one
    ce = -F.log_softmax(x, 1).gather(1, labels)[0, 0]
    got = build_loss("recall_ce", softmax=True, to_onehot_y=True, compile=False)(x, labels)
    assert got.item() == pytest.approx(float((0.5 * ce).mean()), rel=1e-12)


def test_sigmoid_mode_is_the_two_class_categorical_formula_per_channel():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 6, 5, 4, generator=gen, dtype=torch.float64)
    g = (torch.rand(x.shape, generator=gen) < 0.3).double()
    per_channel = build_loss("recall_ce", sigmoid=True, reduction="none", compile=False)(x, g)
    for c in range(3):
        two = torch.stack([torch.zeros_like(x[:, c]), x[:, c]], 1)
        want = RecallCrossEntropyLoss(softmax=True, to_onehot_y=True, reduction="none", compile=False)(
            two, g[:, c : c + 1]
        )
        torch.testing.assert_close(per_channel[:, c : c + 1], want, rtol=1e-12, atol=1e-12)


def test_weights_carry_no_gradient_and_background_is_needed():
    with pytest.raises(ValueError, match="include_background=False"):
        RecallCrossEntropyLoss(softmax=True, include_background=False)
