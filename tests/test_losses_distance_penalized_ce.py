"""``distance_penalized_ce`` (Caliva et al., MIDL 2019) against SegLossOdyssey's ``DisPenalizedCE`` (github
JunMa11/SegLossOdyssey d562441, ``losses_pytorch/ND_Crossentropy.py``, transcribed below with scipy; its return
line corrected from ``loss.mean()``, the unweighted loss, to ``weighted_loss.mean()``), by hand, and with the maps
as data (``maps_in_target``) against the maps computed by the loss itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt

from scripts.losses import build_loss
from scripts.losses._maps import batch_maps


def odyssey_edts(gt):
    gt = np.squeeze(gt)
    res = np.zeros(gt.shape)
    for i in range(gt.shape[0]):
        posmask = gt[i]
        negmask = ~posmask
        pos_edt = distance_transform_edt(posmask)
        pos_edt = (np.max(pos_edt) - pos_edt) * posmask
        neg_edt = distance_transform_edt(negmask)
        neg_edt = (np.max(neg_edt) - neg_edt) * negmask
        res[i] = pos_edt / np.max(pos_edt) + neg_edt / np.max(neg_edt)
    return res


def odyssey_dis_penalized_ce(inp, target):
    with torch.no_grad():
        dist = odyssey_edts(target.cpu().numpy() > 0.5) + 1.0
    dist = torch.from_numpy(dist).to(inp.dtype).view(-1)
    target = target.long()
    num_classes = inp.size()[1]
    i0, i1 = 1, 2
    while i1 < len(inp.shape):
        inp = inp.transpose(i0, i1)
        i0 += 1
        i1 += 1
    inp = inp.contiguous().view(-1, num_classes)
    inp_logs = torch.nn.LogSoftmax(dim=1)(inp)
    target = target.view(-1)
    loss = -inp_logs[range(target.shape[0]), target]
    weighted_loss = loss * dist
    return weighted_loss.mean()  # corrected: SegLossOdyssey returns loss.mean()


def blobs(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.zeros(shape, dtype=torch.long)
    labels[:, :, 2:6, 3:8, 1:5] = 1
    labels[(torch.rand(shape, generator=gen) < 0.05)] = 1
    return labels


@pytest.mark.parametrize("seed", [0, 1])
def test_value_and_gradient_match_seglossodyssey_corrected(seed):
    shape = (2, 1, 9, 10, 7)
    labels = blobs(shape, seed)
    x = torch.randn(2, 2, *shape[2:], generator=torch.Generator().manual_seed(seed + 10), dtype=torch.float64)
    results = []
    for fn in (odyssey_dis_penalized_ce, build_loss("distance_penalized_ce", softmax=True, to_onehot_y=True)):
        xi = x.clone().requires_grad_()
        value = fn(xi, labels.double())
        value.backward()
        results.append((value.detach(), xi.grad))
    # the bundle's distance maps are float32 (scipy's here float64): 1e-7 relative in the weights
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=1e-6, atol=1e-9)


def test_sigmoid_channel_is_the_two_class_form():
    shape = (2, 1, 9, 10, 7)
    g = blobs(shape, 3).double()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    sig = build_loss("distance_penalized_ce", sigmoid=True, compile=False)(x, g)
    two = torch.cat([torch.zeros_like(x), x], 1)
    soft = build_loss("distance_penalized_ce", softmax=True, to_onehot_y=True, compile=False)(two, g)
    torch.testing.assert_close(sig, soft, rtol=1e-12, atol=1e-12)


def test_by_hand_on_a_line():
    """1D, 7 voxels, mask (0, 1, 1, 1, 0, 0, 0): d_in (., 1, 2, 1, ., ., .), d_out (1, ., ., ., 1, 2, 3); Phi inside
    (2 - d) / (2 - 1) = (., 1, 0, 1, ., ., .), outside (3 - d) / (3 - 1) = (1, ., ., ., 1, 0.5, 0); logits 0: CE ln 2.
    A one-voxel line (0, 1, 0): its inside is all boundary, Phi 1; outside d_out (1, ., 1): all boundary, 1."""
    g = torch.tensor([[[0.0, 1, 1, 1, 0, 0, 0]]], dtype=torch.float64)
    x = torch.zeros(1, 1, 7, dtype=torch.float64)
    got = build_loss("distance_penalized_ce", sigmoid=True, compile=False)(x, g)
    weights = 1 + torch.tensor([1, 1, 0, 1, 1, 0.5, 0], dtype=torch.float64)
    assert got.item() == pytest.approx(float(weights.mean() * np.log(2)), rel=1e-12)
    line = torch.tensor([[[0.0, 1, 0]]], dtype=torch.float64)
    got = build_loss("distance_penalized_ce", sigmoid=True, compile=False)(
        torch.zeros(1, 1, 3, dtype=torch.float64), line
    )
    assert got.item() == pytest.approx(2 * np.log(2), rel=1e-12)


def test_empty_target_is_plain_cross_entropy_and_maps_as_data_agree():
    x = torch.randn(2, 3, 6, 6, 5, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    empty = torch.zeros_like(x)
    dpce = build_loss("distance_penalized_ce", sigmoid=True, compile=False)(x, empty)
    torch.testing.assert_close(dpce, build_loss("bce", sigmoid=True, compile=False)(x, empty))
    g = (torch.rand(x.shape, generator=torch.Generator().manual_seed(8)) < 0.3).double()
    target = torch.cat([g, batch_maps(g > 0.5, "unsigned").double()], 1)
    with_maps = build_loss("distance_penalized_ce", sigmoid=True, maps_in_target=True, compile=False)(x, target)
    torch.testing.assert_close(with_maps, build_loss("distance_penalized_ce", sigmoid=True, compile=False)(x, g))
