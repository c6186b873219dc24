"""The fast paths of issue 6 that compute a loss's voxel sums straight from the logits (or probabilities) with a
hand-written gradient, against a second computation of the same formula (float64):

- the focal loss (``scripts/losses/_focal_terms.py``) against MONAI's own ``FocalLoss`` functions
  (``sigmoid_focal_loss`` / ``softmax_focal_loss``), for the exponents the code treats apart (0, 1, 2 where
  ``pow`` squares, 0.5 where it takes a square root) and a generic one, every form of ``alpha``, hard and soft
  targets;
- the Unified Focal family on sigmoid logits (``_unified_focal_logits.py``) and on softmax probabilities
  (``_unified_focal_softmax.py``), the Dice + focal loss on sigmoid logits and on softmax probabilities, and the
  exponential logarithmic loss on sigmoid logits, against the generic log-space path differentiated by
  autograd (taken when the target requires grad), for exponents and channel counts beyond the defaults that
  ``test_losses_chunked`` checks; in sigmoid mode with soft targets and with binary ones (one term per voxel).
"""

from __future__ import annotations

import pytest
import torch
from monai.losses.focal_loss import sigmoid_focal_loss, softmax_focal_loss

from scripts.losses import CheckedFocalLoss, _chunked, build_loss
from scripts.losses._activation import LazyPrims, others_sum

GAMMAS = [0.0, 0.5, 1.0, 2.0, 2.7]
ALPHAS = [None, 0.25, [0.3, 0.6, 0.9]]


@pytest.fixture(autouse=True)
def tiny_slices(monkeypatch):
    monkeypatch.setitem(_chunked.CHUNK_ELEMENTS, "cpu", 70)


def logits(channels, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(2, channels, 3, 4, 5, generator=gen, dtype=torch.float64)
    x[0, :2, 0, 0, 0] = torch.tensor([40.0, -40.0], dtype=torch.float64)  # saturated
    x[1, :2, 0, 0, 0] = torch.tensor([16.0, -17.0], dtype=torch.float64)  # near the clip of 1e-7
    return x, gen


def value_and_grad(loss, x, target, weights):
    leaf = x.clone().requires_grad_()
    value = loss(leaf, target)
    (value * weights).sum().backward()
    return value.detach(), leaf.grad


@pytest.mark.parametrize("alpha", ALPHAS, ids=["none", "scalar", "per_channel"])
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("soft", [False, True], ids=["binary", "soft"])
@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
def test_focal_equals_monai_functions(mode, soft, gamma, alpha):
    x, gen = logits(3)
    if mode == "sigmoid":
        target = torch.rand(x.shape, generator=gen, dtype=torch.float64)
        target = target if soft else (target < 0.3).double()
    elif soft:
        target = torch.softmax(torch.randn(x.shape, generator=gen, dtype=torch.float64), 1)
    else:
        target = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 3, 4, 5), generator=gen), 3)
        target = target.permute(0, 4, 1, 2, 3).double()
    monai_alpha = torch.tensor(alpha, dtype=torch.float64) if isinstance(alpha, list) else alpha
    monai_fn = sigmoid_focal_loss if mode == "sigmoid" else softmax_focal_loss
    weights = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)  # per channel: checks each channel's gradient
    loss = CheckedFocalLoss(**{mode: True}, gamma=gamma, alpha=alpha, reduction="none")
    value, grad = value_and_grad(loss, x, target, weights)
    leaf = x.clone().requires_grad_()
    want = monai_fn(leaf, target, gamma, monai_alpha).mean(dim=(2, 3, 4))
    (want * weights).sum().backward()
    torch.testing.assert_close(value, want.detach(), rtol=1e-12, atol=1e-15)
    # MONAI's autograd of (1 - p)^gamma can give 0 * inf = NaN at a saturated voxel (p = 1) for gamma < 1, where
    # the derivative is 0; ours is finite everywhere and equal wherever MONAI's is finite
    assert torch.isfinite(grad).all()
    finite = torch.isfinite(leaf.grad)
    assert finite.all() or (mode == "softmax" and gamma < 1)
    torch.testing.assert_close(grad[finite], leaf.grad[finite], rtol=1e-10, atol=1e-15)


def test_focal_float32_equals_monai_module():
    """The catalogue's settings in float32 against MONAI's module itself (which computes in float32)."""
    from monai.losses import FocalLoss

    x, gen = logits(3)
    target = (torch.rand(x.shape, generator=gen) < 0.3).float()
    ours = CheckedFocalLoss(sigmoid=True, gamma=2.0, alpha=0.25)(x.float(), target)
    theirs = FocalLoss(gamma=2.0, alpha=0.25)(x.float(), target)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-8)


UNIFIED = [
    "symmetric_focal",
    "asymmetric_focal",
    "symmetric_focal_tversky",
    "asymmetric_focal_tversky",
    "symmetric_unified_focal",
    "asymmetric_unified_focal",
]


def fast_and_generic(name, flags, x, target):
    """(value, grad) of the fast path, and of the generic log-space path (a target that requires grad sends the
    loss through autograd end to end)."""
    loss = build_loss(name, **flags, reduction="sum")
    fast = value_and_grad(loss, x, target, 1.0)
    generic = value_and_grad(loss, x, target.clone().requires_grad_(), 1.0)
    return fast, generic


def gamma_for(name, gamma):
    # the focal Tversky exponent is 1 - gamma with gamma in [0, 1]: the exponents 1, 0.5, 0.25 and 0.1
    return gamma if "tversky" not in name and "unified" not in name else min(gamma, 0.9)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.75, 1.0, 2.0])
@pytest.mark.parametrize("background", [True, False])
@pytest.mark.parametrize("name", UNIFIED)
def test_unified_on_sigmoid_logits_equals_generic_path(name, background, gamma):
    x, gen = logits(3, seed=1)
    target = torch.rand(x.shape, generator=gen, dtype=torch.float64)
    flags = {"sigmoid": True, "include_background": background, "gamma": gamma_for(name, gamma)}
    for t in (target, (target < 0.3).double()):
        (value, grad), (want, want_grad) = fast_and_generic(name, flags, x, t)
        torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(grad, want_grad, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.75, 2.0])
@pytest.mark.parametrize("channels", [2, 3, 4])
@pytest.mark.parametrize("name", UNIFIED)
def test_unified_on_softmax_equals_generic_path(name, channels, gamma):
    x, gen = logits(channels, seed=2)
    labels = torch.randint(0, channels, (2, 1, 3, 4, 5), generator=gen).double()
    soft = torch.softmax(torch.randn(x.shape, generator=gen, dtype=torch.float64), 1)
    g = gamma_for(name, gamma)
    for target, flags in ((labels, {"to_onehot_y": True}), (soft, {})):
        (value, grad), (want, want_grad) = fast_and_generic(name, {"softmax": True, "gamma": g, **flags}, x, target)
        torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(grad, want_grad, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("gamma_cross", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("background", [True, False])
def test_exp_log_on_sigmoid_logits_equals_generic_path(background, gamma_cross):
    x, gen = logits(3, seed=3)
    target = torch.rand(x.shape, generator=gen, dtype=torch.float64)
    flags = {"sigmoid": True, "include_background": background, "gamma_cross": gamma_cross}
    for t in (target, (target < 0.3).double()):
        (value, grad), (want, want_grad) = fast_and_generic("exp_log", flags, x, t)
        torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(grad, want_grad, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("channels", [2, 3, 5])
def test_others_sum_is_one_minus_p_without_cancellation(channels):
    gen = torch.Generator().manual_seed(channels)
    p = torch.softmax(4 * torch.randn(2, channels, 50, generator=gen, dtype=torch.float64), 1)
    want = torch.stack([p.sum(1) - p[:, c] for c in range(channels)], 1)
    torch.testing.assert_close(others_sum(p), want, rtol=1e-12, atol=1e-15)
    # near p_c = 1 the sum of the others keeps its relative precision (1 - p_c would be 0 here in float32)
    x = torch.tensor([[[30.0], [0.0], [-1.0]]])[:, :channels] if channels == 3 else None
    if x is not None:
        q = others_sum(torch.softmax(x, 1))
        exact = torch.exp(torch.logsumexp(x.double()[:, 1:], 1) - torch.logsumexp(x.double(), 1))
        torch.testing.assert_close(q[:, 0].double(), exact, rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 2.5])
@pytest.mark.parametrize("background", [True, False])
def test_dice_focal_on_sigmoid_logits_equals_generic_path(background, gamma):
    x, gen = logits(3, seed=4)
    target = torch.rand(x.shape, generator=gen, dtype=torch.float64)
    flags = {"sigmoid": True, "include_background": background, "gamma": gamma}
    for t in (target, (target < 0.3).double()):
        (value, grad), (want, want_grad) = fast_and_generic("dice_focal", flags, x, t)
        torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(grad, want_grad, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("gamma", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("channels", [2, 3, 4])
@pytest.mark.parametrize("background", [True, False])
def test_dice_focal_on_softmax_equals_generic_path(background, channels, gamma):
    x, gen = logits(channels, seed=5)
    labels = torch.randint(0, channels, (2, 1, 3, 4, 5), generator=gen).double()
    soft = torch.softmax(torch.randn(x.shape, generator=gen, dtype=torch.float64), 1)
    for target, flags in ((labels, {"to_onehot_y": True}), (soft, {})):
        flags = {"softmax": True, "gamma": gamma, "include_background": background, **flags}
        (value, grad), (want, want_grad) = fast_and_generic("dice_focal", flags, x, target)
        torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(grad, want_grad, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("name", ["combo", "bce", "bce_dice"])
@pytest.mark.parametrize("saturated", [False, True])
def test_log1m_softmax_from_probabilities_equals_log_sum_exp_form(name, saturated):
    """``log(1 - p_c)`` in softmax mode is ``log(sum_{k != c} p_k)``; where such a sum underflows (logits apart
    by 1e3 in float32) the slice takes the log-sum-exp form. Both against autograd through the log-sum-exp form."""
    x, gen = logits(3, seed=6)
    x = x.float()
    if saturated:
        x[1, :, 1, 1, 1] = torch.tensor([1e3, -1e3, 0.0])
    assert (LazyPrims(x.flatten(2), "softmax").one_minus_p is None) == saturated
    labels = torch.randint(0, 3, (2, 1, 3, 4, 5), generator=gen).float()
    (value, grad), (want, want_grad) = fast_and_generic(name, {"softmax": True, "to_onehot_y": True}, x, labels)
    torch.testing.assert_close(value, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("gamma_cross", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("channels", [2, 3, 4])
@pytest.mark.parametrize("background", [True, False])
def test_exp_log_on_softmax_labels_equals_generic_path(background, channels, gamma_cross):
    """Labels made one-hot: one power per voxel, of its label's -ln p (vs every channel's power times g)."""
    x, gen = logits(channels, seed=7)
    labels = torch.randint(0, channels, (2, 1, 3, 4, 5), generator=gen).double()
    flags = {"softmax": True, "to_onehot_y": True, "include_background": background, "gamma_cross": gamma_cross}
    (value, grad), (want, want_grad) = fast_and_generic("exp_log", flags, x, labels)
    torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(grad, want_grad, rtol=1e-8, atol=1e-14)
