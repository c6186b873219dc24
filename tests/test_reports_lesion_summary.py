"""LesionSummary: lesion detection totals counted by hand, the worst-case figure written, linked and readable."""

import json
import os
import stat

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor
from PIL import Image

from scripts.reports import LesionSummary, write_case_report
from scripts.reports.worst_case_figure import title, worst_slice

SHAPE = (32, 32, 32)


def _cube(mask, corner, size):
    mask[tuple(slice(c, c + size) for c in corner)] = True


def _case(seed, affine=None):
    """Region channels TC, WT, ET. TC: two reference lesions, one found (shifted by a voxel), one missed, one
    false-positive lesion. WT: one lesion, found exactly. ET: empty in both."""
    ref = np.zeros((3, *SHAPE), bool)
    pred = np.zeros_like(ref)
    _cube(ref[0], (4, 4, 4), 6)
    _cube(pred[0], (5, 4, 4), 6)
    _cube(ref[0], (20, 20, 20), 3)  # missed
    _cube(pred[0], (4, 22, 10), 4)  # false positive
    _cube(ref[1], (2, 2, 2), 10)
    _cube(pred[1], (2, 2, 2), 10)
    image = np.random.default_rng(seed).normal(size=(4, *SHAPE)).astype(np.float32)
    return {
        "image": MetaTensor(torch.as_tensor(image)),
        "pred": MetaTensor(torch.as_tensor(pred, dtype=torch.float32), affine=affine),
        "label": MetaTensor(torch.as_tensor(ref, dtype=torch.float32), affine=affine),
    }


def _summarise(tmp_path, num_cases, affine=None):
    cases = ["BraTS-GLI-00001-000", "BraTS-GLI-00002-000"]
    write_case_report(tmp_path, cases, {"dice_tc": [0.5, 0.6]})
    handler = LesionSummary(tmp_path, ["tc", "wt", "et"], num_cases=num_cases)
    engine = Engine(lambda e, b: None)
    handler._reset(engine)
    for i, case in enumerate(cases):
        engine.state.batch = [{"case": case}]
        engine.state.output = [_case(i, affine)]
        handler._collect(engine)
    old = os.umask(0o077)
    try:
        handler._write(engine)
    finally:
        os.umask(old)
    return json.loads((tmp_path / "metrics_summary.json").read_text())


@pytest.fixture(scope="module")
def summary_dir(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("lesion_summary")
    _summarise(tmp_path, num_cases=2)
    return tmp_path


def test_detection_totals_by_hand(summary_dir):
    summary = json.loads((summary_dir / "metrics_summary.json").read_text())
    tc, wt, et = (summary["lesion_detection"][r] for r in ("tc", "wt", "et"))
    assert (tc["matched"], tc["missed"], tc["false_positive"]) == (2, 2, 2)  # 1, 1, 1 per case, two cases
    assert tc["sensitivity"] == 0.5 and tc["precision"] == 0.5
    assert (wt["matched"], wt["missed"], wt["false_positive"], wt["sensitivity"]) == (2, 0, 0, 1.0)
    assert et == {"matched": 0, "missed": 0, "false_positive": 0, "sensitivity": None, "precision": None}
    assert summary["per_metric"]["dice_tc"]["count"] == 2  # the case report's content is kept


def test_figures_are_written_linked_and_readable(summary_dir):
    summary = json.loads((summary_dir / "metrics_summary.json").read_text())
    # two cases, both shown: not "worst" cases
    assert summary["figures"] == {r: f"figures/all_{r}.png" for r in ("tc", "wt", "et")}
    for relative in summary["figures"].values():
        path = summary_dir / relative
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        with Image.open(path) as png:
            # one panel per case (two), ET empty in both cases: one "no case" panel, drawn two panels wide
            assert png.format == "PNG" and 600 <= png.size[0] < 900


def test_worst_figure_only_when_there_are_more_cases_than_shown(tmp_path):
    summary = _summarise(tmp_path, num_cases=1)
    # TC and WT: two scored cases, one shown; ET: empty in both cases, none scored
    assert summary["figures"] == {
        "tc": "figures/worst_tc.png",
        "wt": "figures/worst_wt.png",
        "et": "figures/all_et.png",
    }
    assert all((tmp_path / relative).is_file() for relative in summary["figures"].values())
    assert title("TC", 1, 2, "FLAIR").startswith("TC: the 1 worst of 2 cases by lesion-wise Dice (FLAIR")
    assert title("TC", 2, 2, "T1ce").startswith("TC: all 2 cases, lowest lesion-wise Dice first (T1ce")


def test_summary_says_what_the_lesion_metrics_mean_and_the_nsd_tolerance(tmp_path):
    affine = torch.diag(torch.tensor([2.0, 0.8, 3.0, 1.0], dtype=torch.float64))
    notes = _summarise(tmp_path, num_cases=2, affine=affine)["lesion_metrics"]
    assert notes["nsd_tolerance_mm"] == [0.8]  # the smallest voxel size
    assert "tolerance" in notes["nsd"] and "NSD 0" in notes["no_match"] and "NaN" in notes["no_match"]


def test_the_figure_slice_holds_the_reference_when_the_prediction_overshoots_it():
    """The case of the issue: the prediction goes on for two slices past the reference's last one, where all of it
    is error; the chosen slice is the reference slice with the most error (z = 3: 16 prediction-only voxels)."""
    ref = np.zeros((8, 8, 8), bool)
    pred = np.zeros_like(ref)
    ref[2:6, 2:6, 1:4] = True
    pred[1:7, 1:7, 1:6] = True  # 36 - 16 = 20 voxels of error per reference slice, 36 on z = 4, 5
    pred[1:7, 1:7, 3] = False
    pred[2:6, 2:6, 3] = True
    pred[0, 0:4, 3] = True  # z = 3: 4 false-positive voxels
    error = [int(np.count_nonzero(ref[..., z] != pred[..., z])) for z in range(8)]
    assert error == [0, 20, 20, 4, 36, 36, 0, 0]
    assert worst_slice(ref, pred) == 1  # the first of the two reference slices with the most error
    pred[0, :, 5] = True  # z = 5: 44 voxels, the largest error of all, but no reference there
    assert worst_slice(ref, pred) == 1
    assert worst_slice(np.zeros_like(ref), pred) == 5  # no reference at all: the largest error anywhere
    only_ref = np.zeros_like(ref)
    only_ref[..., 6] = True
    assert worst_slice(only_ref, only_ref) == 6  # no error: the slice with the most reference
