"""Deep supervision (scripts/losses/deep_supervision.py): nnU-Net's weights computed by hand, the target sampling
against torch's nearest-exact interpolation and by index, every catalogue name in both modes with two levels
against the hand-weighted sum of the name's loss at each level computed here, the map losses with their maps in
the target (from the transforms, scipy) and without, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scripts.losses import (
    LOSSES,
    DeepSupervisionLoss,
    LossInputError,
    build_loss,
    deep_supervision_loss,
    deep_supervision_weights,
    downsample_target,
    map_kind,
)
from scripts.transforms.maps import component_map, distance_map, tubed_skeleton

SHAPE = (12, 12, 8)  # level 0; level 1 is (6, 6, 4)
TWO_LEVELS = (2 / 3, 1 / 3)  # nnU-Net's first two weights of three levels: both heads trained
MAP_NAMES = [n for n in LOSSES if map_kind(n) is not None]


# ---------------------------------------------------------------------------------------------- the weights
@pytest.mark.parametrize(
    "levels, expected",
    [
        (2, [1.0, 0.0]),  # [1, 1/2] -> [1, 0] -> / 1
        (3, [2 / 3, 1 / 3, 0.0]),  # [1, 1/2, 0] / 1.5
        (4, [4 / 7, 2 / 7, 1 / 7, 0.0]),  # [1, 1/2, 1/4, 0] / 1.75
        (5, [8 / 15, 4 / 15, 2 / 15, 1 / 15, 0.0]),  # [1, 1/2, 1/4, 1/8, 0] / 1.875
    ],
)
def test_weights_are_nnunets(levels, expected):
    weights = deep_supervision_weights(levels)
    assert weights == pytest.approx(expected, abs=1e-15)
    assert sum(weights) == pytest.approx(1.0)
    assert DeepSupervisionLoss(build_loss("dice", sigmoid=True), levels=levels).weights == pytest.approx(expected)


@pytest.mark.parametrize("levels", [1, 0, -2, 2.0, True, None])
def test_weights_need_two_or_more_whole_levels(levels):
    with pytest.raises(ValueError, match="levels >= 2"):
        deep_supervision_weights(levels)


def test_monai_weights_differ():
    """MONAI 1.6.1's DeepSupervisionLoss ("exp"): 1, 1/2, 1/4, ... floored at 1/16, not normalised, no zero."""
    from monai.losses import DeepSupervisionLoss as MonaiDS

    assert MonaiDS(build_loss("dice", sigmoid=True)).get_weights(3) == [1.0, 0.5, 0.25]
    assert deep_supervision_weights(3) != [1.0, 0.5, 0.25]


# ---------------------------------------------------------------------------------------------- the sampling
@pytest.mark.parametrize(
    "spatial, down", [((12, 12, 8), (6, 6, 4)), ((8, 12, 12), (8, 6, 3)), ((16, 16), (4, 4)), ((9, 6), (3, 2))]
)
def test_target_sampling_is_nearest_exact(spatial, down):
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (2, 1, *spatial), generator=gen)
    regions = torch.randint(0, 2, (2, 3, *spatial), generator=gen).float()
    for target in (labels, regions):
        expected = F.interpolate(target.float(), size=down, mode="nearest-exact")
        got = downsample_target(target, down)
        assert got.dtype == target.dtype and tuple(got.shape) == (*target.shape[:2], *down)
        assert torch.equal(got.float(), expected)


def test_target_sampling_takes_the_voxel_nearest_each_blocks_centre():
    target = torch.arange(8.0).view(1, 1, 8)
    assert downsample_target(target, (4,)).flatten().tolist() == [1, 3, 5, 7]  # factor 2: 2i + 1
    assert downsample_target(target, (2,)).flatten().tolist() == [2, 6]  # factor 4: 4i + 2
    assert downsample_target(target, (8,)) is target


def test_target_sampling_keeps_labels_and_one_hot_valid():
    gen = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 3, (2, 1, 8, 8, 8), generator=gen)
    one_hot = F.one_hot(labels[:, 0], 3).movedim(-1, 1)
    down = downsample_target(one_hot, (4, 4, 4))
    assert torch.equal(down.sum(1), torch.ones(2, 4, 4, 4, dtype=down.dtype))  # one class per voxel
    assert torch.equal(down.argmax(1, keepdim=True), downsample_target(labels, (4, 4, 4)))


@pytest.mark.parametrize("down", [(5, 6, 4), (6, 6), (0, 6, 4)])
def test_target_sampling_needs_whole_factors(down):
    with pytest.raises(LossInputError, match="whole factor"):
        downsample_target(torch.zeros(1, 1, *SHAPE), down)


# ---------------------------------------------------------------------------------------------- every name
def cubes(spatial, sample):
    """Few, compact structures (blob's components stay few): per sample a box and a second box, the second
    overlapping the first on sample 0 and apart on sample 1."""
    a = np.zeros(spatial, bool)
    b = np.zeros(spatial, bool)
    a[2:9, 3:10, 1:6] = True
    if sample == 0:
        b[4:7, 5:8, 2:5] = True
    else:
        b[9:12, 0:2, 5:8] = True
    return a, b


def targets(mode):
    """Labels (2, 1, ...) 0 / 1 / 2 for softmax, nested regions (2, 3, ...) as BraTS TC, WT, ET for sigmoid."""
    if mode == "softmax":
        out = np.zeros((2, 1, *SHAPE), np.int64)
        for s in range(2):
            a, b = cubes(SHAPE, s)
            out[s, 0][a] = 1
            out[s, 0][b] = 2
        return torch.from_numpy(out)
    out = np.zeros((2, 3, *SHAPE), np.float32)
    for s in range(2):
        a, b = cubes(SHAPE, s)
        out[s, 0], out[s, 1], out[s, 2] = a, a | b, b
    return torch.from_numpy(out)


def mode_kwargs(mode):
    return {"softmax": True, "to_onehot_y": True} if mode == "softmax" else {"sigmoid": True}


def levels_input(seed=0):
    gen = torch.Generator().manual_seed(seed)
    y0 = torch.randn(2, 3, *SHAPE, generator=gen, dtype=torch.float64).requires_grad_()
    y1 = torch.randn(2, 3, *(n // 2 for n in SHAPE), generator=gen, dtype=torch.float64).requires_grad_()
    return y0, y1


def sampled(target, spatial):
    """The target at level 1, independently: torch's nearest-exact interpolation."""
    return F.interpolate(target.double(), size=spatial, mode="nearest-exact").to(target.dtype)


@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_name_with_two_levels(name, mode):
    assert len(LOSSES) == 41
    target = targets(mode)
    y0, y1 = levels_input()
    loss = DeepSupervisionLoss(build_loss(name, **mode_kwargs(mode)), weights=TWO_LEVELS)
    value = loss([y0, y1], target)
    with torch.no_grad():
        level0 = build_loss(name, **mode_kwargs(mode))(y0, target)
        level1 = build_loss(name, **mode_kwargs(mode))(y1, sampled(target, y1.shape[2:]))
    expected = TWO_LEVELS[0] * level0 + TWO_LEVELS[1] * level1
    assert value.shape == () and torch.isfinite(value)
    torch.testing.assert_close(value.detach(), expected, rtol=1e-6, atol=1e-8)
    value.backward()
    for level, y in enumerate((y0, y1)):
        assert y.grad is not None and torch.isfinite(y.grad).all(), level
        assert y.grad.abs().sum() > 0, f"no gradient reaches the head of level {level}"


def test_nnunet_weights_of_two_levels_train_the_full_resolution_only():
    """Two levels with nnU-Net's weights [1, 0]: level 1 is in the graph (DDP) with gradient 0."""
    target = targets("sigmoid")
    y0, y1 = levels_input()
    value = DeepSupervisionLoss(build_loss("dice", sigmoid=True), levels=2)([y0, y1], target)
    torch.testing.assert_close(value.detach(), build_loss("dice", sigmoid=True)(y0, target).detach())
    value.backward()
    assert y1.grad is not None and torch.equal(y1.grad, torch.zeros_like(y1))
    assert y0.grad.abs().sum() > 0


def test_three_levels_default_weights():
    target = targets("softmax")
    gen = torch.Generator().manual_seed(3)
    ys = [torch.randn(2, 3, *(n // 2**i for n in SHAPE), generator=gen) for i in range(3)]
    loss = DeepSupervisionLoss(build_loss("tversky", softmax=True, to_onehot_y=True))  # count from the input
    ref = build_loss("tversky", softmax=True, to_onehot_y=True)
    expected = 2 / 3 * ref(ys[0], target) + 1 / 3 * ref(ys[1], sampled(target, ys[1].shape[2:]))
    torch.testing.assert_close(loss(ys, target), expected)


def test_per_channel_none_reduction_and_metatensor_input():
    from monai.data import MetaTensor

    target = targets("sigmoid")
    y0, y1 = levels_input()
    loss = DeepSupervisionLoss(build_loss("dice", sigmoid=True, reduction="none"), weights=TWO_LEVELS)
    value = loss((MetaTensor(y0), MetaTensor(y1)), MetaTensor(target))
    ref = build_loss("dice", sigmoid=True, reduction="none")
    expected = TWO_LEVELS[0] * ref(y0, target) + TWO_LEVELS[1] * ref(y1, sampled(target, y1.shape[2:]))
    assert type(value) is torch.Tensor and value.shape == (2, 3, 1, 1, 1)  # MONAI's DiceLoss "none" shape
    torch.testing.assert_close(value, expected)


# ---------------------------------------------------------------------------------------------- the maps
def maps_of(target, mode, kind):
    """The maps of a plain target per sample and class / region, with the transforms' scipy functions."""
    if mode == "softmax":
        masks = F.one_hot(target[:, 0].long(), 3).movedim(-1, 1).numpy() > 0
    else:
        masks = target.numpy() > 0.5
    if kind == "tubed_skeleton":  # one tube per sample, from the union of the foreground classes / regions
        union = masks[:, 1:].any(1) if mode == "softmax" else masks.any(1)
        return torch.from_numpy(np.stack([tubed_skeleton(u)[None] & m for u, m in zip(union, masks)]).astype("f4"))
    fn = {"components": lambda m: component_map(m, None)}.get(kind, lambda m: distance_map(m, kind == "signed"))
    return torch.from_numpy(np.stack([np.stack([fn(m) for m in sample]) for sample in masks]))


@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
@pytest.mark.parametrize("name", MAP_NAMES)
def test_map_losses_recompute_the_maps_at_every_level(name, mode):
    """Level 0 takes the transforms' maps from the target; level 1 the maps of the sampled target, recomputed
    (in that level's voxels): equal to the loss without maps in the target and to the reference computed here
    with scipy's maps of the sampled target."""
    kind = map_kind(name)
    target = targets(mode)
    y0, y1 = levels_input(seed=5)
    with_maps = torch.cat([target.float(), maps_of(target, mode, kind)], dim=1)
    in_target = DeepSupervisionLoss(build_loss(name, maps_in_target=True, **mode_kwargs(mode)), weights=TWO_LEVELS)
    computed = DeepSupervisionLoss(build_loss(name, **mode_kwargs(mode)), weights=TWO_LEVELS)
    value = in_target([y0, y1], with_maps)
    target1 = sampled(target, y1.shape[2:])
    ref = build_loss(name, maps_in_target=True, **mode_kwargs(mode))
    with torch.no_grad():
        expected = TWO_LEVELS[0] * ref(y0, with_maps) + TWO_LEVELS[1] * ref(
            y1, torch.cat([target1.float(), maps_of(target1, mode, kind)], dim=1)
        )
    torch.testing.assert_close(value.detach(), expected, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(computed([y0, y1], target).detach(), value.detach(), rtol=1e-6, atol=1e-8)
    value.backward()
    assert y0.grad.abs().sum() > 0 and y1.grad.abs().sum() > 0


def test_sampled_distance_maps_would_not_be_the_maps_of_the_sampled_target():
    """Why the maps are recomputed: the signed map sampled down and divided by the stride is not the signed map
    of the sampled mask."""
    a, _ = cubes(SHAPE, 0)
    full = torch.from_numpy(distance_map(a, True))[None, None]
    down_mask = downsample_target(torch.from_numpy(a)[None, None], (6, 6, 4))[0, 0].numpy()
    recomputed = torch.from_numpy(distance_map(down_mask, True))
    assert not torch.allclose(downsample_target(full, (6, 6, 4))[0, 0] / 2, recomputed)


def test_map_channels_wrong_count_raise():
    loss = DeepSupervisionLoss(build_loss("boundary", sigmoid=True, maps_in_target=True), weights=TWO_LEVELS)
    y0, y1 = levels_input()
    with pytest.raises(LossInputError, match="map channel"):
        loss([y0, y1], targets("sigmoid"))  # the maps are missing


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_problem():
    target = targets("sigmoid")
    y0, y1 = levels_input()
    y2 = torch.randn(2, 3, 3, 3, 2)
    loss = DeepSupervisionLoss(build_loss("dice", sigmoid=True), levels=2)
    with pytest.raises(LossInputError, match="list or tuple.*got a Tensor of shape"):
        loss(y0, target)
    with pytest.raises(LossInputError, match="gave 3 output level.*expects 2"):
        loss([y0, y1, y2], target)
    with pytest.raises(LossInputError, match="level 0 .*full resolution.*highest resolution first"):
        loss([y1, y0], target)
    with pytest.raises(LossInputError, match="level 1 has spatial shape \\(5, 6, 4\\).*whole factors"):
        loss([y0, torch.randn(2, 3, 5, 6, 4)], target)
    with pytest.raises(LossInputError, match="level 1 has batch and channels \\(2, 2\\)"):
        loss([y0, torch.randn(2, 2, 6, 6, 4)], target)
    with pytest.raises(LossInputError, match="level 1 has shape \\(2, 3, 6, 6\\)"):
        loss([y0, torch.randn(2, 3, 6, 6)], target)
    with pytest.raises(LossInputError, match="level 1 is a str"):
        loss([y0, "y1"], target)
    with pytest.raises(LossInputError, match="2 or more outputs"):
        DeepSupervisionLoss(build_loss("dice", sigmoid=True))([y0], target)
    with pytest.raises(LossInputError, match="different shapes"):
        DeepSupervisionLoss(build_loss("focal", sigmoid=True, reduction="none"), weights=TWO_LEVELS)([y0, y1], target)


def test_bad_arguments_raise():
    dice = build_loss("dice", sigmoid=True)
    with pytest.raises(ValueError, match="levels >= 2"):
        DeepSupervisionLoss(dice, levels=1)
    with pytest.raises(ValueError, match="levels=3 but 2 weights"):
        DeepSupervisionLoss(dice, levels=3, weights=[0.5, 0.5])
    for weights in ([1.0, -0.5], [0.0, 0.0], [float("nan"), 1.0], []):
        with pytest.raises(ValueError, match="weights must be finite"):
            DeepSupervisionLoss(dice, weights=weights)
    with pytest.raises(ValueError, match="loss module"):
        DeepSupervisionLoss("dice")


def test_the_bundle_factory():
    dice = build_loss("dice", sigmoid=True)
    assert deep_supervision_loss(dice, enabled=False, levels=3) is dice
    assert deep_supervision_loss(dice, enabled="False", levels=3) is dice
    wrapped = deep_supervision_loss(dice, enabled=True, levels=3, weights=None)
    assert isinstance(wrapped, DeepSupervisionLoss) and wrapped.loss is dice and wrapped.levels == 3
    assert deep_supervision_loss(dice, True, 3, [0.6, 0.3, 0.1]).weights == (0.6, 0.3, 0.1)


# ---------------------------------------------------------------------------------------------- compiled
@pytest.mark.compiled
@pytest.mark.parametrize("name, mode", [("asymmetric_unified_focal", "sigmoid"), ("boundary", "softmax")])
def test_compiled_levels_equal_eager_without_falling_back(name, mode, recwarn):
    """One loss instance serves every level (one compiled graph for level 0, one with dynamic shapes for the
    others): the compiled values equal the eager ones and nothing falls back to eager."""
    target = targets(mode)
    ys = [torch.randn(2, 3, *(n // 2**i for n in SHAPE), generator=torch.Generator().manual_seed(i)) for i in range(3)]
    compiled = DeepSupervisionLoss(build_loss(name, compile=True, **mode_kwargs(mode)), weights=(0.5, 0.3, 0.2))
    eager = DeepSupervisionLoss(build_loss(name, compile=False, **mode_kwargs(mode)), weights=(0.5, 0.3, 0.2))
    for _ in range(2):
        torch.testing.assert_close(compiled(ys, target), eager(ys, target), rtol=1e-5, atol=1e-6)
    assert not [w for w in recwarn if "torch.compile failed" in str(w.message)]
