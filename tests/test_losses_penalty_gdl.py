"""``penalty_gdl`` (Yang et al., MIDL 2019) against SegLossOdyssey's ``PenaltyGDiceLoss``, transcribed.

Reference: github.com/JunMa11/SegLossOdyssey, commit d562441a3bb9d0968f9dae67af705f2ca0872b02,
``losses_pytorch/dice_loss.py`` (``GDiceLoss``, ``PenaltyGDiceLoss``), in float64. The authors' ``GDiceLoss``
returns ``-2 (I + s) / (U + s)`` (minus the score) where the paper's ``GD`` is the loss ``1 - score``; the
transcription below takes the corrected line (``1 + divided``) and is compared per sample (the authors apply
the penalty once to the batch mean: equal for one sample, tested). Its numerator ``2 (I + s)`` is ours with
``smooth_nr = 2 s``, ``smooth_dr = s``.
"""

from __future__ import annotations

import pytest
import torch

from scripts.losses import build_loss
from tests.loss_references import ref_one_hot, ref_softmax

SMOOTH = 1e-5


def authors_gdl_per_sample(net_output, y_onehot, corrected=True):
    """``GDiceLoss.forward`` after the softmax, per sample (before its ``divided.mean()``)."""
    w = 1 / (y_onehot.sum(tuple(range(2, y_onehot.ndim))) + 1e-10) ** 2
    axes = tuple(range(2, net_output.ndim))
    intersection = w * (net_output * y_onehot).sum(axes)
    union = w * (net_output.sum(axes) + y_onehot.sum(axes))
    divided = -2 * (intersection.sum(1) + SMOOTH) / (union.sum(1) + SMOOTH)
    return 1 + divided if corrected else divided  # the authors' line: ``divided`` (minus the score)


def authors_penalty(gdc_loss, k=2.5):
    return gdc_loss / (1 + k * (1 - gdc_loss))


def inputs(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    x = (2 * torch.randn(shape, generator=gen, dtype=torch.float64)).requires_grad_()
    labels = torch.randint(0, shape[1], (shape[0], 1, *shape[2:]), generator=gen)
    return x, labels


@pytest.mark.parametrize("shape", [(1, 3, 6, 5, 4), (3, 4, 7, 6), (2, 2, 5, 5, 5)], ids=["3d-b1", "2d-b3", "3d-b2"])
@pytest.mark.parametrize("k", [2.5, 0.0, 1.0])
def test_value_and_gradient_equal_the_authors_corrected_code(shape, k):
    x, labels = inputs(shape, seed=len(shape) + int(10 * k))
    loss = build_loss(
        "penalty_gdl", softmax=True, to_onehot_y=True, k=k, smooth_nr=2 * SMOOTH, smooth_dr=SMOOTH, reduction="none"
    )
    ours = loss(x, labels).reshape(-1)
    (g_ours,) = torch.autograd.grad((ours * torch.arange(1.0, 1 + ours.numel(), dtype=ours.dtype)).sum(), x)
    want = authors_penalty(authors_gdl_per_sample(ref_softmax(x), ref_one_hot(labels, shape[1])), k)
    (g_want,) = torch.autograd.grad((want * torch.arange(1.0, 1 + want.numel(), dtype=want.dtype)).sum(), x)
    torch.testing.assert_close(ours, want, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(g_ours, g_want, rtol=1e-7, atol=1e-12)
    mean = build_loss("penalty_gdl", softmax=True, to_onehot_y=True, k=k, smooth_nr=2 * SMOOTH, smooth_dr=SMOOTH)
    torch.testing.assert_close(mean(x, labels), want.mean(), rtol=1e-9, atol=1e-12)
    if shape[0] == 1:  # the authors' batch-mean placement: the same for one sample
        whole = authors_penalty(authors_gdl_per_sample(ref_softmax(x), ref_one_hot(labels, shape[1])).mean(), k)
        torch.testing.assert_close(mean(x, labels), whole, rtol=1e-9, atol=1e-12)


def test_the_authors_uncorrected_line_is_another_loss():
    """The authors' ``divided`` is minus the score: their penalty is negative and falls as the overlap grows
    through a different curve; the corrected one is >= 0 and is 0 at a perfect prediction."""
    x, labels = inputs((1, 3, 6, 5, 4), seed=3)
    p, g = ref_softmax(x), ref_one_hot(labels, 3)
    uncorrected = authors_penalty(authors_gdl_per_sample(p, g, corrected=False))
    assert float(uncorrected) < 0
    ours = build_loss("penalty_gdl", softmax=True, to_onehot_y=True, smooth_nr=2 * SMOOTH, smooth_dr=SMOOTH)
    assert float(ours(x, labels)) > 0
    perfect = 50.0 * (2 * g - 1)
    default = build_loss("penalty_gdl", softmax=True, to_onehot_y=True)
    assert float(default(perfect, labels)) == pytest.approx(0.0, abs=1e-9)


def test_by_hand_and_k_zero_is_gdl():
    # sigmoid-free 2 classes, 3 voxels, probabilities given: GD = 1 - 2.35 / 3.225 (test_loss_catalogue's case)
    p = torch.tensor([[[0.9, 0.6, 0.2], [0.1, 0.4, 0.8]]], dtype=torch.float64)
    g = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    zero = {"smooth_nr": 0.0, "smooth_dr": 0.0}
    gd = 1 - 2.35 / 3.225
    assert float(build_loss("penalty_gdl", **zero)(p, g)) == pytest.approx(gd / (1 + 2.5 * (1 - gd)), rel=1e-12)
    assert float(build_loss("penalty_gdl", k=0.0, **zero)(p, g)) == pytest.approx(gd, rel=1e-12)
