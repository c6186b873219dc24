"""``cbdice`` (Shi et al., MICCAI 2024) against the authors' training loss, transcribed below from github
PengchengShi1220/cbDice a970c1d: ``SoftcbDiceLoss``, ``get_weights``, ``combine_tensors`` (``loss/cbdice_loss.py``),
``SoftSkeletonize`` (``loss/soft_skeleton.py``), ``MemoryEfficientSoftDiceLoss`` (``loss/dice.py``) and
``DC_and_CE_and_CBDC_loss`` (``loss/compound_cbdice_loss.py``) with the arguments of ``nnUNetTrainer_CE_DC_CBDC``
(CE 2, Dice 1 without background and smooth 1e-5, cbDice 1 with 10 iterations and smooth 1e-3); the EDT as
theirs, MONAI's ``distance_transform_edt`` (scipy); one cast added (``combine_tensors``, to run it in float64).
Value and input gradient in float64; ours is theirs plus 2 (``1 - score`` for ``-score`` in the Dice and cbDice
terms)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.transforms import distance_transform_edt
from scipy.ndimage import distance_transform_edt as scipy_edt

from scripts.losses import _maps, build_loss
from scripts.losses._maps import batch_maps

# ---------------------------------------------------------------- the authors' code (a970c1d), transcribed


def authors_soft_erode(img):
    if len(img.shape) == 4:
        p1 = -F.max_pool2d(-img, (3, 1), (1, 1), (1, 0))
        p2 = -F.max_pool2d(-img, (1, 3), (1, 1), (0, 1))
        return torch.min(p1, p2)
    p1 = -F.max_pool3d(-img, (3, 1, 1), (1, 1, 1), (1, 0, 0))
    p2 = -F.max_pool3d(-img, (1, 3, 1), (1, 1, 1), (0, 1, 0))
    p3 = -F.max_pool3d(-img, (1, 1, 3), (1, 1, 1), (0, 0, 1))
    return torch.min(torch.min(p1, p2), p3)


def authors_soft_dilate(img):
    if len(img.shape) == 4:
        return F.max_pool2d(img, (3, 3), (1, 1), (1, 1))
    return F.max_pool3d(img, (3, 3, 3), (1, 1, 1), (1, 1, 1))


def authors_soft_skel(img, num_iter=10):
    img1 = authors_soft_dilate(authors_soft_erode(img))
    skel = F.relu(img - img1)
    for _ in range(num_iter):
        img = authors_soft_erode(img)
        img1 = authors_soft_dilate(authors_soft_erode(img))
        delta = F.relu(img - img1)
        skel = skel + F.relu(delta - skel * delta)
    return skel


def combine_tensors(A, B, C):  # noqa: N803 (the authors' names)
    A_C = A * C  # noqa: N806
    B_C = B * C  # noqa: N806
    D = B_C.clone()  # noqa: N806
    mask_AC = (A != 0) & (B == 0)  # noqa: N806
    D[mask_AC] = A_C[mask_AC].to(D.dtype)  # .to: float64 input meets the float32 label maps (theirs runs in float32)
    return D


def get_weights(mask_input, skel_input, dim, prob_flag=True):
    if prob_flag:
        mask_prob = mask_input
        skel_prob = skel_input
        mask = (mask_prob > 0.5).int()
        skel = (skel_prob > 0.5).int()
    else:
        mask = mask_input
        skel = skel_input
    distances = distance_transform_edt(mask).float()
    distances[mask == 0] = 0
    skel_radius = torch.zeros_like(distances, dtype=torch.float32)
    skel_radius[skel == 1] = distances[skel == 1]
    dist_map_norm = torch.zeros_like(distances, dtype=torch.float32)
    skel_R_norm = torch.zeros_like(skel_radius, dtype=torch.float32)  # noqa: N806
    I_norm = torch.zeros_like(mask, dtype=torch.float32)  # noqa: N806
    for i in range(skel_radius.shape[0]):
        distances_i = distances[i]
        skel_i = skel_radius[i]
        skel_radius_max = max(skel_i.max(), 1)
        skel_radius_min = max(skel_i.min(), 1)
        distances_i[distances_i > skel_radius_max] = skel_radius_max
        dist_map_norm[i] = distances_i / skel_radius_max
        skel_R_norm[i] = skel_i / skel_radius_max
        if dim == 2:
            I_norm[i] = (skel_radius_max - skel_i + skel_radius_min) / skel_radius_max
        else:
            I_norm[i] = ((skel_radius_max - skel_i + skel_radius_min) / skel_radius_max) ** 2
    I_norm[skel == 0] = 0
    if prob_flag:
        return dist_map_norm * mask_prob, skel_R_norm * mask_prob, I_norm * skel_prob
    return dist_map_norm * mask, skel_R_norm * mask, I_norm * skel


def authors_cbdice(y_pred, y_true, smooth=1e-3, iter_=10):
    dim = 2 if len(y_true.shape) == 4 else 3
    y_pred_fore = y_pred[:, 1:]
    y_pred_fore = torch.max(y_pred_fore, dim=1, keepdim=True)[0]
    y_pred_binary = torch.cat([y_pred[:, :1], y_pred_fore], dim=1)
    y_prob_binary = torch.softmax(y_pred_binary, 1)
    y_pred_prob = y_prob_binary[:, 1]
    with torch.no_grad():
        y_true = torch.where(y_true > 0, 1, 0).squeeze(1).float()
        y_pred_hard = (y_pred_prob > 0.5).float()
        skel_pred_hard = authors_soft_skel(y_pred_hard.unsqueeze(1), iter_).squeeze(1)
        skel_true = authors_soft_skel(y_true.unsqueeze(1), iter_).squeeze(1)
    skel_pred_prob = skel_pred_hard * y_pred_prob
    q_vl, q_slvl, q_sl = get_weights(y_true, skel_true, dim, prob_flag=False)
    q_vp, q_spvp, q_sp = get_weights(y_pred_prob, skel_pred_prob, dim, prob_flag=True)
    w_tprec = (torch.sum(torch.multiply(q_sp, q_vl)) + smooth) / (
        torch.sum(combine_tensors(q_spvp, q_slvl, q_sp)) + smooth
    )
    w_tsens = (torch.sum(torch.multiply(q_sl, q_vp)) + smooth) / (
        torch.sum(combine_tensors(q_slvl, q_spvp, q_sl)) + smooth
    )
    return -2.0 * (w_tprec * w_tsens) / (w_tprec + w_tsens)


def nnunet_soft_dice(x, y, batch_dice, smooth=1e-5):
    """``MemoryEfficientSoftDiceLoss(softmax, batch_dice, do_bg=False, smooth)``, no loss mask, no DDP."""
    x = torch.softmax(x, 1)[:, 1:]
    axes = list(range(2, x.ndim))
    with torch.no_grad():
        y_onehot = torch.zeros(x.shape[0], x.shape[1] + 1, *x.shape[2:], dtype=torch.bool)
        y_onehot.scatter_(1, y.long(), 1)
        y_onehot = y_onehot[:, 1:]
        sum_gt = y_onehot.sum(axes)
    intersect = (x * y_onehot).sum(axes)
    sum_pred = x.sum(axes)
    if batch_dice:
        intersect, sum_pred, sum_gt = intersect.sum(0), sum_pred.sum(0), sum_gt.sum(0)
    dc = (2 * intersect + smooth) / torch.clip(sum_gt + sum_pred + smooth, 1e-8)
    return -dc.mean()


def authors_training_loss(x, labels, batch_dice=True):
    """``DC_and_CE_and_CBDC_loss`` of ``nnUNetTrainer_CE_DC_CBDC``: weight_ce 2, weight_dice 1, weight_cbdice 1."""
    ce = F.cross_entropy(x, labels[:, 0].long())
    return 2 * ce + nnunet_soft_dice(x, labels, batch_dice) + authors_cbdice(x, labels)


# ---------------------------------------------------------------- data: thin tubes with noise


def tubes(shape, seed):
    """Labels ``(B, 1, *spatial)`` in {0, 1, 2}: a 2-voxel-wide bar, a 1-voxel line of class 2, speckle."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.zeros(shape, dtype=torch.long)
    labels[:, :, 3:5, 1:-1] = 1
    labels[:, :, 1:-1, 8] = 2
    labels[torch.rand(shape, generator=gen) < 0.05] = 1
    return labels


def logits_near(labels, n_classes, seed):
    """float64 logits that mostly predict ``labels``, so that the prediction has skeletons of its own."""
    gen = torch.Generator().manual_seed(seed)
    onehot = F.one_hot(labels[:, 0], n_classes).movedim(-1, 1).double()
    return 2.5 * onehot + torch.randn(onehot.shape, generator=gen, dtype=torch.float64)


def value_and_grad(fn, x, target):
    x = x.clone().requires_grad_()
    value = fn(x, target)
    value.backward()
    return value.detach(), x.grad


SHAPES = {"2d": (2, 1, 16, 16), "3d": (2, 1, 12, 12, 12)}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_value_and_gradient_match_the_authors_training_loss(dims, seed):
    labels = tubes(SHAPES[dims], seed)
    x = logits_near(labels, 3, seed + 10)
    ours = build_loss("cbdice", softmax=True, to_onehot_y=True)
    want_value, want_grad = value_and_grad(authors_training_loss, x, labels.double())
    got_value, got_grad = value_and_grad(ours, x, labels.double())
    # theirs -score, ours 1 - score in Dice and cbDice; the authors' normalised maps are float32 (ours float64)
    torch.testing.assert_close(got_value, want_value + 2, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_cbdice_term_alone_matches_the_authors(dims):
    labels = tubes(SHAPES[dims], 5)
    x = logits_near(labels, 3, 6)
    ours = build_loss("cbdice", softmax=True, to_onehot_y=True, lambda_ce=0.0, lambda_dice=0.0)
    want_value, want_grad = value_and_grad(authors_cbdice, x, labels.double())
    got_value, got_grad = value_and_grad(ours, x, labels.double())
    assert abs(float(want_value)) > 0.3  # a real overlap of skeletons, not the empty case
    torch.testing.assert_close(got_value, want_value + 1, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-6, atol=1e-9)
    assert got_grad.abs().sum() > 0


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_sigmoid_channel_is_the_authors_two_class_form(dims):
    """Per-channel mode: channel ``c`` is the authors' loss on the logits ``(0, x_c)`` against ``g_c``."""
    labels = tubes(SHAPES[dims], 7)
    g = torch.cat([labels == 1, labels == 2], 1).double()
    x = torch.randn(g.shape, generator=torch.Generator().manual_seed(8), dtype=torch.float64) + 3 * g - 1.5
    ours = build_loss("cbdice", sigmoid=True, lambda_ce=0.0, lambda_dice=0.0)
    got_value, got_grad = value_and_grad(ours, x, g)
    want_value, want_grad = value_and_grad(
        lambda xi, t: (
            0.5
            * sum(
                1
                + authors_cbdice(torch.cat([torch.zeros_like(xi[:, c : c + 1]), xi[:, c : c + 1]], 1), t[:, c : c + 1])
                for c in range(2)
            )
        ),
        x,
        g,
    )
    torch.testing.assert_close(got_value, want_value, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-6, atol=1e-9)


def test_per_sample_without_batch_and_maps_as_data_agree():
    labels = tubes(SHAPES["2d"], 3)
    x = logits_near(labels, 3, 4)
    per_sample = build_loss("cbdice", softmax=True, to_onehot_y=True, batch=False, lambda_ce=0.0, lambda_dice=0.0)
    want = torch.stack([authors_cbdice(x[b : b + 1], labels[b : b + 1].double()) + 1 for b in range(2)]).mean()
    torch.testing.assert_close(per_sample(x, labels), want, rtol=1e-6, atol=1e-7)
    onehot = F.one_hot(labels[:, 0], 3).movedim(-1, 1)
    target = torch.cat([labels, batch_maps(onehot > 0, "unsigned")], 1).double()
    with_maps = build_loss("cbdice", softmax=True, to_onehot_y=True, maps_in_target=True)(x, target)
    torch.testing.assert_close(with_maps, build_loss("cbdice", softmax=True, to_onehot_y=True)(x, labels))


def test_by_hand_on_a_bar():
    """A 3-wide bar (rows 1-3 of 5 x 7, all columns) predicted exactly by saturated logits: its skeleton is the
    middle row (d = 2 there), R = 2, radius map r / R = 1 on it; Q_v = min(d, 2) / 2 = (1/2, 1, 1/2) across the
    rows; Q_s = (2 - 2 + 1) / 2 = 1/2 on the skeleton. Both sides are equal: Tprec = Tsens = (sum Q_s Q_v + s) /
    (sum Q_s Q_sv + s) = (7 * 1/2 * 1 + s) / (7 * 1/2 * 1 + s) = 1, cbDice = 0; Dice 0 up to the saturation;
    CE 0."""
    labels = torch.zeros(1, 1, 5, 7, dtype=torch.long)
    labels[:, :, 1:4] = 1
    x = 40.0 * torch.cat([1 - labels, labels], 1).double() - 20.0
    got = build_loss("cbdice", softmax=True, to_onehot_y=True)(x, labels)
    assert float(got) == pytest.approx(0.0, abs=1e-7)
    # a prediction of only the middle row: Tprec = (7 * 1/2 * 1 + s) / (7 * 1/2 * r_p / R_p ...)
    shifted = torch.zeros_like(labels)
    shifted[:, :, 2] = 1
    xp = 40.0 * torch.cat([1 - shifted, shifted], 1).double() - 20.0
    ours = build_loss("cbdice", softmax=True, to_onehot_y=True, lambda_ce=0.0, lambda_dice=0.0)
    # prediction: a 1-wide line, d = 1, skeleton the line (R = 1, r / R = 1, Q_sp = (1 - 1 + 1) / 1 = 1), Q_vp = 1.
    # Tprec = (sum Q_sp Q_vg + s) / (sum Q_sp [Q_svp or Q_svg] + s) = (7 * 1 * 1 + s) / (7 * 1 * 1 + s) = 1 (at the
    # middle row Q_svg = 1 != 0: the target's is used); Tsens = (sum Q_sg Q_vp + s) / (sum Q_sg Q_svp + s)
    # = (7 * 1/2 * 1 + s) / (7 * 1/2 * 1 + s) = 1.
    assert float(ours(xp, labels)) == pytest.approx(0.0, abs=1e-7)


def test_empty_and_full_foreground_are_finite():
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64, requires_grad=True)
    for labels in (torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)):
        value = build_loss("cbdice", softmax=True, to_onehot_y=True)(x, labels)
        (grad,) = torch.autograd.grad(value, x)
        assert torch.isfinite(value) and torch.isfinite(grad).all()
    empty = torch.zeros(2, 1, 8, 8)
    nothing = torch.cat([torch.full((2, 1, 8, 8), 30.0), torch.full((2, 2, 8, 8), -30.0)], 1).double()
    # empty target and empty prediction: every Q is 0, Tprec = Tsens = s / s = 1, cbDice 0
    cb = build_loss("cbdice", softmax=True, to_onehot_y=True, lambda_ce=0.0, lambda_dice=0.0)
    assert float(cb(nothing, empty)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"iterations": -1}, "iterations must be an integer >= 0"),
        ({"iterations": 2.5}, "iterations must be an integer >= 0"),
        ({"smooth_cbdice": 0.0}, "smooth_cbdice"),
        ({"lambda_cbdice": -1.0}, "lambda_cbdice"),
        ({"lambda_ce": float("nan")}, "lambda_ce"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_loss("cbdice", softmax=True, **kwargs)


@pytest.mark.parametrize("spatial", [(7,), (6, 7), (5, 6, 4)], ids=["1d", "2d", "3d"])
def test_inside_distances_are_scipys_with_and_without_edt(spatial, monkeypatch):
    """The prediction's distances: scipy's ``distance_transform_edt`` of the mask inside it, 0 outside; a full mask
    (scipy measures to a point outside the image there) all 0. The same with ``edt`` and with MONAI's function."""
    masks = torch.rand(2, 2, *spatial, generator=torch.Generator().manual_seed(len(spatial))) < 0.6
    masks[1, 1] = True
    want = torch.zeros(masks.shape, dtype=torch.float64)
    for b in range(2):
        for c in range(2):
            if not masks[b, c].all():
                want[b, c] = torch.from_numpy(scipy_edt(masks[b, c].numpy()))
    got = _maps.inside_distances(masks)
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=0)
    monkeypatch.setattr(_maps, "HAS_EDT", False)
    torch.testing.assert_close(_maps.inside_distances(masks), got, rtol=0, atol=0)


def test_probabilities_give_the_softmax_value():
    """Given softmax probabilities (no activation), the foreground probability ``max p_c / (p_0 + max p_c)`` is
    ``softmax(x_0, max x_c)_1`` and the cross-entropy the log of the probabilities: the softmax mode's value and
    gradient."""
    labels = tubes(SHAPES["2d"], 9)
    x = logits_near(labels, 3, 10)
    with_softmax = build_loss("cbdice", softmax=True, to_onehot_y=True)
    on_probabilities = build_loss("cbdice", to_onehot_y=True, include_background=False)
    want_value, want_grad = value_and_grad(with_softmax, x, labels)
    got_value, got_grad = value_and_grad(lambda xi, t: on_probabilities(torch.softmax(xi, 1), t), x, labels)
    torch.testing.assert_close(got_value, want_value, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-8, atol=1e-12)
