"""Study data: the rare-class fraction of the generated volumes, counted independently of the generator."""

import numpy as np
import pytest
from scipy import ndimage

from tools.study.data import make_dataset, make_volume


@pytest.mark.parametrize(
    "level, expected_voxels",
    # 40*40*24 = 38400 voxels: 1 % -> 384, 0.1 % -> 38.4 -> 38, 0.01 % -> 3.84 -> 4 (rounded by hand)
    [(0.01, 384), (0.001, 38), (0.0001, 4)],
)
def test_rare_fraction_is_the_requested_level(level, expected_voxels):
    data = make_dataset(seed=3, level=level, shape=(40, 40, 24), blobs=1, n_train=3, n_val=1, n_test=1)
    for split in ("train", "val", "test"):
        images, labels = data[split]
        assert images.shape[1:] == (1, 40, 40, 24) and labels.shape == images.shape
        for lab in labels:
            count = int(np.count_nonzero(lab))
            assert count == expected_voxels
            fraction = count / lab.size
            assert abs(fraction - level) <= 0.5 / lab.size + 1e-12  # only rounding to whole voxels
            assert abs(fraction - level) / level < 0.05


def test_each_object_is_one_compact_component_brighter_than_background():
    rng = np.random.default_rng(0)
    image, label = make_volume(rng, (32, 32, 16), 0.005, blobs=2)
    assert int(label.sum()) == round(0.005 * 32 * 32 * 16)  # 81.92 -> 82
    components, n = ndimage.label(label)
    assert 1 <= n <= 2
    assert image[label == 1].mean() > image[label == 0].mean() + 0.5


def test_same_seed_same_data_other_seed_other_data():
    a = make_dataset(1, 0.01, (16, 16, 16), 1, 2, 1, 1)
    b = make_dataset(1, 0.01, (16, 16, 16), 1, 2, 1, 1)
    c = make_dataset(2, 0.01, (16, 16, 16), 1, 2, 1, 1)
    np.testing.assert_array_equal(a["train"][0], b["train"][0])
    assert not np.array_equal(a["train"][1], c["train"][1])
    assert not np.array_equal(a["train"][1], a["test"][1])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_bad_fraction_is_rejected(fraction):
    with pytest.raises(ValueError, match="fraction"):
        make_volume(np.random.default_rng(0), (8, 8, 8), fraction)
