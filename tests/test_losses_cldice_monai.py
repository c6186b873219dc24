"""The drop-ins ``scripts.losses.SoftclDiceLoss`` / ``SoftDiceclDiceLoss`` against MONAI 1.6.1's classes (value,
``reduction="none"`` shape and input gradient, many flag combinations) and MONAI's own test cases for them
(MONAI 1.5.0, ``tests/losses/test_cldice_loss.py``, commit d388d1c6, transcribed below: data only)."""

from __future__ import annotations

import inspect
import warnings

import monai.losses
import pytest
import torch

from scripts.losses import SoftclDiceLoss, SoftDiceclDiceLoss

OURS = {"SoftclDiceLoss": SoftclDiceLoss, "SoftDiceclDiceLoss": SoftDiceclDiceLoss}

# MONAI 1.5.0 tests/losses/test_cldice_loss.py TEST_CASES: ones vs ones -> 0 (atol = rtol = 1e-4), both classes
MONAI_OWN_CASES = [((7, 3, 11, 10), 0.0), ((2, 3, 13, 14, 5), 0.0)]


@pytest.mark.parametrize("name", sorted(OURS))
@pytest.mark.parametrize(("shape", "expected"), MONAI_OWN_CASES, ids=str)
def test_monai_own_cases(name, shape, expected):
    with pytest.warns(FutureWarning, match="y_pred / y_true are deprecated"):  # MONAI's test uses the 1.4 names
        got = OURS[name](compile=False)(y_pred=torch.ones(shape), y_true=torch.ones(shape))
    torch.testing.assert_close(got.item(), expected, atol=1e-4, rtol=1e-4)


def test_signatures_are_monais():
    for name, cls in OURS.items():
        ours = inspect.signature(cls.__init__).parameters
        theirs = inspect.signature(getattr(monai.losses, name).__init__).parameters
        assert [(p.name, p.default) for p in theirs.values()] == [
            (p.name, p.default) for p in ours.values() if p.name != "compile"
        ]


def inputs(kind: str, shape, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(shape, generator=gen, dtype=torch.float64)
    if kind == "labels":
        return x, torch.randint(0, shape[1], (shape[0], 1, *shape[2:]), generator=gen).double()
    # tube-like binary targets: a few lines, so that the skeletons are not empty
    g = torch.zeros(shape, dtype=torch.float64)
    g[..., 2:-2, shape[3] // 2] = 1
    g[:, :, shape[2] // 2] = 1
    return x, torch.maximum(g, (torch.rand(shape, generator=gen) < 0.1).double())


CASES = [
    ({}, "binary", (2, 1, 12, 10)),
    ({"sigmoid": True}, "binary", (2, 3, 12, 10, 8)),
    ({"sigmoid": True, "reduction": "none"}, "binary", (3, 2, 12, 10)),
    ({"sigmoid": True, "reduction": "sum", "iter_": 5}, "binary", (2, 2, 10, 9, 8)),
    ({"softmax": True, "to_onehot_y": True}, "labels", (2, 3, 12, 10)),
    ({"softmax": True, "to_onehot_y": True, "include_background": False}, "labels", (2, 3, 10, 9, 8)),
    ({"other_act": torch.tanh, "smooth": 1e-2, "smooth_nr": 0.5, "smooth_dr": 2.0}, "binary", (2, 2, 12, 10)),
    ({"sigmoid": True, "iter_": 0}, "binary", (2, 1, 12, 10)),
]
DICE_ONLY = [({"sigmoid": True, "alpha": 0.3}, "binary", (2, 2, 12, 10)), ({"alpha": 1.0}, "binary", (2, 1, 9, 9))]


PAIRS = [(name, *case) for name in sorted(OURS) for case in CASES] + [("SoftDiceclDiceLoss", *c) for c in DICE_ONLY]


@pytest.mark.parametrize(("name", "kwargs", "kind", "shape"), PAIRS, ids=lambda v: str(v)[:40])
def test_equals_monai(name, kwargs, kind, shape):
    x, target = inputs(kind, shape, seed=len(shape) + len(kwargs))
    results = []
    for cls in (getattr(monai.losses, name), OURS[name]):
        xi = x.clone().requires_grad_()
        extra = {} if cls is getattr(monai.losses, name) else {"compile": False}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            value = cls(**kwargs, **extra)(xi, target)
        value.sum().backward()
        results.append((value.detach(), xi.grad))
    (want, want_grad), (got, got_grad) = results
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-10, atol=1e-12)


def test_compiled_default_equals_monai():
    x, target = inputs("binary", (2, 2, 10, 9, 8), seed=3)
    for name, cls in OURS.items():
        want = getattr(monai.losses, name)(sigmoid=True)(x, target)
        torch.testing.assert_close(cls(sigmoid=True)(x, target), want, rtol=1e-10, atol=1e-12)


def test_per_image_formula_by_hand():
    """A one-voxel-wide line in a 1 x 5 image is its own skeleton: with p = g = the line, Tprec = Tsens = 1 and
    loss = 1 - 2 / (2 + smooth); an empty prediction gives Tprec = (0 + 1) / (0 + 1) = 1, Tsens = (0 + 1) / (5 + 1)."""
    line = torch.zeros(1, 1, 3, 7, dtype=torch.float64)
    line[0, 0, 1, 1:6] = 1
    loss = SoftclDiceLoss(smooth=1e-4, compile=False)
    assert loss(line, line).item() == pytest.approx(1 - 2 / (2 + 1e-4), rel=1e-12)
    tprec, tsens = 1.0, 1 / 6
    want = 1 - 2 * tprec * tsens / (tprec + tsens + 1e-4)
    assert loss(torch.zeros_like(line), line).item() == pytest.approx(want, rel=1e-12)


def test_bad_alpha_and_shapes_raise():
    with pytest.raises(ValueError, match="alpha"):
        SoftDiceclDiceLoss(alpha=1.5)
    with pytest.raises(ValueError, match="same number of dims"):
        SoftDiceclDiceLoss(compile=False)(torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4))
