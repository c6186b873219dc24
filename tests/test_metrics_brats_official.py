"""Our BraTS metrics against the official BraTS metrics package (``brats-evaluation``, PyPI) on the same files.

The official pipeline is run as its command line does: ``evaluate_single_exam`` with the bundled glioma config
for every case, the JSON summary, then ``metrics_parser.parse_seg_results`` to the challenge CSV (which turns
panoptica's infinite HD95 into 373). Labels use the BraTS 2023 convention that config expects (1 necrotic core,
2 oedema, 3 enhancing; TC = {1, 3}, WT = {1, 2, 3}, ET = {3}).
"""

import json
from importlib.resources import files

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from brats_evaluation.evaluation import evaluate_single_exam
from brats_evaluation.metrics_parser import parse_seg_results
from brats_metric_cases import brats_metric_cases
from panoptica import Panoptica_Evaluator
from scipy.ndimage import gaussian_filter

from scripts.metrics import BraTSRegionMetric

REGIONS = {"tc": (1, 3), "wt": (1, 2, 3), "et": (3,)}


def _label_map(rng, shape):
    lab = np.zeros(shape, np.uint8)
    for value, thr in ((2, 0.5), (1, 0.53), (3, 0.56)):
        lab[gaussian_filter(rng.random(shape), 1.5) > thr + rng.uniform(-0.02, 0.04)] = value
    return lab


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    rng = np.random.default_rng(2024)
    cases = brats_metric_cases(rng, 8, _label_map, (8, 18))
    root = tmp_path_factory.mktemp("official")
    config = str(files("brats_evaluation").joinpath("configs", "config_gli.yaml"))
    evaluator = Panoptica_Evaluator.load_from_config(config)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    metrics = []
    for name, pred, ref in cases:
        p, r = root / f"{name}-pred.nii.gz", root / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(pred, affine), str(p))
        nib.save(nib.Nifti1Image(ref, affine), str(r))
        result = evaluate_single_exam(str(p), str(r), f"{name}.nii.gz", evaluator)
        assert "error" not in result, result
        metrics.append(result)
    (root / "summary.json").write_text(json.dumps({"metrics": metrics, "missings": []}, default=float))
    parse_seg_results(str(root / "summary.json"), str(root / "summary.csv"))
    return cases, pd.read_csv(root / "summary.csv").set_index("subject_id")


def _ours(cases, kind):
    metric = BraTSRegionMetric(kind, reduction="none")
    for _, pred, ref in cases:
        p = np.stack([np.isin(pred, v) for v in REGIONS.values()])[None]
        r = np.stack([np.isin(ref, v) for v in REGIONS.values()])[None]
        metric(torch.as_tensor(p, dtype=torch.float32), torch.as_tensor(r, dtype=torch.float32))
    return metric


@pytest.mark.parametrize("kind, column", [("dice", "global_dsc"), ("hd95", "global_hd95")])
def test_per_case_values_match_official(official, kind, column):
    cases, table = official
    ours = _ours(cases, kind).aggregate().numpy()
    want = np.array([[table.loc[f"{name}.nii.gz", f"{column}_{reg}"] for reg in REGIONS] for name, _, _ in cases])
    assert np.isnan(want).sum() == 1 and (want == (0.0 if kind == "dice" else 373.0)).sum() >= 3  # edge cases ran
    np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("kind, column", [("dice", "global_dsc"), ("hd95", "global_hd95")])
def test_per_region_means_match_official_summary(official, kind, column):
    cases, table = official
    ours = _ours(cases, kind).aggregate("mean_batch").numpy()
    want = np.array([table.loc["mean", f"{column}_{reg}"] for reg in REGIONS])
    np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-5)
