"""Study machinery end to end on the micro preset: trains, writes results, the report regenerates from them."""

import json
import os

import pandas as pd
import pytest
from subprocesses import run_python

from tools.study.__main__ import report, run
from tools.study.presets import get_preset

EXPECTED_COLUMNS = [
    "loss", "level", "seed", "achieved_fraction", "dice", "hd95", "precision", "recall", "empty_pred",
    "train_dice", "best_val_dice", "best_epoch", "last_val_dice", "seconds",
]  # fmt: skip
FIGURES = ("study_bars.png", "study_curves.png", "study_overlay.png")


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    dirs = {"cache_dir": str(root / "cache"), "results_dir": str(root / "results"), "docs_dir": str(root / "docs")}
    run(preset="micro", **dirs)
    return dirs


def test_run_writes_results_with_expected_columns(micro):
    results = pd.read_csv(os.path.join(micro["results_dir"], "results.csv"))
    assert list(results.columns) == EXPECTED_COLUMNS
    assert sorted(results["loss"]) == ["asymmetric_unified_focal", "dice"]
    assert set(results["level"]) == {0.01} and set(results["seed"]) == {0}
    for col in ("dice", "recall", "train_dice", "best_val_dice", "last_val_dice"):
        assert results[col].between(0, 1).all(), col
    assert (results["hd95"] >= 0).all()
    # 16^3 volumes at 1 %: round(40.96) = 41 foreground voxels per volume
    assert results["achieved_fraction"].tolist() == pytest.approx([41 / 16**3] * 2, rel=1e-5)  # CSV keeps 6 digits
    curves = pd.read_csv(os.path.join(micro["results_dir"], "curves.csv"))
    # micro: 4 iterations, validation every 2 -> 2 epochs per run
    assert len(curves) == 4 and sorted(curves["epoch"].unique()) == [1, 2]
    assert curves["train_loss"].notna().all() and curves["val_dice"].between(0, 1).all()


def test_rerun_skips_finished_runs(micro):
    runs = os.path.join(micro["cache_dir"], "runs")
    before = {f: os.path.getmtime(os.path.join(runs, f)) for f in os.listdir(runs)}
    assert sorted(before) == sorted(f"{loss}__0.01__s0{suffix}.json" for loss in ("dice", "asymmetric_unified_focal")
                                    for suffix in ("", "__x4"))  # fmt: skip
    run(preset="micro", report=False, **micro)
    after = {f: os.path.getmtime(os.path.join(runs, f)) for f in os.listdir(runs)}
    assert after == before


def test_report_regenerates_table_and_figures_from_results(micro):
    docs = micro["docs_dir"]
    for name in FIGURES:
        os.remove(os.path.join(docs, "figures", name))
    os.remove(os.path.join(docs, "study.md"))
    report(preset="micro", results_dir=micro["results_dir"], docs_dir=docs)
    for name in FIGURES:
        with open(os.path.join(docs, "figures", name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    text = open(os.path.join(docs, "study.md"), encoding="utf-8").read()
    results = pd.read_csv(os.path.join(micro["results_dir"], "results.csv"))
    for _, row in results.iterrows():  # one seed: the value itself, no spread
        assert f"| {row['loss']} | {row['dice']:.3f} (1 seed) | {row['hd95']:.1f} (1 seed) |" in text
    assert "Runs in these results: 2 of 2" in text and "## Ranking found" in text


def test_report_marks_a_partial_grid(micro, tmp_path):
    results_dir = tmp_path / "partial"
    results_dir.mkdir()
    for name in ("results.csv", "curves.csv", "overlays.json"):
        (results_dir / name).write_bytes(open(os.path.join(micro["results_dir"], name), "rb").read())
    preset = json.load(open(os.path.join(micro["results_dir"], "preset.json")))
    preset["seeds"] = [0, 1]  # the grid asked for two seeds; only one is in the results
    (results_dir / "preset.json").write_text(json.dumps(preset))
    report(results_dir=str(results_dir), docs_dir=str(tmp_path / "docs"))
    assert (
        "2 of 4" in (tmp_path / "docs" / "study.md").read_text()
        and "partial grid" in (tmp_path / "docs" / "study.md").read_text()
    )


def test_cli_report_and_missing_results(micro, tmp_path):
    out = run_python(
        ["-m", "tools.study", "report", "--results_dir", str(tmp_path / "none"), "--docs_dir", str(tmp_path)]
    )
    assert out.returncode != 0
    assert "results.csv" in out.stderr and str(tmp_path / "none") in out.stderr


@pytest.mark.parametrize(
    "overrides, match",
    [({"losses": ["dice", "nope"]}, "nope"), ({"levels": [0.01, 2.0]}, "2.0"), ({"epochs": 3}, "epochs")],
)
def test_bad_preset_overrides(overrides, match):
    with pytest.raises(ValueError, match=match):
        get_preset("cpu", **overrides)
    with pytest.raises(ValueError, match="gpu_huge"):
        get_preset("gpu_huge")


def _run_record(micro, name):
    with open(os.path.join(micro["cache_dir"], "runs", name), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("loss", ["dice", "asymmetric_unified_focal"])
def test_budget_runs_train_four_times_the_iterations_continuing_the_main_run(micro, loss):
    short, longer = _run_record(micro, f"{loss}__0.01__s0.json"), _run_record(micro, f"{loss}__0.01__s0__x4.json")
    # micro: 4 iterations, an epoch of 2; the budget check x4: 16 iterations, 8 validations
    assert len(short["train_loss_per_iteration"]) == 4 and len(longer["train_loss_per_iteration"]) == 16
    assert len(longer["val_dice_per_epoch"]) == 8 and len(longer["train_loss_per_epoch"]) == 8
    # same data, initial weights and first batches: the long run's first 4 iterations are the short run
    assert longer["train_loss_per_iteration"][:4] == pytest.approx(short["train_loss_per_iteration"], rel=1e-5)
    assert longer["val_dice_per_epoch"][:2] == pytest.approx(short["val_dice_per_epoch"], abs=1e-6)


def test_budget_csv_pairs_the_main_and_the_long_runs(micro):
    budget = pd.read_csv(os.path.join(micro["results_dir"], "budget.csv"))
    assert list(budget.columns) == ["factor", "iterations", *EXPECTED_COLUMNS]
    assert sorted(zip(budget["loss"], budget["factor"], budget["iterations"])) == [
        ("asymmetric_unified_focal", 1, 4), ("asymmetric_unified_focal", 4, 16), ("dice", 1, 4), ("dice", 4, 16),
    ]  # fmt: skip
    assert set(budget["level"]) == {0.01} and set(budget["seed"]) == {0}
    for _, row in budget.iterrows():
        rec = _run_record(micro, f"{row['loss']}__0.01__s0{'__x4' if row['factor'] == 4 else ''}.json")
        for key in ("dice", "recall", "empty_pred", "train_dice", "last_val_dice"):
            assert row[key] == pytest.approx(rec[key], rel=1e-5, abs=1e-9), (row["loss"], row["factor"], key)
    results = pd.read_csv(os.path.join(micro["results_dir"], "results.csv")).set_index("loss")
    short = budget[budget["factor"] == 1].set_index("loss")
    assert short["dice"].to_dict() == results.loc[short.index, "dice"].to_dict()


def test_budget_curves_hold_every_epoch_of_both_runs(micro):
    curves = pd.read_csv(os.path.join(micro["results_dir"], "budget_curves.csv"))
    assert list(curves.columns) == ["factor", "loss", "level", "seed", "epoch", "train_loss", "val_dice"]
    for loss in ("dice", "asymmetric_unified_focal"):
        for factor, name in ((1, f"{loss}__0.01__s0.json"), (4, f"{loss}__0.01__s0__x4.json")):
            c = curves[(curves["loss"] == loss) & (curves["factor"] == factor)].sort_values("epoch")
            rec = _run_record(micro, name)
            assert c["epoch"].tolist() == list(range(1, len(rec["val_dice_per_epoch"]) + 1))
            assert c["val_dice"].tolist() == pytest.approx(rec["val_dice_per_epoch"], rel=1e-5, abs=1e-9)


def test_report_has_the_budget_table_with_verdicts_from_the_numbers(micro):
    text = open(os.path.join(micro["docs_dir"], "study.md"), encoding="utf-8").read()
    assert "## Budget check: 4x the iterations at foreground 1 %" in text
    assert "(16 instead of 4;" in text and "one seed per loss" in text
    budget = pd.read_csv(os.path.join(micro["results_dir"], "budget.csv"))
    for loss, runs in budget.groupby("loss"):
        d1, d4 = (float(runs.loc[runs["factor"] == f, "dice"].iloc[0]) for f in (1, 4))
        r1, r4 = (float(runs.loc[runs["factor"] == f, "recall"].iloc[0]) for f in (1, 4))
        verdict = {
            (False, True): "fails at 1x, learns at 4x: budget",
            (False, False): "fails at 1x and at 4x: the loss",
            (True, True): "learns at 1x and at 4x",
            (True, False): "learns at 1x, fails at 4x",
        }[(d1 >= 0.05, d4 >= 0.05)]
        assert f"| {loss} | 0 | {d1:.3f} | {d4:.3f} | {r1:.3f} | {r4:.3f} |" in text
        row = text.split(f"| {loss} | 0 |")[1].splitlines()[0]
        val = _run_record(micro, f"{loss}__0.01__s0__x4.json")["val_dice_per_epoch"]
        first = next((str(i) for i, v in enumerate(val, 1) if v >= 0.05), "never (8 epochs)")
        assert row.endswith(f"| {verdict} | {first} |")
