"""BraTS Dice/HD95: hand-computed values and an independent brute-force float64 re-implementation."""

import math

import numpy as np
import pytest
import torch
from ignite.engine import Engine

from scripts.metrics import BRATS_HD95_MISSING, BraTSDice, BraTSHD95, BraTSRegionMetric, brats_dice, brats_hd95


def _surface_brute(mask: np.ndarray) -> np.ndarray:
    """Foreground voxels with a face neighbour that is background or outside the array (official definition)."""
    pts = []
    for idx in zip(*np.nonzero(mask)):
        for axis in range(mask.ndim):
            for step in (-1, 1):
                nb = list(idx)
                nb[axis] += step
                if nb[axis] < 0 or nb[axis] >= mask.shape[axis] or not mask[tuple(nb)]:
                    pts.append(idx)
                    break
            else:
                continue
            break
    return np.array(pts, dtype=np.float64).reshape(-1, mask.ndim)


def _percentile_linear(values: np.ndarray, q: float) -> float:
    v = np.sort(values)
    rank = q / 100.0 * (len(v) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(v) - 1)
    return float(v[lo] + (rank - lo) * (v[hi] - v[lo]))


def _reference_metrics(pred: np.ndarray, ref: np.ndarray, spacing=None) -> tuple[float, float]:
    """Dice and HD95 from the written definition: counts, surfaces by neighbour test, all-pairs distances."""
    p, r = pred.astype(bool), ref.astype(bool)
    tp = np.logical_and(p, r).sum()
    if tp == 0:
        return (math.nan, math.nan) if p.sum() + r.sum() == 0 else (0.0, 373.0)
    dice = 2.0 * tp / (p.sum() + r.sum())
    scale = np.ones(p.ndim) if spacing is None else np.asarray(spacing, dtype=np.float64)
    sp, sr = _surface_brute(p) * scale, _surface_brute(r) * scale
    dist = np.sqrt(((sp[:, None, :] - sr[None, :, :]) ** 2).sum(-1))
    pooled = np.concatenate([dist.min(axis=1), dist.min(axis=0)])
    return float(dice), _percentile_linear(pooled, 95)


def _random_pair(rng, shape):
    from scipy.ndimage import gaussian_filter

    def blob(thr):
        return gaussian_filter(rng.random(shape), 1.2) > thr

    return blob(0.5 + rng.uniform(0, 0.04)), blob(0.5 + rng.uniform(0, 0.04))


def test_dice_and_hd95_by_hand_1d():
    # ref covers 1..3, pred 1..6: surfaces {1,3} and {1,6}; distances pred->ref [0,3], ref->pred [0,2]
    ref = np.zeros(10)
    ref[1:4] = 1
    pred = np.zeros(10)
    pred[1:7] = 1
    assert brats_dice(pred, ref) == pytest.approx(2 * 3 / (6 + 3))
    # pooled [0,0,2,3]: rank 0.95*3 = 2.85 -> 2 + 0.85 * (3 - 2)
    assert brats_hd95(pred, ref) == pytest.approx(2.85)
    assert brats_hd95(pred, ref, spacing=[2.0]) == pytest.approx(5.7)


def test_dice_and_hd95_by_hand_3d_shifted_cube():
    ref = np.zeros((8, 8, 8))
    ref[2:5, 2:5, 2:5] = 1
    pred = np.roll(ref, 1, axis=0)
    assert brats_dice(pred, ref) == pytest.approx(2 * 18 / 54)
    # each 3x3x3 cube: 26 surface voxels; 10 of them per direction are 1 voxel away, the rest on the other surface
    assert brats_hd95(pred, ref) == pytest.approx(1.0)
    # shift along an axis of spacing 3: pooled distances 0 (32x), 1 (2x: face centres reach the other cube's side
    # in-plane), 3 (18x); rank 0.95 * 51 = 48.45 falls among the 3s
    pred_z = np.roll(ref, 1, axis=2)
    assert brats_hd95(pred_z, ref, spacing=(1.0, 1.0, 3.0)) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "pred_on, ref_on, dice, hd95",
    [
        (False, False, math.nan, math.nan),  # both empty: left out of the means
        (False, True, 0.0, BRATS_HD95_MISSING),  # missed region
        (True, False, 0.0, BRATS_HD95_MISSING),  # false-positive region
    ],
)
def test_empty_region_convention(pred_on, ref_on, dice, hd95):
    pred = np.zeros((6, 6, 6))
    ref = np.zeros((6, 6, 6))
    pred[1:3, 1:3, 1:3] = pred_on
    ref[1:3, 1:3, 1:3] = ref_on
    for got, want in ((brats_dice(pred, ref), dice), (brats_hd95(pred, ref), hd95)):
        assert (math.isnan(got) and math.isnan(want)) or got == want


def test_disjoint_masks_are_zero_dice_and_missing_hd95():
    pred = np.zeros((10, 10, 10))
    ref = np.zeros((10, 10, 10))
    pred[0:2, 0:2, 0:2] = 1
    ref[7:9, 7:9, 7:9] = 1
    assert brats_dice(pred, ref) == 0.0
    assert brats_hd95(pred, ref) == BRATS_HD95_MISSING
    assert brats_hd95(pred, ref, no_overlap_value=math.inf) == math.inf


@pytest.mark.parametrize("seed", range(6))
def test_matches_bruteforce_reimplementation(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(5, 14, size=3))
    pred, ref = _random_pair(rng, shape)
    spacing = None if seed % 2 else tuple(float(s) for s in rng.uniform(0.5, 2.5, size=3))
    want_dice, want_hd = _reference_metrics(pred, ref, spacing)
    got_dice, got_hd = brats_dice(pred, ref), brats_hd95(pred, ref, spacing=spacing)
    for got, want in ((got_dice, want_dice), (got_hd, want_hd)):
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-9)


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match=r"same shape.*\(4, 4\).*\(4, 5\)"):
        brats_dice(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="spacing"):
        brats_hd95(np.ones((4, 4, 4)), np.ones((4, 4, 4)), spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match="kind"):
        BraTSRegionMetric("hd100")
    with pytest.raises(ValueError, match="same shape"):
        BraTSRegionMetric("dice")(torch.zeros(1, 3, 4, 4, 4), torch.zeros(1, 2, 4, 4, 4))


def test_region_metric_batch_values_and_nan_aware_reduction():
    rng = np.random.default_rng(7)
    shape = (9, 10, 8)
    preds, refs = np.zeros((2, 3) + shape), np.zeros((2, 3) + shape)
    for b in range(2):
        for c in range(3):
            preds[b, c], refs[b, c] = _random_pair(rng, shape)
    preds[1, 2] = 0  # case 1, region 2 empty in both: NaN, excluded from the means
    refs[1, 2] = 0
    want = np.array([[_reference_metrics(preds[b, c], refs[b, c]) for c in range(3)] for b in range(2)])
    for kind, k in (("dice", 0), ("hd95", 1)):
        metric = BraTSRegionMetric(kind, reduction="none")
        metric(torch.as_tensor(preds[:1]), torch.as_tensor(refs[:1]))  # two iterations, as an evaluator does
        metric(torch.as_tensor(preds[1:]), torch.as_tensor(refs[1:]))
        got = metric.aggregate().numpy()
        np.testing.assert_allclose(got, want[..., k], rtol=1e-6, atol=1e-5, equal_nan=True)
        per_case = np.nanmean(want[..., k], axis=1)
        assert float(metric.aggregate("mean")) == pytest.approx(per_case.mean(), rel=1e-6)
        np.testing.assert_allclose(metric.aggregate("mean_batch").numpy(), np.nanmean(want[..., k], axis=0), 1e-6)


def test_all_nan_aggregate_stays_nan():
    metric = BraTSRegionMetric("dice")
    metric(torch.zeros(2, 3, 4, 4, 4), torch.zeros(2, 3, 4, 4, 4))
    assert math.isnan(float(metric.aggregate()))


def test_handlers_report_scalar_and_per_case_details():
    pred = torch.zeros(1, 1, 8, 8, 8)
    ref = torch.zeros(1, 1, 8, 8, 8)
    ref[0, 0, 2:5, 2:5, 2:5] = 1
    pred[0, 0, 3:6, 2:5, 2:5] = 1
    engine = Engine(lambda e, b: b)
    BraTSDice(output_transform=lambda out: out).attach(engine, "dice")
    BraTSHD95(output_transform=lambda out: out).attach(engine, "hd95")
    engine.run([(pred, ref), (ref, ref)], max_epochs=1)
    assert engine.state.metrics["dice"] == pytest.approx((2 / 3 + 1.0) / 2)
    assert engine.state.metrics["hd95"] == pytest.approx((1.0 + 0.0) / 2)
    np.testing.assert_allclose(engine.state.metric_details["dice"].numpy(), [[2 / 3], [1.0]], rtol=1e-6)


def test_hd95_distances_through_edt_are_scipys_exactly():
    """The voxel-unit distances behind HD95 come from edt; on random masks every value is scipy's."""
    from scipy.ndimage import distance_transform_edt

    from scripts.metrics.brats_region_scores import _distances_to, _surface

    rng = np.random.default_rng(3)
    for shape in ((17,), (13, 9), (12, 10, 7)):
        for p in (0.01, 0.2, 0.6):
            surface = _surface(rng.random(shape) < p)
            if surface.any():
                np.testing.assert_array_equal(_distances_to(surface, None), distance_transform_edt(~surface))
