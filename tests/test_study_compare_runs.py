"""``python -m tools.study compare`` end to end with the bundle's workflows, tiny budgets (the smoke presets: 1 epoch,
small volumes): the built-in BraTS data and the KiTS19 overlay, 2 losses x 2 seeds; the tables against each run's
own ``metrics_per_case.csv``, the paired differences against numpy on them, and resumption."""

import json

import numpy as np
import pandas as pd
import pytest
from subprocesses import run_python

SEEDS = [0, 1]
LOSSES = ["bce_dice", "dice"]


def _compare(output_dir, *extra):
    args = ["-m", "tools.study", "compare", "--losses", json.dumps(LOSSES), "--seeds", json.dumps(SEEDS)]
    result = run_python([*args, "--output_dir", str(output_dir), *extra], timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _mtimes(output_dir):
    return {p: p.stat().st_mtime_ns for p in output_dir.glob("runs/*/*/*.log")}


def _check_tables(output_dir, regions):
    per_case = pd.read_csv(output_dir / "per_case.csv")
    assert {"loss", "seed", "case", "region", "dice", "hd95"} <= set(per_case.columns)
    assert set(per_case["loss"]) == set(LOSSES) and set(per_case["seed"]) == set(SEEDS)
    assert regions <= set(per_case["region"])
    for (loss, seed), rows in per_case.groupby(["loss", "seed"]):  # the tables hold what evaluate wrote
        wide = pd.read_csv(output_dir / "runs" / loss / f"seed_{seed}" / "eval" / "metrics_per_case.csv")
        for region in regions:
            got = rows[rows["region"] == region].set_index("case")["dice"].sort_index()
            want = wide.set_index("case")[f"dice_{region}"].sort_index()
            np.testing.assert_allclose(got.to_numpy(), want.to_numpy())
    paired = pd.read_csv(output_dir / "paired.csv")
    for region in regions:
        row = paired[(paired["region"] == region) & (paired["metric"] == "dice")].iloc[0]
        sub = per_case[per_case["region"] == region].pivot_table(index=["seed", "case"], columns="loss", values="dice")
        diff = (sub["dice"] - sub["bce_dice"]).dropna()
        assert row["loss"] == "dice" and row["baseline"] == "bce_dice"
        assert row["n_pairs"] == len(diff) and row["n_seeds"] == 2
        assert row["mean_diff"] == pytest.approx(diff.mean(), abs=1e-12)
        assert row["ci_low"] <= row["mean_diff"] <= row["ci_high"]
    report = (output_dir / "report.md").read_text()
    assert "Paired differences against the baseline" in report and "| bce_dice | 2 |" in report
    return per_case, paired


def test_compare_builtin_brats(tmp_path):
    out = tmp_path / "cmp"
    _compare(out, "--preset", "smoke")
    per_case, paired = _check_tables(out, {"tc", "wt", "et"})
    assert len(per_case) == 2 * 2 * 2 * 3  # losses x seeds x 2 validation cases x regions
    assert per_case["lesion_dice"].notna().all()
    assert {"dice", "lesion_dice", "hd95"} == set(paired["metric"])
    assert len(list((out / "data").glob("*/BraTS2021_*"))) == 6  # one shared data set, not one per run

    before = _mtimes(out)
    log = _compare(out, "--preset", "smoke")
    assert "0 of 4 runs trained" in log and _mtimes(out) == before  # finished runs are not redone

    interrupted = out / "runs" / "dice" / "seed_1"
    (interrupted / "done.json").unlink()  # as if killed during evaluate
    log = _compare(out, "--preset", "smoke")
    assert "1 of 4 runs trained" in log
    after = _mtimes(out)
    assert after[interrupted / "evaluate.log"] > before[interrupted / "evaluate.log"]
    assert after[interrupted / "train.log"] == before[interrupted / "train.log"]  # trained once only
    np.testing.assert_allclose(pd.read_csv(out / "per_case.csv")["dice"], per_case["dice"])


def test_compare_kits19_overlay(tmp_path):
    out = tmp_path / "cmp"
    _compare(out, "--preset", "smoke_kits19")
    per_case, paired = _check_tables(out, {"kidney_and_tumour", "tumour"})
    assert set(paired["metric"]) == {"dice", "hd95"}  # KiTS has no lesion-wise metrics
    assert (
        "kits19.json" in json.loads((out / "runs" / "bce_dice" / "seed_0" / "commands.json").read_text())["evaluate"][4]
    )
