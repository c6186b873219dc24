"""The loss catalogue: every name of issue 2 builds with its paper's defaults and runs in both bundle modes."""

from __future__ import annotations

import monai.losses
import pytest
import torch

from scripts.losses import LOSSES, build_loss

NAMES = [
    "bce", "ce", "wce", "focal", "dice", "dice_squared", "dice_two_class", "iou", "tversky", "focal_tversky",
    "sensitivity_specificity", "generalized_dice", "bce_dice", "dice_focal", "exp_log", "focal_dice", "combo",
    "symmetric_focal", "asymmetric_focal", "symmetric_focal_tversky", "asymmetric_focal_tversky",
    "symmetric_unified_focal", "asymmetric_unified_focal",
    # issue 13
    "boundary", "gdl_boundary", "hausdorff_dt", "log_hausdorff_dt", "lovasz", "mcc", "topk_ce",
    "generalized_wasserstein_dice", "blob",
    # issue 24
    "generalized_dice_focal", "penalty_gdl", "asymmetric_similarity", "cldice", "dice_cldice",
    "recall_ce", "distance_penalized_ce", "skeleton_recall",
    "cbdice",
]  # fmt: skip

# Paper defaults, from docs/losses.md and the papers (not from the catalogue's own table).
PAPER_DEFAULTS = {
    "tversky": {"alpha": 0.3, "beta": 0.7},
    "focal_tversky": {"alpha": 0.3, "beta": 0.7, "gamma": 0.75},
    "focal_dice": {"beta": 2.0, "sampling": None, "neg_ratio": 1.0},
    "sensitivity_specificity": {"r": 0.05},
    "focal": {"gamma": 2.0, "alpha": 0.25},
    "wce": {"weight_from": "target"},
    "exp_log": {"w_dice": 0.8, "w_cross": 0.2, "gamma_dice": 0.3, "gamma_cross": 0.3},
    "combo": {"alpha": 0.5, "beta": 0.5},
    "dice_focal": {"lambda_dice": 1.0, "lambda_focal": 1.0, "focal.gamma": 2.0},
    "bce_dice": {"lambda_dice": 1.0, "lambda_ce": 1.0},
    "symmetric_focal": {"delta": 0.7, "gamma": 2.0},
    "asymmetric_focal": {"delta": 0.7, "gamma": 2.0},
    "symmetric_focal_tversky": {"delta": 0.7, "gamma": 0.75},
    "asymmetric_focal_tversky": {"delta": 0.7, "gamma": 0.75},
    "symmetric_unified_focal": {"weight": 0.5, "delta": 0.6, "gamma": 0.5},
    "asymmetric_unified_focal": {"weight": 0.5, "delta": 0.6, "gamma": 0.5},
    "gdl_boundary": {"alpha": 1.0},
    "hausdorff_dt": {"alpha": 2.0},
    "log_hausdorff_dt": {"alpha": 2.0},
    "topk_ce": {"k": 10.0},
    "generalized_wasserstein_dice": {"dist_matrix": None},
    "blob": {"main": "dice", "alpha": 2.0, "beta": 1.0},
    # the authors' code (jocpae/clDice): soft_cldice runs 10 skeleton iterations whatever its iter_ says
    "cldice": {"iterations": 10, "smooth_nr": 1.0, "smooth_dr": 1.0},
    "dice_cldice": {"iterations": 10, "alpha": 0.5, "smooth_nr": 1.0, "smooth_dr": 1.0},
    # the authors' nnUNetTrainerSkeletonRecall (MIC-DKFZ/Skeleton-Recall f259f63): weights 1, 1, 1; smooth 1e-5
    "skeleton_recall": {"lambda_ce": 1.0, "lambda_dice": 1.0, "lambda_srec": 1.0, "smooth_nr": 1e-5, "smooth_dr": 1e-5},
    "generalized_dice_focal": {
        "generalized_dice.w_type": "square",
        "lambda_gdl": 1.0,
        "lambda_focal": 1.0,
        "focal.gamma": 2.0,
    },
    # the authors' nnUNetTrainer_CE_DC_CBDC (PengchengShi1220/cbDice): lambda_ce = lambda_dice + lambda_cbdice = 2,
    # SoftcbDiceLoss(iter_=10, smooth=1e-3), summed over the whole batch
    "cbdice": {
        "iterations": 10,
        "smooth_cbdice": 1e-3,
        "lambda_ce": 2.0,
        "lambda_dice": 1.0,
        "lambda_cbdice": 1.0,
        "batch": True,
        "smooth_nr": 1e-5,
        "smooth_dr": 1e-5,
    },
}
MONAI_BACKED = {
    "dice": monai.losses.DiceLoss,
    "dice_squared": monai.losses.DiceLoss,
    "iou": monai.losses.DiceLoss,
    "tversky": monai.losses.TverskyLoss,
    "generalized_dice": monai.losses.GeneralizedDiceLoss,
    "focal": monai.losses.FocalLoss,
    "bce_dice": monai.losses.DiceCELoss,
    "dice_focal": monai.losses.DiceFocalLoss,
    "generalized_dice_focal": monai.losses.GeneralizedDiceFocalLoss,
}


def test_catalogue_has_exactly_the_issue_names():
    assert sorted(LOSSES) == sorted(NAMES)
    for name, spec in LOSSES.items():
        assert spec.paper, name
        assert spec.monai == (name in MONAI_BACKED), name


@pytest.mark.parametrize("name", NAMES)
def test_builds_with_paper_defaults(name):
    loss = build_loss(name, sigmoid=True)
    for key, value in PAPER_DEFAULTS.get(name, {}).items():
        got = loss
        for part in key.split("."):
            got = getattr(got, part)
        assert got == value, (name, key, got)
    if name in MONAI_BACKED:  # the drop-in carries MONAI's class name (its arguments: test_losses_monai_cases.py)
        assert type(loss).__name__ == MONAI_BACKED[name].__name__, name


def test_monai_backed_losses_compute_the_paper_formula_by_hand():
    # 3 voxels, 2 classes; smoothing 0 so that the bare formulas apply
    p = torch.tensor([[[0.9, 0.6, 0.2], [0.1, 0.4, 0.8]]], dtype=torch.float64)
    g = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    zero = {"smooth_nr": 0.0, "smooth_dr": 0.0}
    # TP = (1.5, 0.8), sum p = (1.7, 1.3), sum g = (2, 1), FP = (0.2, 0.5), FN = (0.5, 0.2)
    # sum p^2 = (0.81 + 0.36 + 0.04, 0.01 + 0.16 + 0.64) = (1.21, 0.81)
    cases = {
        "dice": (1 - 3.0 / 3.7 + 1 - 1.6 / 2.3) / 2,
        "dice_squared": (1 - 3.0 / 3.21 + 1 - 1.6 / 1.81) / 2,
        "iou": (1 - 1.5 / 2.2 + 1 - 0.8 / 1.5) / 2,
        "tversky": (1 - 1.5 / (1.5 + 0.3 * 0.2 + 0.7 * 0.5) + 1 - 0.8 / (0.8 + 0.3 * 0.5 + 0.7 * 0.2)) / 2,
        # w = 1 / (sum g)^2 = (1/4, 1): 1 - 2 (0.25 * 1.5 + 0.8) / (0.25 * 3.7 + 2.3)
        "generalized_dice": 1 - 2.35 / 3.225,
    }
    for name, want in cases.items():
        got = build_loss(name, **zero)(p, g)
        assert float(got) == pytest.approx(want, rel=1e-6), name
    # focal, logits 0 (p = 0.5) on a positive and a negative voxel: 0.25 * 0.25 * ln 2 and 0.75 * 0.25 * ln 2
    focal = build_loss("focal")(torch.zeros(1, 1, 2), torch.tensor([[[1.0, 0.0]]]))
    assert float(focal) == pytest.approx((0.0625 + 0.1875) * 0.6931471805599453 / 2, rel=1e-6)


def test_activation_group_and_overrides():
    focal = build_loss("focal", softmax=True, to_onehot_y=True)
    assert focal.softmax and not focal.sigmoid
    assert build_loss("ce").softmax and build_loss("bce").sigmoid
    ce = build_loss("ce", sigmoid=True)
    assert ce.sigmoid and not ce.softmax
    tv = build_loss("tversky", alpha=0.4)
    assert (tv.alpha, tv.beta) == (0.4, 0.7)
    assert LOSSES["tversky"].defaults == {"alpha": 0.3, "beta": 0.7}  # overrides do not leak into the table


def brats_batch(spatial):
    gen = torch.Generator().manual_seed(len(spatial))
    x = 3 * torch.randn(2, 3, *spatial, generator=gen)
    wt = torch.rand(2, 1, *spatial, generator=gen) < 0.4
    tc = wt & (torch.rand(2, 1, *spatial, generator=gen) < 0.5)
    et = tc & (torch.rand(2, 1, *spatial, generator=gen) < 0.5)
    return x, torch.cat([tc, wt, et], dim=1).float()  # overlapping regions TC, WT, ET


def kits_batch(spatial):
    gen = torch.Generator().manual_seed(10 + len(spatial))
    x = 3 * torch.randn(2, 3, *spatial, generator=gen)
    return x, torch.randint(0, 3, (2, 1, *spatial), generator=gen)


MODES = {
    "sigmoid_brats": ({"sigmoid": True}, brats_batch),
    "softmax_kits": ({"softmax": True, "to_onehot_y": True}, kits_batch),
}


@pytest.mark.parametrize("spatial", [(6, 7), (4, 5, 6)], ids=["2d", "3d"])
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", NAMES)
def test_every_name_runs_in_both_bundle_modes(name, mode, spatial):
    kwargs, make = MODES[mode]
    x, target = make(spatial)
    x.requires_grad_()
    loss = build_loss(name, **kwargs)
    value = loss(x, target)
    assert value.ndim == 0 and value.dtype == torch.float32
    assert torch.isfinite(value)
    (grad,) = torch.autograd.grad(value, x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    if name == "bce_dice":  # MONAI's DiceCELoss has no reduction="none"; the drop-in neither
        with pytest.raises(ValueError, match="'none'"):
            build_loss(name, **kwargs, reduction="none")
        return
    per_loss = build_loss(name, **kwargs, reduction="none")
    per = per_loss(x, target)
    if name not in MONAI_BACKED:  # the drop-ins keep MONAI's shapes (tests/test_losses_monai_dropin.py)
        kept = (2, 3 if per_loss.include_background else 2)  # boundary's softmax default: the foreground
        assert torch.broadcast_shapes(per.shape, kept) == kept, per.shape
    assert float(per.mean()) == pytest.approx(float(value), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", NAMES)
def test_cpu_bf16_autocast_close_to_float32(name, mode):
    kwargs, make = MODES[mode]
    x, target = make((4, 5, 6))
    conv = torch.nn.Conv3d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1, 1))
        conv.bias.zero_()
    loss = build_loss(name, **kwargs)
    ref = loss(conv(x), target).detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
        assert out.dtype == torch.bfloat16
        value = loss(out, target)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    value.backward()
    assert all(torch.isfinite(q.grad).all() for q in conv.parameters())
    torch.testing.assert_close(value, ref, rtol=2e-2, atol=2e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="GPU AMP check needs CUDA")
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", NAMES)
def test_cuda_fp16_autocast_over_65504_voxels(name, mode):
    kwargs, make = MODES[mode]
    x, target = make((64, 64, 64))  # 262,144 voxels per channel: fp16 sums would overflow
    x, target = x.cuda(), target.cuda()
    conv = torch.nn.Conv3d(3, 3, 1).cuda()
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1, 1))
        conv.bias.zero_()
    loss = build_loss(name, **kwargs)
    ref = loss(conv(x), target).detach()
    with torch.autocast("cuda", dtype=torch.float16):
        out = conv(x)
        assert out.dtype == torch.float16
        value = loss(out, target)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    value.backward()
    assert all(torch.isfinite(q.grad).all() for q in conv.parameters())
    torch.testing.assert_close(value, ref, rtol=1e-2, atol=1e-3)


def test_boundary_takes_the_foreground_classes_in_softmax_mode_as_the_paper():
    """Kervadec et al. apply the boundary term to the foreground (idc=[1]); sigmoid channels are all foreground."""
    x, labels = torch.randn(2, 3, 6, 6), torch.randint(0, 3, (2, 1, 6, 6))
    softmax = build_loss("boundary", softmax=True, to_onehot_y=True, reduction="none")
    assert softmax.include_background is False and softmax(x, labels).shape == (2, 2)
    assert build_loss("boundary", softmax=True, include_background=True).include_background is True
    assert build_loss("boundary", sigmoid=True).include_background is True
