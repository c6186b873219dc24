"""Class-balanced weights by the effective number of samples (Cui et al., CVPR 2019) against the authors' lines
(github richardaecn/class-balanced-loss 1d78572, ``src/cifar_main.py`` 428-430, numpy, transcribed below), and the
weighted cross-entropy with them against a numpy computation; the focal loss takes them as its ``weight``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scripts.losses import build_loss
from scripts.losses.class_balanced import PAPER_BETAS, effective_number_weights


def authors_weights(img_num_per_cls, beta):
    effective_num = 1.0 - np.power(beta, img_num_per_cls)
    weights = (1.0 - beta) / np.array(effective_num)
    return weights / np.sum(weights) * len(img_num_per_cls)


@pytest.mark.parametrize("beta", PAPER_BETAS)
def test_weights_equal_the_authors(beta):
    counts = [5000.0, 400.0, 37.0, 2.0]
    np.testing.assert_allclose(effective_number_weights(counts, beta).numpy(), authors_weights(counts, beta), 1e-12)


def test_weights_by_hand_and_edges():
    # beta 0.99, counts (1000, 10): w = 0.01 / (1 - 0.99^1000), 0.01 / (1 - 0.99^10) = 0.0100004, 0.1045826
    w0, w1 = 0.01 / (1 - 0.99**1000), 0.01 / (1 - 0.99**10)
    torch.testing.assert_close(
        effective_number_weights([1000.0, 10.0], 0.99),
        torch.tensor([w0, w1], dtype=torch.float64) * 2 / (w0 + w1),
    )
    torch.testing.assert_close(effective_number_weights([7.0, 0.0, 3.0], 0.0), torch.ones(3, dtype=torch.float64))
    assert torch.isfinite(effective_number_weights([0.0, 10.0], 0.9999)).all()  # an absent class: count 1
    with pytest.raises(ValueError, match="beta"):
        effective_number_weights([1.0, 2.0], 1.0)


def numpy_log_softmax(x):
    x = x - x.max(1, keepdims=True)
    return x - np.log(np.exp(x).sum(1, keepdims=True))


@pytest.mark.parametrize("counts", [None, [900.0, 60.0, 8.0]], ids=["batch_counts", "data_set_counts"])
def test_categorical_wce_equals_numpy(counts):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 7, 6, 5, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 1, 7, 6, 5), generator=gen)
    labels[labels == 2] = torch.randint(0, 2, (int((labels == 2).sum()),), generator=gen)  # class 2 rare
    labels[0, 0, 0, 0, 0] = 2
    onehot = np.eye(3)[labels[:, 0].numpy()].transpose(0, 4, 1, 2, 3)
    n_c = onehot.sum((0, 2, 3, 4)) if counts is None else np.array(counts)
    w = authors_weights(np.maximum(n_c, 1), 0.999)
    want = -(w[None, :, None, None, None] * onehot * numpy_log_softmax(x.numpy())).sum(1).mean()
    kwargs = {"softmax": True, "to_onehot_y": True, "beta": 0.999, "class_counts": counts, "compile": False}
    got = build_loss("wce", **kwargs)(x, labels)
    assert got.item() == pytest.approx(want, rel=1e-12)


def test_per_channel_wce_equals_numpy_with_negatives_and_positives_as_classes():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 2, 6, 6, generator=gen, dtype=torch.float64)
    g = (torch.rand(x.shape, generator=gen) < 0.1).double()
    pos = g.sum((0, 2, 3)).numpy()
    total = 2 * 6 * 6
    want = 0.0
    for c in range(2):
        w_neg, w_pos = authors_weights(np.array([total - pos[c], pos[c]]), 0.99)
        xc, gc = x[:, c].numpy(), g[:, c].numpy()
        logp, log1mp = -np.log1p(np.exp(-xc)), -np.log1p(np.exp(xc))
        want += -(w_pos * gc * logp + w_neg * (1 - gc) * log1mp).mean() / 2
    got = build_loss("wce", sigmoid=True, beta=0.99, compile=False)(x, g)
    assert got.item() == pytest.approx(want, rel=1e-12)


def test_focal_takes_the_weights_as_its_class_weight():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, 3, 5, 5, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 1, 5, 5), generator=gen)
    w = effective_number_weights([800.0, 90.0, 12.0], 0.999)
    weighted = build_loss("focal", softmax=True, to_onehot_y=True, weight=w, reduction="none", compile=False)
    plain = build_loss("focal", softmax=True, to_onehot_y=True, reduction="none", compile=False)
    torch.testing.assert_close(weighted(x, labels), plain(x, labels) * w.view(1, 3, 1, 1))


def test_bad_arguments_raise_clearly():
    with pytest.raises(ValueError, match="set beta too"):
        build_loss("wce", softmax=True, class_counts=[1.0, 2.0])
    with pytest.raises(ValueError, match="class_counts has shape"):
        build_loss("wce", softmax=True, to_onehot_y=True, beta=0.9, class_counts=[1.0, 2.0], compile=False)(
            torch.randn(1, 3, 4, 4), torch.zeros(1, 1, 4, 4)
        )
