"""Combo's ``beta`` and sensitivity-specificity's ``r`` act as their papers define them in every mode
(docs/losses.md): on the foreground's positives and on sensitivity. With two softmax channels and the background
included they used to cancel out (channel 0's one-vs-rest term mirrored channel 1's).

The references are numpy transcriptions of the papers' binary formulas, applied to each foreground problem;
the categorical background is the complement problem (its positives are the foreground's negatives)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scripts.losses import build_loss


def reproducer():
    torch.manual_seed(0)
    return torch.randn(2, 2, 8, 8), torch.randint(0, 2, (2, 1, 8, 8))


@pytest.mark.parametrize(("name", "arg"), [("combo", "beta"), ("sensitivity_specificity", "r")])
def test_issue_reproducer_weight_changes_the_binary_softmax_loss(name, arg):
    x, y = reproducer()
    values = [build_loss(name, softmax=True, to_onehot_y=True, **{arg: w})(x, y).item() for w in (0.1, 0.5, 0.9)]
    assert len({round(v, 6) for v in values}) == 3, values


def np_wbce(p, g, beta):
    """Taghanaki et al. 2019: -mean[beta g ln p + (1 - beta)(1 - g) ln(1 - p)] of one binary problem per sample."""
    axes = tuple(range(1, p.ndim))
    return -(beta * g * np.log(p) + (1 - beta) * (1 - g) * np.log(1 - p)).mean(axes)


def np_sens_spec(p, g, r, s=1e-5):
    """Brosch et al. 2015, eq. 2, of one binary problem per sample."""
    axes = tuple(range(1, p.ndim))
    sq = (g - p) ** 2
    return r * (sq * g).sum(axes) / (g.sum(axes) + s) + (1 - r) * (sq * (1 - g)).sum(axes) / ((1 - g).sum(axes) + s)


def per_problem(probs, onehot, fn, w, categorical):
    """The mean over samples and channels of ``fn`` per binary problem; the categorical background takes 1 - w."""
    terms = [fn(probs[:, c], onehot[:, c], 1 - w if categorical and c == 0 else w) for c in range(probs.shape[1])]
    return float(np.mean(terms))


def softmax_np(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


CASES = {
    "sigmoid": (3, {"sigmoid": True}),
    "binary_softmax": (2, {"softmax": True, "to_onehot_y": True}),
    "multiclass_softmax": (4, {"softmax": True, "to_onehot_y": True}),
}


@pytest.mark.parametrize("w", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_act_as_the_papers_define_them(case, w):
    n, kwargs = CASES[case]
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, n, 6, 5, 4, dtype=torch.float64, generator=gen)
    if kwargs.get("softmax"):
        labels = torch.randint(0, n, (2, 1, 6, 5, 4), generator=gen)
        target = labels
        onehot = np.eye(n)[labels[:, 0].numpy()].transpose(0, 4, 1, 2, 3)
        probs = softmax_np(x.numpy())
    else:
        target = (torch.rand(2, n, 6, 5, 4, generator=gen, dtype=torch.float64) < 0.3).double()
        onehot = target.numpy()
        probs = 1 / (1 + np.exp(-x.numpy()))
    categorical = bool(kwargs.get("softmax"))
    combo_ce = build_loss("combo", alpha=1.0, beta=w, **kwargs)(x, target).item()  # alpha = 1: the wBCE alone
    assert combo_ce == pytest.approx(per_problem(probs, onehot, np_wbce, w, categorical), rel=1e-10)
    sens_spec = build_loss("sensitivity_specificity", r=w, **kwargs)(x, target).item()
    assert sens_spec == pytest.approx(per_problem(probs, onehot, np_sens_spec, w, categorical), rel=1e-10)


def test_binary_softmax_with_background_is_the_papers_binary_loss_of_the_foreground():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(3, 2, 7, 7, dtype=torch.float64, generator=gen)
    labels = torch.randint(0, 2, (3, 1, 7, 7), generator=gen)
    p1, g1 = torch.softmax(x, 1)[:, 1].numpy(), labels[:, 0].double().numpy()
    for w in (0.2, 0.7):
        combo = build_loss("combo", alpha=1.0, beta=w, softmax=True, to_onehot_y=True)(x, labels).item()
        assert combo == pytest.approx(float(np_wbce(p1, g1, w).mean()), rel=1e-10)
        ss = build_loss("sensitivity_specificity", r=w, softmax=True, to_onehot_y=True, reduction="none")(x, labels)
        want = np_sens_spec(p1, g1, w)
        # both channels hold the foreground's binary loss: channel 0 is its complement problem with r swapped
        np.testing.assert_allclose(ss[:, 1].numpy(), want, rtol=1e-10)
        np.testing.assert_allclose(ss[:, 0].numpy(), want, rtol=1e-10)
