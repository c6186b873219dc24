"""KiTS19 metrics against hand counts, a transcription of the challenge's evaluation code and a brute-force
float64 HD95 written here from the definition (no scipy, no MONAI)."""

import itertools
import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from scripts.metrics import KiTSRegionMetric, kits_case_metrics, kits_hd95
from scripts.metrics.kits_region_scores import image_diagonal, kits_region_masks


def official_kits19_dice(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """The Dice lines of the KiTS19 starter code's ``evaluation.evaluate`` (kidney+tumour, tumour)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        tk_pd, tk_gt = np.greater(pred, 0), np.greater(gt, 0)
        tk = 2 * np.logical_and(tk_pd, tk_gt).sum() / (tk_pd.sum() + tk_gt.sum())
        tu_pd, tu_gt = np.greater(pred, 1), np.greater(gt, 1)
        tu = 2 * np.logical_and(tu_pd, tu_gt).sum() / (tu_pd.sum() + tu_gt.sum())
    return float(tk), float(tu)


def surface_voxels(mask: np.ndarray) -> np.ndarray:
    """Indices of foreground voxels with a face neighbour outside the mask (the array edge counts as outside)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[1:-1, 1:-1, 1:-1].copy()
    for axis, step in itertools.product(range(3), (-1, 1)):
        inner &= np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1]
    return np.argwhere(mask & ~inner)


def brute_hd95(pred: np.ndarray, ref: np.ndarray, spacing) -> float:
    """max of the two directed 95th percentiles (linear interpolation) of surface-to-surface distances in mm."""
    sp = np.asarray(spacing, dtype=np.float64)
    a, b = surface_voxels(pred.astype(bool)) * sp, surface_voxels(ref.astype(bool)) * sp
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return float(max(np.percentile(d.min(1), 95), np.percentile(d.min(0), 95)))


def _label(shape=(6, 7, 8)):
    ref = np.zeros(shape, dtype=np.int64)
    ref[1:5, 2:6, 2:7] = 1  # kidney 4*4*5 = 80 voxels
    ref[2:4, 3:5, 3:5] = 2  # tumour 2*2*2 = 8 voxels inside it
    return ref


def test_dice_by_hand():
    ref = _label()
    pred = ref.copy()
    pred[1, 2:6, 2:7] = 0  # drop one kidney slice: 20 voxels, no tumour there
    pred[2, 3:5, 3:5] = 1  # 4 tumour voxels called kidney
    pred[0, 0, 0] = 2  # one false-positive tumour voxel
    m = kits_case_metrics(pred, ref, spacing=(1.0, 1.0, 1.0))
    # kidney+tumour: |P| = 80 - 20 + 1 = 61, |R| = 80, |P & R| = 60
    assert m["dice_kidney_and_tumour"] == pytest.approx(2 * 60 / (61 + 80))
    # tumour: |P| = 4 + 1 = 5, |R| = 8, |P & R| = 4
    assert m["dice_tumour"] == pytest.approx(2 * 4 / (5 + 8))


def test_regions_are_label_above_0_and_above_1():
    label = np.array([[[0, 1, 2, 2]]])
    masks = kits_region_masks(label)
    np.testing.assert_array_equal(masks[0], [[[False, True, True, True]]])
    np.testing.assert_array_equal(masks[1], [[[False, False, True, True]]])


def test_dice_equals_the_challenge_code_on_random_label_maps():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ref = rng.choice(3, size=(5, 6, 7), p=[0.6, 0.3, 0.1])
        pred = np.where(rng.random(ref.shape) < 0.2, rng.choice(3, size=ref.shape), ref)
        m = kits_case_metrics(pred, ref, spacing=(3.0, 0.8, 0.8))
        tk, tu = official_kits19_dice(pred, ref)
        assert m["dice_kidney_and_tumour"] == pytest.approx(tk, abs=1e-12)
        assert m["dice_tumour"] == pytest.approx(tu, abs=1e-12)


def test_empty_regions():
    empty = np.zeros((4, 5, 6), dtype=np.int64)
    # both empty: the challenge code's 0/0 is NaN; so is ours (left out of means)
    assert math.isnan(official_kits19_dice(empty, empty)[1])
    m = kits_case_metrics(empty, empty)
    assert all(math.isnan(v) for v in m.values())
    # one side empty: Dice 0; HD95 the image diagonal: sqrt((3*3)^2 + (4*1)^2 + (5*2)^2) = sqrt(197) mm
    ref = empty.copy()
    ref[1:3, 1:3, 1:3] = 2
    m = kits_case_metrics(empty, ref, spacing=(3.0, 1.0, 2.0))
    assert m["dice_tumour"] == 0.0 and m["dice_kidney_and_tumour"] == 0.0
    assert m["hd95_tumour"] == pytest.approx(math.sqrt(197.0))
    assert image_diagonal((4, 5, 6), (3.0, 1.0, 2.0)) == pytest.approx(math.sqrt(197.0))
    assert kits_hd95(ref > 0, empty > 0, spacing=(3.0, 1.0, 2.0)) == pytest.approx(math.sqrt(197.0))


def test_hd95_by_hand_anisotropic():
    ref = np.zeros((5, 5, 5), dtype=bool)
    ref[1:3, 1:3, 1:3] = True  # 8 voxels, all on the surface
    pred = np.zeros_like(ref)
    pred[1:4, 1:3, 1:3] = True  # 12 voxels, 4 of them one slice further along axis 0
    # pred -> ref: 8 distances 0 and 4 distances 3 mm (one step along axis 0, spacing 3): P95 = 3;
    # ref -> pred: all 0. HD95 = 3 mm. Along axis 2 (spacing 0.5) the same shift is 0.5 mm.
    assert kits_hd95(pred, ref, spacing=(3.0, 1.0, 0.5)) == pytest.approx(3.0)
    assert kits_hd95(pred.transpose(2, 1, 0), ref.transpose(2, 1, 0), spacing=(3.0, 1.0, 0.5)) == pytest.approx(0.5)


def test_hd95_equals_brute_force_on_random_masks():
    rng = np.random.default_rng(1)
    spacing = (3.0, 0.78, 0.78)
    for _ in range(10):
        ref = np.zeros((7, 9, 9), dtype=bool)
        ref[rng.integers(0, 3) : rng.integers(4, 7), rng.integers(0, 4) : rng.integers(5, 9), 2:7] = True
        pred = ref ^ (rng.random(ref.shape) < 0.15)
        assert kits_hd95(pred, ref, spacing) == pytest.approx(brute_hd95(pred, ref, spacing), rel=1e-5)
    # disjoint masks have a finite HD95 (no BraTS-style 373)
    a = np.zeros((3, 3, 12), dtype=bool)
    b = a.copy()
    a[:, :, :2], b[:, :, 10:] = True, True
    assert kits_hd95(a, b, (1.0, 1.0, 2.0)) == pytest.approx(brute_hd95(a, b, (1.0, 1.0, 2.0)))


def test_metric_reads_each_case_spacing_from_its_affine():
    ref = torch.as_tensor(_label())
    pred = ref.clone()
    pred[3:5, 2:6, 2:7] = 0
    pred[0, 0, 0] = 2
    # KiTS19-style permuted affines: array axis 0 is the axial one (first column), spacing = column norms
    kits_affine = torch.tensor([[0.0, 0, -0.8, 0], [0, -0.7, 0, 0], [-3.0, 0, 0, 0], [0, 0, 0, 1]])
    y = [
        MetaTensor(ref[None], affine=kits_affine),
        MetaTensor(ref[None], affine=torch.diag(torch.tensor([2.0, 1, 1, 1]))),
    ]
    y_pred = [pred[None].clone(), pred[None].clone()]
    metric = KiTSRegionMetric("hd95")
    metric(y_pred, y)
    values = metric.get_buffer()
    for b, spacing in enumerate([(3.0, 0.7, 0.8), (2.0, 1.0, 1.0)]):
        for c, threshold in enumerate((0, 1)):
            expected = brute_hd95(pred.numpy() > threshold, ref.numpy() > threshold, spacing)
            assert float(values[b, c]) == pytest.approx(expected, rel=1e-5)
    assert float(metric.aggregate()) == pytest.approx(float(values.mean()))


def test_metric_mean_leaves_out_cases_without_the_region():
    ref = torch.as_tensor(_label())[None, None].float()
    no_tumour = torch.where(ref == 2, torch.ones_like(ref), ref)  # tumour in neither prediction nor reference
    pred_half = ref.clone()
    pred_half[..., 1:3, :, :] = 0
    metric = KiTSRegionMetric("dice", regions=["tumour"], spacing=(1.0, 1.0, 1.0))
    metric(torch.cat([pred_half, no_tumour]), torch.cat([ref, no_tumour]))
    values = metric.get_buffer()
    # case 0: tumour slices 2 and 3 of the reference, slice 2 removed from the prediction: 4 of 8 voxels kept
    assert float(values[0, 0]) == pytest.approx(2 * 4 / (4 + 8))
    assert math.isnan(float(values[1, 0]))
    assert float(metric.aggregate()) == pytest.approx(2 * 4 / 12)


def test_bad_inputs_are_named():
    ref = _label()
    with pytest.raises(ValueError, match=r"values \[3\] outside the KiTS19 classes"):
        kits_case_metrics(np.where(ref == 2, 3, ref), ref)
    with pytest.raises(ValueError, match="same shape"):
        kits_case_metrics(ref[:-1], ref)
    with pytest.raises(ValueError, match="one positive size per axis"):
        kits_hd95(ref > 0, ref > 0, spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match="regions must be"):
        KiTSRegionMetric("dice", regions=["kidney"])
    with pytest.raises(ValueError, match="kind must be"):
        KiTSRegionMetric("hd99")
    one_hot = torch.zeros(1, 3, 4, 4, 4)
    with pytest.raises(ValueError, match=r"label maps \(B, 1, spatial"):
        KiTSRegionMetric("dice")(one_hot, one_hot)
    plain = torch.as_tensor(ref)[None, None]
    with pytest.raises(ValueError, match="no affine to read the voxel spacing"):
        KiTSRegionMetric("hd95")(plain, plain)
