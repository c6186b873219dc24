"""SignedDistanced and ConnectedComponentsd against scipy.ndimage written out here; units, channels, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from scipy import ndimage

from scripts.transforms import ConnectedComponentsd, SignedDistanced


def reference_signed(mask, sampling=None):
    """Kervadec et al.'s one_hot2dist for one channel: outside the distance to the object, inside minus (the
    distance to the background minus 1); zero without a boundary."""
    mask = mask.astype(bool)
    if mask.sum() == 0 or mask.sum() == mask.size:
        return np.zeros(mask.shape)
    neg = ~mask
    return (
        ndimage.distance_transform_edt(neg, sampling=sampling) * neg
        - (ndimage.distance_transform_edt(mask, sampling=sampling) - 1) * mask
    )


def reference_unsigned(mask):
    mask = mask.astype(bool)
    if mask.sum() == 0 or mask.sum() == mask.size:
        return np.zeros(mask.shape)
    return ndimage.distance_transform_edt(mask) + ndimage.distance_transform_edt(~mask)


def blobs(shape=(16, 16, 16), seed=0):
    """A few smooth blobs: thresholded smoothed noise (about 15 % of the voxels, several components)."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 1.5)
    return noise > np.quantile(noise, 0.85)


def test_signed_distance_per_region_channel_appended_to_the_label():
    regions = np.stack([blobs(seed=0), np.zeros((16, 16, 16), bool), np.ones((16, 16, 16), bool)]).astype(np.float32)
    out = SignedDistanced(keys="label")({"label": torch.from_numpy(regions)})["label"]
    assert out.shape == (6, 16, 16, 16) and out.dtype == torch.float32
    np.testing.assert_array_equal(out[:3].numpy(), regions)  # the label first, untouched
    np.testing.assert_allclose(out[3].numpy(), reference_signed(regions[0]), rtol=1e-6)
    assert not out[4].any() and not out[5].any()  # empty and full channels: no boundary, zero map
    # sign convention: negative (or 0 on the inner boundary) inside, >= 1 outside
    inside = regions[0] > 0
    assert (out[3].numpy()[inside] <= 0).all() and (out[3].numpy()[~inside] >= 1).all()


def test_signed_distance_of_a_single_voxel_and_of_classes_of_a_label_map():
    label = np.zeros((1, 5, 7), np.int64)
    label[0, 2, 3] = 1  # a single voxel: inside value -(1 - 1) = 0, outside the Euclidean distance to it
    label[0, 0, :2] = 2
    out = SignedDistanced(keys="label", num_classes=3, output_key="sdm")({"label": torch.from_numpy(label)})
    assert torch.equal(out["label"], torch.from_numpy(label))
    sdm = out["sdm"].numpy()
    assert sdm.shape == (3, 5, 7)
    for c in range(3):
        np.testing.assert_allclose(sdm[c], reference_signed(label[0] == c), rtol=1e-6)
    assert sdm[1, 2, 3] == 0 and sdm[1, 2, 5] == 2 and sdm[1, 0, 0] == pytest.approx(np.hypot(2, 3))


def test_unsigned_distance_is_monai_hausdorff_field():
    mask = blobs(shape=(12, 10, 8), seed=3)[None].astype(np.float32)
    out = SignedDistanced(signed=False, output_key="dt")({"label": torch.from_numpy(mask)})["dt"]
    np.testing.assert_allclose(out[0].numpy(), reference_unsigned(mask[0]), rtol=1e-6)


def test_physical_units_from_the_affine():
    mask = blobs(shape=(10, 12, 8), seed=5)[None].astype(np.float32)
    affine = torch.diag(torch.tensor([-0.8, 0.8, 2.5, 1.0], dtype=torch.float64))
    label = MetaTensor(torch.from_numpy(mask), affine=affine)
    out = SignedDistanced(units="physical")({"label": label})["label"]
    assert isinstance(out, MetaTensor) and torch.equal(out.affine, affine)  # meta kept
    np.testing.assert_allclose(out[1].numpy(), reference_signed(mask[0], sampling=(0.8, 0.8, 2.5)), rtol=1e-5)
    voxel = SignedDistanced(units="voxel")({"label": label})["label"]
    np.testing.assert_allclose(voxel[1].numpy(), reference_signed(mask[0]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"units='physical' needs the label as a MetaTensor with an affine"):
        SignedDistanced(units="physical")({"label": torch.from_numpy(mask), "case": "c1"})


def test_connected_components_full_and_face_connectivity():
    mask = np.zeros((1, 6, 6, 6), np.float32)
    mask[0, 0, 0, 0] = 1
    mask[0, 1, 1, 1] = 1  # touches the first by a corner only
    mask[0, 4:6, 4:6, 4:6] = 1
    full = ConnectedComponentsd()({"label": torch.from_numpy(mask)})["label"]
    assert full.shape == (2, 6, 6, 6)
    want, n = ndimage.label(mask[0], structure=np.ones((3, 3, 3)))
    assert n == 2
    np.testing.assert_array_equal(full[1].numpy(), want)
    faces = ConnectedComponentsd(connectivity=1, output_key="blobs")({"label": torch.from_numpy(mask)})["blobs"]
    want, n = ndimage.label(mask[0])  # scipy's default structure: faces only
    assert n == 3
    np.testing.assert_array_equal(faces[0].numpy(), want)


def test_connected_components_per_class_of_a_label_map_random():
    label = np.random.default_rng(0).integers(0, 3, (1, 16, 16, 16))
    out = ConnectedComponentsd(num_classes=3, output_key="blobs")({"label": torch.from_numpy(label)})["blobs"]
    for c in range(3):
        want, _ = ndimage.label(label[0] == c, structure=np.ones((3, 3, 3)))
        np.testing.assert_array_equal(out[c].numpy(), want)
    empty = ConnectedComponentsd()({"label": torch.zeros(1, 4, 4)})["label"]
    assert not empty[1].any()


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match=r"label values \[3\] \(case 'k1', key 'label'\) are not classes 0\.\.2"):
        SignedDistanced(num_classes=3)({"label": torch.full((1, 4, 4), 3), "case": "k1"})
    with pytest.raises(ValueError, match=r"num_classes=3 expects a label map of shape \(1, \*spatial\)"):
        SignedDistanced(num_classes=3)({"label": torch.zeros(2, 4, 4)})
    with pytest.raises(ValueError, match=r"channel-first label"):
        ConnectedComponentsd()({"label": torch.zeros(4)})
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        SignedDistanced()({"label": torch.full((1, 3, 3), float("nan"))})
    with pytest.raises(ValueError, match=r"units must be one of"):
        SignedDistanced(units="mm")
    with pytest.raises(ValueError, match=r"connectivity must be None \(full\) or an integer >= 1, got 0"):
        ConnectedComponentsd(connectivity=0)
    with pytest.raises(ValueError, match=r"connectivity must lie in \[1, 2\] for 2 spatial dims, got 3"):
        ConnectedComponentsd(connectivity=3)({"label": torch.zeros(1, 4, 4)})
    with pytest.raises(ValueError, match=r"num_classes must be None or an integer >= 1"):
        ConnectedComponentsd(num_classes=0)


def random_masks(shape, seed):
    """Masks that stress the maps: empty, full, a single voxel (at a corner and inside), salt noise at 30 % (many
    tiny components, touching by corners and edges), and smooth blobs."""
    rng = np.random.default_rng(seed)
    single = np.zeros(shape, bool)
    single[tuple(int(rng.integers(0, n)) for n in shape)] = True
    corner = np.zeros(shape, bool)
    corner[(0,) * len(shape)] = True
    smooth = ndimage.gaussian_filter(rng.standard_normal(shape), 1.0)
    return {
        "empty": np.zeros(shape, bool),
        "full": np.ones(shape, bool),
        "single voxel": single,
        "corner voxel": corner,
        "salt 30 %": rng.random(shape) < 0.3,
        "blobs": smooth > np.quantile(smooth, 0.7),
    }


SHAPES = [(23,), (9, 14), (7, 11, 6), (20, 17, 13)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("signed", [True, False])
def test_distances_equal_scipy_exactly_on_random_masks(shape, signed):
    """Voxel units: edt's squared distances are whole numbers, so every float32 value is scipy's."""
    for seed in range(3):
        for name, mask in random_masks(shape, seed).items():
            out = SignedDistanced(signed=signed, output_key="d")({"label": torch.from_numpy(mask[None])})["d"][0]
            want = reference_signed(mask) if signed else reference_unsigned(mask)
            np.testing.assert_array_equal(out.numpy(), want.astype(np.float32), err_msg=f"{name}, seed {seed}")


@pytest.mark.parametrize("spacing", [(0.8, 0.8, 2.5), (0.7, 1.3, 3.1), (1.0, 1.0, 1.0)], ids=str)
def test_distances_with_anisotropic_spacing_equal_scipy_within_float32_rounding(spacing):
    """Physical units: edt sums the squared physical offsets in float32, scipy in float64; they agree within 2
    units in the last place of the float32 distance (inside a signed map, ``1 - d``: of ``d``), exactly for a
    unit spacing."""
    affine = torch.diag(torch.tensor([*spacing, 1.0], dtype=torch.float64))
    for seed in range(2):
        for name, mask in random_masks((12, 9, 7), seed).items():
            label = MetaTensor(torch.from_numpy(mask[None].astype(np.float32)), affine=affine)
            out = SignedDistanced(units="physical", output_key="d")({"label": label})["d"][0].numpy()
            want = reference_signed(mask, sampling=spacing).astype(np.float32)
            if spacing == (1.0, 1.0, 1.0):
                np.testing.assert_array_equal(out, want, err_msg=name)
            else:
                distance = np.abs(want) + mask  # d of the voxel: 1 - d inside, d outside
                assert (np.abs(out - want) <= 2 * np.spacing(distance)).all(), name


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_components_are_scipys_partition_and_numbering_on_random_masks(shape):
    """Every connectivity: the same components with the same numbers (scipy's scan order of first voxels)."""
    for connectivity in [None, *range(1, len(shape) + 1)]:
        structure = ndimage.generate_binary_structure(len(shape), connectivity or len(shape))
        for seed in range(3):
            for name, mask in random_masks(shape, seed).items():
                data = {"label": torch.from_numpy(mask[None])}
                out = ConnectedComponentsd(connectivity=connectivity, output_key="c")(data)["c"][0]
                want, n = ndimage.label(mask, structure=structure)
                assert out.dtype == torch.float32 and int(out.max()) == n
                np.testing.assert_array_equal(out.numpy(), want, err_msg=f"{name}, connectivity {connectivity}")


def test_components_at_patch_size_keep_scipys_numbering():
    """A (3, 64^3) patch of many components of every size: the numbering agrees voxel for voxel."""
    rng = np.random.default_rng(7)
    smooth = [ndimage.gaussian_filter(rng.standard_normal((64, 64, 64)), s) for s in (0.7, 1.5, 3.0)]
    masks = np.stack([x > np.quantile(x, q) for x, q in zip(smooth, (0.9, 0.8, 0.95))])
    out = ConnectedComponentsd(output_key="c")({"label": torch.from_numpy(masks)})["c"].numpy()
    for c in range(3):
        want, n = ndimage.label(masks[c], structure=np.ones((3, 3, 3)))
        assert n > 1
        np.testing.assert_array_equal(out[c], want)
