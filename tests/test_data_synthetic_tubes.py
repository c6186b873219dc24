"""Synthetic tubular trees: one connected component per tree, tubes 1-3 voxels wide (by the distance transform),
distractors bright in the image but background in the label, reproducible from the seed."""

import cc3d
import numpy as np
import pytest
from scipy.ndimage import binary_dilation, distance_transform_edt

from scripts.data.synthetic_tubes import (
    BLOB_CONTRAST,
    SEGMENT_CONTRAST,
    TUBE_CONTRAST,
    footprint,
    make_tube_split,
    make_tube_volume,
)


def _components(mask: np.ndarray) -> int:
    return int(cc3d.connected_components(mask.astype(np.uint8), connectivity=26 if mask.ndim == 3 else 8).max())


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_trees", [1, 3])
def test_each_tree_is_one_component_3d(seed, n_trees):
    _, label = make_tube_volume(np.random.default_rng(seed), (40, 40, 40), n_trees=n_trees)
    assert _components(label) == n_trees
    assert label.sum() > 20 * n_trees  # trees, not lone root voxels


@pytest.mark.parametrize("seed", range(4))
def test_each_tree_is_one_component_2d(seed):
    _, label = make_tube_volume(np.random.default_rng(seed), (64, 64), n_trees=2)
    assert _components(label) == 2


@pytest.mark.parametrize("seed", range(8))
def test_tubes_are_one_to_three_voxels_wide(seed):
    # distance to the background: 1 on a 1-voxel line, 2 at the centre of a 3-wide tube, 2.5+ from 4 wide on
    _, label = make_tube_volume(np.random.default_rng(seed), (40, 40, 40), widths=(1, 3), n_trees=3)
    edt = distance_transform_edt(label)
    assert edt.max() <= 2.0
    assert edt.max() > 1.0  # the roots are wider than one voxel
    _, thin = make_tube_volume(np.random.default_rng(seed), (40, 40, 40), widths=(1, 1), n_trees=3)
    assert distance_transform_edt(thin).max() == 1.0  # every voxel of a width-1 tree touches the background


def test_width_three_tube_is_three_voxels_across():
    # a straight run along axis 0: the cross footprint makes a 3 x 3 plus-shaped section, 3 voxels across
    section = np.zeros((5, 5), bool)
    offsets = footprint(3, 3)
    section[tuple((offsets[offsets[:, 0] == 0][:, 1:] + 2).T)] = True
    assert section.sum(axis=0).max() == 3 and section.sum(axis=1).max() == 3 and section.sum() == 5
    assert footprint(1, 3).tolist() == [[0, 0, 0]] and len(footprint(2, 3)) == 8
    with pytest.raises(ValueError, match="1, 2 or 3"):
        footprint(4, 3)


@pytest.mark.parametrize("shape", [(40, 40, 40), (64, 64)])
def test_distractors_are_bright_background_away_from_the_trees(shape):
    # the same seed without distractors gives the same trees and background: the difference is the distractors
    image, label = make_tube_volume(np.random.default_rng(11), shape, n_blobs=4, n_segments=4)
    plain, plain_label = make_tube_volume(np.random.default_rng(11), shape, n_blobs=0, n_segments=0)
    assert np.array_equal(label, plain_label)
    added = image - plain
    distractor = np.abs(added) > 1e-6
    assert distractor.sum() >= 4 * 7 + 4 * 4  # 4 blobs (>= 7 voxels each at radius >= 1.5) and 4 segments
    assert np.allclose(added[distractor], BLOB_CONTRAST) and BLOB_CONTRAST == SEGMENT_CONTRAST
    near = binary_dilation(label.astype(bool), structure=np.ones((3,) * len(shape), bool))
    assert not (distractor & near).any()  # outside the label and never touching a tree
    ring = near & ~label.astype(bool)  # the local background of the tubes
    assert image[label.astype(bool)].mean() - image[ring].mean() == pytest.approx(TUBE_CONTRAST, abs=0.15)


def test_distractor_masks_never_overlap_the_label():
    from scripts.data.synthetic_tubes import distractor_masks

    rng = np.random.default_rng(4)
    _, label = make_tube_volume(rng, (40, 40, 40))
    blobs, segments = distractor_masks(rng, label.shape, label.astype(bool), 6, 6)
    structure = np.ones((3, 3, 3), bool)
    near = binary_dilation(label.astype(bool), structure=structure)
    assert blobs.any() and segments.any()
    assert not (near & (blobs | segments)).any()
    # an isolated segment is one voxel wide and its own component(s), never joined to a tree
    assert _components(label.astype(bool) | segments) == _components(label) + _components(segments)


def test_same_seed_same_volumes_other_seed_other_volumes():
    a = make_tube_split(3, 2, (32, 32, 32))
    b = make_tube_split(3, 2, (32, 32, 32))
    c = make_tube_split(4, 2, (32, 32, 32))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert a[0].shape == (2, 1, 32, 32, 32) and a[0].dtype == np.float32 and a[1].dtype == np.uint8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (8, 8, 8)}, "at least 16"),
        ({"shape": (32,) * 4}, "2 or 3 axes"),
        ({"widths": (2, 1)}, "thinnest"),
        ({"widths": (1, 4)}, "thinnest"),
        ({"n_trees": 0}, "n_trees"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    kwargs = {"shape": (32, 32, 32)} | kwargs
    with pytest.raises(ValueError, match=match):
        make_tube_volume(np.random.default_rng(0), **kwargs)
