"""``asymmetric_similarity`` (Hashemi et al., IEEE Access 2018) against SegLossOdyssey's ``AsymLoss``, transcribed.

Reference: github.com/JunMa11/SegLossOdyssey, commit d562441a3bb9d0968f9dae67af705f2ca0872b02,
``losses_pytorch/dice_loss.py`` (``AsymLoss`` with ``get_tp_fp_fn``, ``square=False``), in float64. It returns
``-mean F_beta``; ours ``1 - F_beta``: the values differ by 1, the gradients are equal.
"""

from __future__ import annotations

import pytest
import torch

from scripts.losses import build_loss
from tests.loss_references import ref_one_hot, ref_sigmoid, ref_softmax


def authors_asym(x, y_onehot, batch_dice=False, do_bg=True, smooth=1.0, beta=1.5):
    axes = ([0] if batch_dice else []) + list(range(2, x.ndim))
    tp = (x * y_onehot).sum(axes)
    fp = (x * (1 - y_onehot)).sum(axes)
    fn = ((1 - x) * y_onehot).sum(axes)
    weight = (beta**2) / (1 + beta**2)
    asym = (tp + smooth) / (tp + weight * fn + (1 - weight) * fp + smooth)
    if not do_bg:
        asym = asym[1:] if batch_dice else asym[:, 1:]
    return -asym.mean()


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("mode, shape", [("softmax", (2, 3, 6, 5, 4)), ("sigmoid", (3, 2, 7, 6))], ids=["3d", "2d"])
def test_value_and_gradient_equal_the_authors_code(mode, shape, include_background, batch):
    gen = torch.Generator().manual_seed(len(shape) + 2 * batch + include_background)
    x = (2 * torch.randn(shape, generator=gen, dtype=torch.float64)).requires_grad_()
    if mode == "softmax":
        target = torch.randint(0, shape[1], (shape[0], 1, *shape[2:]), generator=gen)
        g, p = ref_one_hot(target, shape[1]), ref_softmax(x)
        kwargs = {"softmax": True, "to_onehot_y": True}
    else:
        target = (torch.rand(shape, generator=gen) < 0.3).double()
        g, p = target, ref_sigmoid(x)
        kwargs = {"sigmoid": True}
    loss = build_loss("asymmetric_similarity", **kwargs, include_background=include_background, batch=batch)
    ours = loss(x, target)
    (g_ours,) = torch.autograd.grad(ours, x)
    want = authors_asym(p, g, batch_dice=batch, do_bg=include_background)
    (g_want,) = torch.autograd.grad(want, x)
    torch.testing.assert_close(ours, 1 + want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_ours, g_want, rtol=1e-8, atol=1e-12)


def test_by_hand_beta_weights_false_negatives():
    # one channel, 3 voxels: TP = 0.9 + 0.6 = 1.5, FP = 0.2, FN = 0.1 + 0.4 = 0.5; beta = 1.5: w_fn = 2.25 / 3.25
    p = torch.tensor([[[0.9, 0.6, 0.2]]], dtype=torch.float64)
    g = torch.tensor([[[1.0, 1.0, 0.0]]], dtype=torch.float64)
    zero = {"smooth_nr": 0.0, "smooth_dr": 0.0}
    want = 1 - 1.5 / (1.5 + 2.25 / 3.25 * 0.5 + 1 / 3.25 * 0.2)
    assert float(build_loss("asymmetric_similarity", **zero)(p, g)) == pytest.approx(want, rel=1e-12)
    # beta = 1: the Dice loss 1 - 2TP / (2TP + FP + FN)
    dice = 1 - 3.0 / (3.0 + 0.2 + 0.5)
    assert float(build_loss("asymmetric_similarity", beta=1.0, **zero)(p, g)) == pytest.approx(dice, rel=1e-12)
