"""Lesion-wise BraTS scores: against the official BraTS package on the same files, and against hand computations.

The official pipeline runs as its command line does: ``evaluate_single_exam`` with the bundled glioma config
(BraTS 2024 labels 1 NETC, 2 SNFH, 3 ET, 4 RC; TC = {1, 3}, WT = {1, 2, 3}, ET = {3}, RC = {4}) for every case,
the JSON summary, then ``metrics_parser.parse_seg_results`` to the challenge CSV. Files are 1 mm isotropic, as
BraTS data are (see ``brats_lesion_scores`` for what the official package does with other spacings).
"""

import json
import math
from importlib.resources import files

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from brats_evaluation.evaluation import evaluate_single_exam
from brats_evaluation.metrics_parser import parse_seg_results
from monai.transforms import LoadImage
from panoptica import Panoptica_Evaluator
from scipy.ndimage import gaussian_filter

from scripts.metrics.brats_lesion_metric import BraTSLesionMetric
from scripts.metrics.brats_lesion_scores import brats_lesion_scores

REGIONS = {"tc": (1, 3), "wt": (1, 2, 3), "et": (3,), "rc": (4,)}
COLUMNS = {
    "dice": "lesionwise_dsc_mean",
    "hd95": "lesionwise_hd95_mean",
    "nsd": "lesionwise_nsd_mean",
    "tp": "all_instance_tp",
    "fp": "all_instance_fp",
    "fn": "all_instance_fn",
    "sensitivity": "all_instance_rec",
    "precision": "all_instance_prec",
}


def _label_map(rng, shape):
    """Blobs of every label: several lesions per region, some touching, some apart."""
    lab = np.zeros(shape, np.uint8)
    for value, thr in ((2, 0.55), (1, 0.6), (3, 0.62), (4, 0.64)):
        lab[gaussian_filter(rng.random(shape), 1.0) > thr + rng.uniform(-0.02, 0.03)] = value
    return lab


def _cases(rng, n=10):
    out = []
    for i in range(n):
        shape = tuple(int(s) for s in rng.integers(12, 22, size=3))
        pred, ref = _label_map(rng, shape), _label_map(rng, shape)
        if i == 1:
            pred[pred == 3] = 0  # every enhancing lesion missed: lesion-wise Dice 0, HD95 inf
        if i == 2:
            ref[ref == 3] = 0  # enhancing lesions predicted where the reference has none
        if i == 3:
            pred[pred == 3] = 0  # no enhancing tumour in either: NaN, left out of the means
            ref[ref == 3] = 0
        if i == 4:
            pred[:] = 0  # empty prediction
        out.append((f"BraTS-GLI-{i:05d}-000", pred, ref))
    return out


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    cases = _cases(np.random.default_rng(14))
    root = tmp_path_factory.mktemp("lesionwise")
    evaluator = Panoptica_Evaluator.load_from_config(
        str(files("brats_evaluation").joinpath("configs", "config_gli.yaml"))
    )
    metrics, paths = [], []
    for name, pred, ref in cases:
        p, r = root / f"{name}-pred.nii.gz", root / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(pred, np.eye(4)), str(p))
        nib.save(nib.Nifti1Image(ref, np.eye(4)), str(r))
        result = evaluate_single_exam(str(p), str(r), f"{name}.nii.gz", evaluator)
        assert "error" not in result, result
        metrics.append(result)
        paths.append((str(p), str(r)))
    (root / "summary.json").write_text(json.dumps({"metrics": metrics, "missings": []}, default=float))
    parse_seg_results(str(root / "summary.json"), str(root / "summary.csv"))
    return cases, paths, pd.read_csv(root / "summary.csv").set_index("subject_id")


def _ours(paths, kind):
    """Our metric on the files as the bundle loads them (MetaTensors: the spacing comes from the affine)."""
    metric = BraTSLesionMetric(kind, reduction="none")
    load = LoadImage(image_only=True)
    for p, r in paths:
        pred, ref = load(p), load(r)
        to_regions = lambda x: torch.stack([torch.isin(x, torch.tensor(v)) for v in REGIONS.values()])[None].float()  # noqa: E731
        pr, rr = to_regions(pred), to_regions(ref)
        rr.affine = ref.affine
        metric(pr, rr)
    return metric


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_per_case_values_match_official(official, kind):
    cases, paths, table = official
    ours = _ours(paths, kind).aggregate().numpy()
    want = np.array([[table.loc[f"{n}.nii.gz", f"{COLUMNS[kind]}_{reg}"] for reg in REGIONS] for n, _, _ in cases])
    if kind == "hd95":
        assert np.isinf(want).sum() >= 2 and np.isnan(want).sum() == 1  # the edge cases ran
    if kind == "fp":
        assert (want > 0).sum() >= 10  # false-positive lesions occur
    np.testing.assert_allclose(ours, want, rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("kind", ["dice", "hd95", "nsd"])
def test_per_region_means_match_official_summary(official, kind):
    cases, paths, table = official
    ours = _ours(paths, kind).aggregate("mean_batch").numpy()
    want = np.array([table.loc["mean", f"{COLUMNS[kind]}_{reg}"] for reg in REGIONS])
    np.testing.assert_allclose(ours, want, rtol=1e-6, equal_nan=True)  # MONAI's reduction returns float32


def test_hand_computed_pair_with_anisotropic_spacing():
    """Reference lesion: 2 voxels along the last axis (3 mm apart); prediction: the first of them; plus a missed
    single-voxel lesion and a false-positive one. Surfaces are the voxels themselves."""
    ref = np.zeros((7, 7, 7), bool)
    pred = np.zeros_like(ref)
    ref[2, 2, 2] = ref[2, 2, 3] = True
    pred[2, 2, 2] = True
    ref[5, 5, 5] = True  # missed
    pred[0, 6, 0] = True  # false positive
    s = brats_lesion_scores(pred, ref, spacing=(1.0, 1.0, 3.0))
    assert (s.tp, s.fn, s.fp) == (1, 1, 1)
    assert s.dice == pytest.approx(2 / 3)
    # pooled distances [0 (ref a), 3 (ref b), 0 (pred a)]: 95th percentile 0 + 0.9 * 3
    assert s.hd95 == pytest.approx(2.7)
    # tolerance 1 mm: half of the reference surface, all of the prediction's -> (0.5 + 1) / 2
    assert s.nsd == pytest.approx(0.75)
    assert s.sensitivity == pytest.approx(0.5) and s.precision == pytest.approx(0.5)
    assert brats_lesion_scores(pred, ref, spacing=(3.0, 1.0, 1.0)).hd95 == pytest.approx(0.9)


def test_matching_is_one_to_one_by_best_dice():
    """One reference lesion split in two predicted pieces: the larger piece is the match, the other an FP."""
    ref = np.zeros((4, 12, 4), bool)
    ref[1:3, 1:10, 1:3] = True
    pred = np.zeros_like(ref)
    pred[1:3, 1:3, 1:3] = True  # small piece
    pred[1:3, 4:10, 1:3] = True  # large piece
    s = brats_lesion_scores(pred, ref)
    assert (s.tp, s.fp, s.fn) == (1, 1, 0)
    assert s.dice == pytest.approx(2 * 24 / (36 + 24))


def test_no_lesion_anywhere_is_nan_and_a_miss_is_zero_and_inf():
    empty = np.zeros((5, 5, 5), bool)
    s = brats_lesion_scores(empty, empty)
    assert math.isnan(s.dice) and math.isnan(s.hd95) and (s.tp, s.fp, s.fn) == (0, 0, 0)
    ref = empty.copy()
    ref[2, 2, 2] = True
    s = brats_lesion_scores(empty, ref)
    assert (s.dice, s.hd95, s.nsd, s.fn) == (0.0, math.inf, 0.0, 1)
