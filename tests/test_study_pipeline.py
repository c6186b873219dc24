"""Study machinery end to end on the micro preset (a subprocess): trains, writes results, resumes, reports."""

import json
import os

import pandas as pd
import pytest
from subprocesses import run_python

from tools.study.grid import CASE_COLUMNS, LESION_COLUMNS, paired_results
from tools.study.presets import get_preset


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    dirs = {"cache_dir": str(root / "cache"), "results_dir": str(root / "results"), "docs_dir": str(root / "docs")}
    args = ["-m", "tools.study", "run", "--preset", "micro"] + [f"--{k}={v}" for k, v in dirs.items()]
    out = run_python(args)
    assert out.returncode == 0, out.stderr[-2000:]
    return dirs | {"args": args}


def test_micro_writes_cases_lesions_and_paired(micro):
    cases = pd.read_csv(os.path.join(micro["results_dir"], "cases.csv"))
    lesions = pd.read_csv(os.path.join(micro["results_dir"], "lesions.csv"))
    assert list(cases.columns) == CASE_COLUMNS and list(lesions.columns) == LESION_COLUMNS
    # micro: 2 losses x 1 level x 2 samplers x 1 seed x 2 test volumes, each with 3 lesions (one per class)
    assert len(cases) == 8 and len(lesions) == 24
    assert (cases["n_lesions"] == 3).all()
    assert cases["dice"].between(0, 1).all() and cases["sensitivity"].between(0, 1).all()
    per_case = lesions.groupby(["sampler", "loss", "case"])["detected"].mean()
    assert per_case.to_numpy() == pytest.approx(cases.set_index(["sampler", "loss", "case"])
                                                .loc[per_case.index, "sensitivity"].to_numpy(), abs=1e-5)  # fmt: skip
    paired = pd.read_csv(os.path.join(micro["results_dir"], "paired.csv"))
    assert set(paired["loss"]) == {"dice"} and set(paired["baseline"]) == {"bce_dice"}
    assert len(paired) == 2 * 5  # 2 samplers x 5 metrics
    again = paired_results(cases)["mean_diff"].to_numpy()
    assert paired["mean_diff"].to_numpy() == pytest.approx(again, rel=1e-5, abs=1e-9)
    assert os.path.isfile(os.path.join(micro["docs_dir"], "study.md"))


def test_rerun_skips_finished_runs(micro):
    runs = os.path.join(micro["cache_dir"], "runs")
    before = {f: os.path.getmtime(os.path.join(runs, f)) for f in os.listdir(runs)}
    assert len(before) == 4
    out = run_python(micro["args"] + ["--report=False"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert {f: os.path.getmtime(os.path.join(runs, f)) for f in os.listdir(runs)} == before


def test_preset_json_records_the_grid(micro):
    preset = json.load(open(os.path.join(micro["results_dir"], "preset.json"), encoding="utf-8"))
    assert preset["losses"] == ["dice", "bce_dice"] and preset["seeds"] == [0]
    assert preset["levels"] == [{"name": "tiny", "shape": [32, 32, 32], "per_class": 1}]


@pytest.mark.parametrize(
    "overrides, match",
    [({"losses": ["dice", "nope"]}, "nope"), ({"losses": ["dice", "combo"]}, "baseline"),
     ({"samplers": ["uniform", "weighted"]}, "weighted"), ({"epochs": 3}, "epochs")],
)  # fmt: skip
def test_bad_preset_overrides(overrides, match):
    with pytest.raises(ValueError, match=match):
        get_preset("cpu", **overrides)
    with pytest.raises(ValueError, match="gpu_huge"):
        get_preset("gpu_huge")
