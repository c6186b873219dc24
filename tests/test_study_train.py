"""Study runs: the same patches for every loss at a seed, and the per-case outcomes against hand values."""

import numpy as np
import pytest
import torch

from tools.study.presets import get_preset
from tools.study.train import case_outcomes, make_sampler, patch_batch


@pytest.fixture(scope="module")
def volumes():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((3, 1, 32, 32, 32)).astype(np.float32)
    labels = np.zeros(images.shape, np.uint8)
    labels[:, :, 10:14, 10:14, 10:14] = 1
    return images, labels


@pytest.mark.parametrize("sampler", ["uniform", "foreground"])
def test_patches_depend_on_seed_and_iteration_only(volumes, sampler):
    p = get_preset("micro")
    images, labels = volumes
    first = patch_batch(make_sampler(sampler, p), sampler, p, images, labels, seed=1, iteration=7)
    np.random.seed(123)  # what a loss or another run could do to global streams
    torch.manual_seed(99)
    np.random.rand(10)
    other = make_sampler(sampler, p)
    patch_batch(other, sampler, p, images, labels, seed=1, iteration=3)  # a sampler that already drew
    second = patch_batch(other, sampler, p, images, labels, seed=1, iteration=7)
    assert first[0].shape == (p.num_samples, 1, *p.patch)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    later = patch_batch(other, sampler, p, images, labels, seed=1, iteration=8)
    assert not torch.equal(first[0], later[0])


def test_foreground_sampler_oversamples_lesions():
    p = get_preset("micro")
    images = np.zeros((2, 1, 64, 64, 64), np.float32)
    labels = np.zeros(images.shape, np.uint8)
    labels[:, :, 40:44, 40:44, 40:44] = 1  # a uniform 16^3 patch holds it with probability ~ (19/49)^3 = 6 %
    hits = {}
    for name in ("uniform", "foreground"):
        s = make_sampler(name, p)
        hits[name] = np.mean([float(patch_batch(s, name, p, images, labels, 0, i)[1].amax(dim=(1, 2, 3, 4)).mean())
                              for i in range(40)])  # fmt: skip
    # pos=1, neg=1: about half the patches centred on a lesion voxel, plus uniform's own chance
    assert hits["foreground"] > hits["uniform"] + 0.15, hits


def test_case_outcomes_hand_case():
    ref = np.zeros((12, 12, 12), bool)
    ref[0:3, 0:3, 0:3] = True  # 27 voxels
    ref[8:10, 8:10, 8:10] = True  # 8 voxels, missed
    pred = np.zeros_like(ref)
    pred[0:3, 0:3, 0:2] = True  # 18 voxels on the first lesion: lesion Dice 0.8
    pred[11, 0, 11] = True  # a false-positive lesion
    case, lesions = case_outcomes(pred, ref)
    assert case["dice"] == pytest.approx(2 * 18 / (19 + 35))
    assert case["sensitivity"] == 0.5 and case["fp_lesions"] == 1 and case["n_lesions"] == 2
    assert case["lesion_dice"] == pytest.approx((0.8 + 0.0) / 2)
    assert lesions == [
        {"lesion_voxels": 27, "detected": 1, "lesion_dice": pytest.approx(0.8)},
        {"lesion_voxels": 8, "detected": 0, "lesion_dice": 0.0},
    ]
    empty, _ = case_outcomes(np.zeros_like(ref), ref)
    assert empty["hd95"] == pytest.approx(np.sqrt(3 * 12**2)) and empty["sensitivity"] == 0.0
