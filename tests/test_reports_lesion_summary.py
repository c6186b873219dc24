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

SHAPE = (32, 32, 32)


def _cube(mask, corner, size):
    mask[tuple(slice(c, c + size) for c in corner)] = True


def _case(seed):
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
        "pred": MetaTensor(torch.as_tensor(pred, dtype=torch.float32)),
        "label": MetaTensor(torch.as_tensor(ref, dtype=torch.float32)),
    }


@pytest.fixture(scope="module")
def summary_dir(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("lesion_summary")
    write_case_report(tmp_path, ["BraTS-GLI-00001-000", "BraTS-GLI-00002-000"], {"dice_tc": [0.5, 0.6]})
    handler = LesionSummary(tmp_path, ["tc", "wt", "et"], num_cases=2)
    engine = Engine(lambda e, b: None)
    handler._reset(engine)
    for i, case in enumerate(["BraTS-GLI-00001-000", "BraTS-GLI-00002-000"]):
        engine.state.batch = [{"case": case}]
        engine.state.output = [_case(i)]
        handler._collect(engine)
    old = os.umask(0o077)
    try:
        handler._write(engine)
    finally:
        os.umask(old)
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
    assert summary["figures"] == {r: f"figures/worst_{r}.png" for r in ("tc", "wt", "et")}
    for region, relative in summary["figures"].items():
        path = summary_dir / relative
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        with Image.open(path) as png:
            panels = 1 if region == "et" else 2  # ET is empty in both cases: one "no case" panel
            assert png.format == "PNG" and 300 * panels <= png.size[0] < 300 * (panels + 1)
