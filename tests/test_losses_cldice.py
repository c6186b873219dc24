"""Soft clDice and Dice + clDice (issue 24) against the authors' code and MONAI 1.6.1's ``SoftclDiceLoss``.

The authors' PyTorch code is transcribed below from github jocpae/clDice, commit
47d31a6cc4a8101b1ffe8052994821961e57af9f (cldice_loss/pytorch/cldice.py and soft_skeleton.py), unchanged but for
the names: ``soft_cldice`` and ``soft_dice_cldice`` always skeletonise with ``num_iter=10`` (their ``iter_``
is unused) and sum over the whole batch and every kept channel.
"""

from __future__ import annotations

import monai.losses as monai_losses
import pytest
import torch
import torch.nn.functional as F

from scripts.losses import build_loss
from scripts.losses._checks import LossInputError
from scripts.losses.cldice import ClDiceLoss, DiceClDiceLoss, soft_skeleton
from tests.loss_references import ref_one_hot, ref_sigmoid, ref_softmax, seed_of


# ---- the authors' code (jocpae/clDice @ 47d31a6), transcribed
def authors_erode(img):
    if len(img.shape) == 4:
        p1 = -F.max_pool2d(-img, (3, 1), (1, 1), (1, 0))
        p2 = -F.max_pool2d(-img, (1, 3), (1, 1), (0, 1))
        return torch.min(p1, p2)
    p1 = -F.max_pool3d(-img, (3, 1, 1), (1, 1, 1), (1, 0, 0))
    p2 = -F.max_pool3d(-img, (1, 3, 1), (1, 1, 1), (0, 1, 0))
    p3 = -F.max_pool3d(-img, (1, 1, 3), (1, 1, 1), (0, 0, 1))
    return torch.min(torch.min(p1, p2), p3)


def authors_dilate(img):
    if len(img.shape) == 4:
        return F.max_pool2d(img, (3, 3), (1, 1), (1, 1))
    return F.max_pool3d(img, (3, 3, 3), (1, 1, 1), (1, 1, 1))


def authors_skel(img, num_iter=10):
    img1 = authors_dilate(authors_erode(img))
    skel = F.relu(img - img1)
    for _ in range(num_iter):
        img = authors_erode(img)
        img1 = authors_dilate(authors_erode(img))
        delta = F.relu(img - img1)
        skel = skel + F.relu(delta - skel * delta)
    return skel


def authors_cldice_term(y_true, y_pred, smooth=1.0):
    skel_pred, skel_true = authors_skel(y_pred), authors_skel(y_true)
    tprec = (torch.sum(torch.multiply(skel_pred, y_true)) + smooth) / (torch.sum(skel_pred) + smooth)
    tsens = (torch.sum(torch.multiply(skel_true, y_pred)) + smooth) / (torch.sum(skel_true) + smooth)
    return 1.0 - 2.0 * (tprec * tsens) / (tprec + tsens)


def authors_soft_cldice(y_true, y_pred, exclude_background):
    if exclude_background:
        y_true, y_pred = y_true[:, 1:, :, :], y_pred[:, 1:, :, :]
    return authors_cldice_term(y_true, y_pred)


def authors_soft_dice_cldice(y_true, y_pred, exclude_background, alpha=0.5):
    if exclude_background:
        y_true, y_pred = y_true[:, 1:, :, :], y_pred[:, 1:, :, :]
    smooth = 1
    intersection = torch.sum(y_true * y_pred)
    dice = 1.0 - (2.0 * intersection + smooth) / (torch.sum(y_true) + torch.sum(y_pred) + smooth)
    return (1.0 - alpha) * dice + alpha * authors_cldice_term(y_true, y_pred)


# ---- inputs: thin random structures (a few lines) so that the skeletons are not empty
def tubes(shape, gen):
    """Binary target ``(B, 1, *spatial)``: per image two axis-aligned lines, 1-2 voxels wide, plus noise."""
    b, _, *spatial = shape
    t = (torch.rand((b, 1, *spatial), generator=gen) < 0.05).double()
    for i in range(b):
        for axis in range(len(spatial)):
            idx = [i, 0] + [int(torch.randint(1, s - 2, (1,), generator=gen)) for s in spatial]
            idx[2 + axis] = slice(None)
            t[tuple(idx)] = 1
    return t


def case(mode, ndim, name):
    gen = torch.Generator().manual_seed(seed_of(mode, ndim, name))
    spatial = (12, 11) if ndim == 2 else (9, 8, 7)
    labels = tubes((2, 1, *spatial), gen)
    channels = 1 if mode == "sigmoid" else 2
    x = (2 * torch.randn((2, channels, *spatial), generator=gen, dtype=torch.float64) + 3 * labels).requires_grad_()
    if mode == "sigmoid":
        return x, labels, ref_sigmoid(x), labels
    return x, labels.long(), ref_softmax(x), ref_one_hot(labels.long(), 2)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
@pytest.mark.parametrize("name", ["cldice", "dice_cldice"])
def test_value_and_gradient_match_the_authors_code(name, mode, ndim):
    x, target, p, g = case(mode, ndim, name)
    softmax = mode == "softmax"
    kwargs = {"softmax": True, "to_onehot_y": True} if softmax else {"sigmoid": True}
    ours = build_loss(name, batch=True, include_background=not softmax, compile=False, **kwargs)
    authors = authors_soft_cldice if name == "cldice" else authors_soft_dice_cldice
    want = authors(g, p, exclude_background=softmax)
    got = ours(x, target)
    (want_grad,) = torch.autograd.grad(want, x)
    (got_grad,) = torch.autograd.grad(got, x)
    assert 0.01 < want.item() < 1  # a case where the loss is neither 0 nor saturated
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ndim", [2, 3])
def test_per_image_values_match_monai(ndim):
    """MONAI's SoftclDiceLoss sums over the channels and voxels per image, adding ``smooth`` (> 0 required) to the
    harmonic mean's denominator: with one channel and ``smooth`` 1e-300 it is our per-(b, c) value."""
    x, target, _, _ = case("sigmoid", ndim, "monai")
    ours = ClDiceLoss(sigmoid=True, iterations=3, reduction="none", compile=False)
    theirs = monai_losses.SoftclDiceLoss(iter_=3, smooth=1e-300, sigmoid=True, reduction="none")
    got, want = ours(x, target), theirs(x, target)
    (got_grad,) = torch.autograd.grad(got.sum(), x)
    (want_grad,) = torch.autograd.grad(want.sum(), x)
    assert got.shape == (2, 1)
    torch.testing.assert_close(got[:, 0], want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-10, atol=1e-12)


def test_skeleton_of_a_one_voxel_line_is_the_line_and_perfect_prediction_scores_zero():
    """By hand: a line one voxel wide erodes to nothing, so it is its own skeleton; with ``p = g`` both topology
    ratios are (n + 1) / (n + 1) = 1 and the loss is 0."""
    line = torch.zeros(1, 1, 7, 7, dtype=torch.float64)
    line[0, 0, 3, 1:6] = 1
    assert torch.equal(soft_skeleton(line, 10), line)
    assert ClDiceLoss(compile=False)(line, line).item() == 0.0
    assert DiceClDiceLoss(compile=False)(line, line).item() == 0.0


def test_missed_line_by_hand():
    """Target the 5-voxel line, prediction empty: Tprec = (0 + 1) / (0 + 1) = 1, Tsens = (0 + 1) / (5 + 1) = 1/6,
    loss = 1 - 2 (1/6) / (7/6) = 5/7."""
    line = torch.zeros(1, 1, 7, 7, dtype=torch.float64)
    line[0, 0, 3, 1:6] = 1
    got = ClDiceLoss(compile=False)(torch.zeros_like(line), line)
    torch.testing.assert_close(got, torch.tensor(5 / 7, dtype=torch.float64))


def test_bad_input_and_arguments_raise_clearly():
    with pytest.raises(LossInputError, match="1D, 2D or 3D"):
        ClDiceLoss(sigmoid=True, compile=False)(torch.randn(1, 1, 2, 2, 2, 2), torch.ones(1, 1, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="iterations"):
        ClDiceLoss(iterations=-1)
    with pytest.raises(ValueError, match="alpha"):
        DiceClDiceLoss(alpha=1.5)
