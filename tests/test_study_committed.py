"""The committed study results are consistent: the full grid, the design's lesion sizes, paired.csv recomputable
from cases.csv, and docs/study.md what ``report`` makes from them (nothing edited by hand)."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from tools.study.__main__ import report
from tools.study.grid import CASE_COLUMNS, LESION_COLUMNS, paired_results
from tools.study.paired import PAIRED_COLUMNS
from tools.study.presets import STUDY_LOSSES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "docs", "study_results", "cpu")


@pytest.fixture(scope="module")
def committed():
    read = lambda name: pd.read_csv(os.path.join(RESULTS, name))  # noqa: E731
    preset = json.load(open(os.path.join(RESULTS, "preset.json"), encoding="utf-8"))
    return {"cases": read("cases.csv"), "lesions": read("lesions.csv"), "paired": read("paired.csv"), "preset": preset}


def test_committed_results_cover_the_grid(committed):
    cases, lesions, preset = committed["cases"], committed["lesions"], committed["preset"]
    assert list(cases.columns) == CASE_COLUMNS and list(lesions.columns) == LESION_COLUMNS
    assert set(cases["loss"]) == set(STUDY_LOSSES) and len(STUDY_LOSSES) == 14
    assert len(preset["seeds"]) >= 5 and sorted(cases["seed"].unique()) == preset["seeds"]
    n_cells = len(preset["levels"]) * len(preset["samplers"])
    assert len(cases) == len(STUDY_LOSSES) * n_cells * len(preset["seeds"]) * preset["n_test"]
    assert (cases.groupby(["level", "sampler", "seed", "loss", "case"]).size() == 1).all()
    assert len(lesions) == cases["n_lesions"].sum()
    detected = lesions.groupby(["level", "sampler", "seed", "loss", "case"])["detected"].mean()
    assert detected.to_numpy() == pytest.approx(cases.set_index(detected.index.names).loc[detected.index,
                                                "sensitivity"].to_numpy(), abs=1e-5)  # fmt: skip


def test_levels_keep_the_lesion_sizes(committed):
    lesions = committed["lesions"]
    one = lesions[(lesions["loss"] == "bce_dice") & (lesions["sampler"] == "uniform")]
    medians = one.groupby("level")["lesion_voxels"].median()
    assert medians.max() <= 2 * medians.min(), medians.to_dict()
    cases = committed["cases"]
    voxels = {lv["name"]: np.prod(lv["shape"]) for lv in committed["preset"]["levels"]}
    fractions = cases.groupby("level")["ref_voxels"].mean() / pd.Series(voxels)
    assert fractions.max() >= 4 * fractions.min(), fractions.to_dict()


def test_paired_csv_is_recomputable_from_cases(committed):
    paired = committed["paired"]
    assert list(paired.columns) == ["level", "sampler", *PAIRED_COLUMNS]
    assert set(paired["baseline"]) == {"bce_dice"}
    assert {"dice", "lesion_dice", "hd95", "sensitivity"} <= set(paired["metric"])
    again = paired_results(committed["cases"])
    assert len(again) == len(paired)
    for col in ("mean_diff", "ci_low", "ci_high", "p_value", "p_holm"):
        assert paired[col].to_numpy() == pytest.approx(again[col].to_numpy(), rel=1e-5, abs=1e-9, nan_ok=True), col
    assert (paired["verdict"] == again["verdict"]).all()


def test_committed_study_md_is_regenerated_from_committed_results(tmp_path):
    report(results_dir=RESULTS, docs_dir=str(tmp_path))
    committed = open(os.path.join(REPO, "docs", "study.md"), encoding="utf-8").read()
    strip = lambda text: [line for line in text.splitlines() if "study_results" not in line]  # noqa: E731
    assert strip((tmp_path / "study.md").read_text(encoding="utf-8")) == strip(committed)
    for name in ("study_detection.png", "study_paired.png"):
        assert os.path.isfile(os.path.join(REPO, "docs", "figures", name)), name
