"""The thin-structure study (preset ``thin``): tubular data per seed, per-case Dice / clDice / Betti-0 error by hand,
Betti-0 error compared as lower-is-better, and the preset end to end at smoke size (a subprocess)."""

import os

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import label as cc
from subprocesses import run_python

from tools.study.data import make_dataset
from tools.study.grid import TUBE_CASE_COLUMNS, TUBE_PAIRED_METRICS, paired_results
from tools.study.presets import THIN_LOSSES, get_preset
from tools.study.train import tube_case_outcomes


def test_thin_preset_trains_the_thin_losses_and_takes_new_names():
    p = get_preset("thin")
    assert p.task == "tubes" and p.losses == THIN_LOSSES and len(p.seeds) == 5
    assert get_preset("thin", losses=["bce_dice", "tversky"]).losses == ("bce_dice", "tversky")
    with pytest.raises(ValueError, match="skeleton_nope"):
        get_preset("thin", losses=["bce_dice", "skeleton_nope"])
    with pytest.raises(ValueError, match="task"):
        get_preset("thin", task="vessels")


def test_tube_dataset_has_the_level_trees_per_volume():
    p = get_preset("thin")
    data = make_dataset(0, p.levels[0], p.size_classes, 2, 1, task=p.task)
    labels = data["train"][1]
    assert labels.shape == (2, 1, *p.levels[0].shape)
    for volume in labels:
        assert cc(volume[0], structure=np.ones((3, 3, 3)))[1] == p.levels[0].per_class
    again = make_dataset(0, p.levels[0], p.size_classes, 2, 1, task=p.task)
    assert np.array_equal(again["test"][0], data["test"][0])


def test_tube_case_outcomes_by_hand():
    ref = np.zeros((16, 8, 8), bool)
    ref[2:12, 4, 4] = True  # a 10-voxel line
    pred = ref.copy()
    pred[6:8, 4, 4] = False  # broken in two: 8 voxels
    pred[3, 0, 0] = True  # an isolated voxel
    case, rows = tube_case_outcomes(pred, ref)
    assert rows == []
    assert case["dice"] == pytest.approx(2 * 8 / (9 + 10))
    assert case["cldice"] == pytest.approx(2 * (8 / 9) * 0.8 / (8 / 9 + 0.8))
    assert (case["pred_components"], case["ref_components"], case["betti0_error"]) == (3, 1, 2)
    assert set(case) == set(TUBE_CASE_COLUMNS) - {"level", "sampler", "seed", "loss", "case"}


def test_betti0_error_is_lower_is_better():
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(3):
        for case in range(4):
            base = {"level": "tubes", "sampler": "foreground", "seed": seed, "case": case}
            b = int(rng.integers(5, 9))
            rows.append(base | {"loss": "bce_dice", "dice": 0.7, "cldice": 0.8, "betti0_error": b})
            rows.append(base | {"loss": "cldice", "dice": 0.7, "cldice": 0.8, "betti0_error": b - 3})
    paired = paired_results(pd.DataFrame(rows), "tubes", n_boot=500)
    assert list(paired["metric"]) == list(TUBE_PAIRED_METRICS)
    betti = paired[paired["metric"] == "betti0_error"].iloc[0]
    assert betti["mean_diff"] == -3 and betti["verdict"] == "better"  # 12 pairs, all 3 fewer components
    assert set(paired[paired["metric"] != "betti0_error"]["verdict"]) == {"no detectable difference"}


def test_thin_preset_end_to_end_at_smoke_size(tmp_path):
    dirs = {"cache_dir": tmp_path / "cache", "results_dir": tmp_path / "results", "docs_dir": tmp_path / "docs"}
    smoke = ['--losses=["bce_dice","cldice"]', "--seeds=[0,1]", "--iterations=3", "--iterations_per_epoch=3",
             "--n_train=1", "--n_test=1", "--patch=[16,16,16]", "--channels=[4,8]", "--workers=1",
             '--levels=[{"name":"tubes","shape":[32,32,32],"per_class":2}]']  # fmt: skip
    args = ["-m", "tools.study", "run", "--preset", "thin", *[f"--{k}={v}" for k, v in dirs.items()], *smoke]
    out = run_python(args, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    cases = pd.read_csv(dirs["results_dir"] / "cases.csv")
    assert list(cases.columns) == TUBE_CASE_COLUMNS and len(cases) == 2 * 2  # 2 losses x 2 seeds x 1 case
    assert (cases["ref_components"] == 2).all() and cases["cldice"].between(0, 1).all()
    assert not os.path.exists(dirs["results_dir"] / "lesions.csv")
    paired = pd.read_csv(dirs["results_dir"] / "paired.csv")
    assert set(paired["loss"]) == {"cldice"} and list(paired["metric"]) == list(TUBE_PAIRED_METRICS)
    page = (dirs["docs_dir"] / "study_thin.md").read_text()
    assert "Betti-0 error" in page and "| cldice |" in page
    assert not (dirs["docs_dir"] / "study.md").exists()


THIN_RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "study_results",
                            "thin")  # fmt: skip


def test_committed_thin_results_cover_the_grid_and_regenerate(tmp_path):
    from tools.study.__main__ import report

    cases = pd.read_csv(os.path.join(THIN_RESULTS, "cases.csv"))
    paired = pd.read_csv(os.path.join(THIN_RESULTS, "paired.csv"))
    p = get_preset("thin")
    assert list(cases.columns) == TUBE_CASE_COLUMNS and set(cases["loss"]) == set(THIN_LOSSES)
    assert len(cases) == len(THIN_LOSSES) * len(p.seeds) * p.n_test
    assert (cases["ref_components"] == p.levels[0].per_class).all()
    again = paired_results(cases, "tubes")
    for col in ("mean_diff", "ci_low", "ci_high", "p_holm"):
        assert paired[col].to_numpy() == pytest.approx(again[col].to_numpy(), rel=1e-5, abs=1e-9), col
    assert (paired["verdict"] == again["verdict"]).all()
    report(preset="thin", results_dir=THIN_RESULTS, docs_dir=str(tmp_path))
    committed = os.path.join(os.path.dirname(THIN_RESULTS), "..", "study_thin.md")
    strip = lambda text: [line for line in text.splitlines() if "study_results" not in line]  # noqa: E731
    assert strip((tmp_path / "study_thin.md").read_text()) == strip(open(committed, encoding="utf-8").read())
