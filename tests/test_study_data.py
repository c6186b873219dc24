"""Synthetic study volumes: lesions of the preset's size classes, distractors labelled background, and imbalance
levels that change the foreground fraction but not the lesion sizes."""

import numpy as np
import pytest
from scipy.ndimage import label as cc

from tools.study.data import DISTRACTOR_CONTRAST, make_dataset, make_volume
from tools.study.presets import SIZE_CLASSES, get_preset


def _components(mask):
    lab, n = cc(mask, structure=np.ones((3, 3, 3)))
    return sorted(np.bincount(lab.ravel())[1:].tolist())


def test_volume_has_per_class_lesions_of_each_size_class():
    rng = np.random.default_rng(3)
    image, label = make_volume(rng, (48, 48, 48), SIZE_CLASSES, 2)
    sizes = _components(label.astype(bool))
    assert len(sizes) == 6
    for k, (lo, hi) in enumerate(SIZE_CLASSES):
        assert all(lo <= s <= hi for s in sizes[2 * k : 2 * k + 2]), sizes
    assert image.dtype == np.float32 and label.dtype == np.uint8


def test_distractors_are_bright_but_background():
    rng = np.random.default_rng(5)
    image, label = make_volume(rng, (48, 48, 48), SIZE_CLASSES, 1)
    # voxels brighter than the background by the distractor contrast, outside the label: the distractor balls
    smooth = image - np.median(image)
    bright_background = (smooth > DISTRACTOR_CONTRAST + 0.2) & (label == 0)
    lesion_mean = image[label == 1].mean()
    assert bright_background.sum() > 200
    assert lesion_mean - np.median(image) == pytest.approx(1.0, abs=0.2)


def test_levels_change_the_fraction_not_the_lesion_sizes():
    p = get_preset("cpu")
    medians, fractions = {}, {}
    for level in p.levels:
        labels = make_dataset(0, level, p.size_classes, 3, 1)["train"][1]
        sizes = [s for v in labels for s in _components(v[0].astype(bool))]
        medians[level.name] = float(np.median(sizes))
        fractions[level.name] = float(labels.mean())
    assert max(medians.values()) <= 2 * min(medians.values()), medians
    assert max(fractions.values()) >= 4 * min(fractions.values()), fractions


def test_too_small_volume_is_refused():
    with pytest.raises(ValueError, match="too small"):
        make_volume(np.random.default_rng(0), (12, 12, 12), SIZE_CLASSES, 1)
