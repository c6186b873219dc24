"""The study report on a small fake results frame: verdicts follow the paired statistics, nothing is ranked."""

import json

import numpy as np
import pandas as pd

from tools.study.figures import detection_by_size
from tools.study.grid import CASE_COLUMNS, LESION_COLUMNS, RUN_COLUMNS, paired_results
from tools.study.presets import get_preset
from tools.study.report import write_report


def _fake(tmp_path):
    rng = np.random.default_rng(0)
    cases, lesions, runs = [], [], []
    # "combo" is the baseline + 0.2 Dice on every case, "dice" the baseline with zero-mean noise
    for seed in range(5):
        for case in range(3):
            base = rng.uniform(0.3, 0.6)
            for loss, dice in (("bce_dice", base), ("combo", base + 0.2), ("dice", base + rng.normal(0, 0.05))):
                cases.append({"level": "dense", "sampler": "uniform", "seed": seed, "loss": loss, "case": case,
                              "dice": dice, "hd95": 10.0, "fp_lesions": 3, "lesion_dice": dice,
                              "sensitivity": 0.5, "n_lesions": 2, "pred_voxels": 100, "ref_voxels": 100})  # fmt: skip
                for lesion, voxels in enumerate((30, 300)):
                    lesions.append({"level": "dense", "sampler": "uniform", "seed": seed, "loss": loss, "case": case,
                                    "lesion": lesion, "lesion_voxels": voxels, "detected": int(voxels > 100),
                                    "lesion_dice": dice * (voxels > 100)})  # fmt: skip
            runs.append({"level": "dense", "sampler": "uniform", "seed": seed, "loss": loss, "seconds": 1.0,
                         "final_train_loss": 0.5})  # fmt: skip
    cases = pd.DataFrame(cases, columns=CASE_COLUMNS)
    cases.to_csv(tmp_path / "cases.csv", index=False)
    pd.DataFrame(lesions, columns=LESION_COLUMNS).to_csv(tmp_path / "lesions.csv", index=False)
    pd.DataFrame(runs, columns=RUN_COLUMNS).to_csv(tmp_path / "runs.csv", index=False)
    paired_results(cases, n_boot=2000).to_csv(tmp_path / "paired.csv", index=False)
    preset = get_preset("micro", losses=["dice", "bce_dice", "combo"], seeds=list(range(5))).as_dict()
    preset["levels"] = [{"name": "dense", "shape": [48, 48, 48], "per_class": 1}]
    (tmp_path / "preset.json").write_text(json.dumps(preset))
    return cases


def test_report_says_no_detectable_difference_where_the_interval_holds_zero(tmp_path):
    _fake(tmp_path)
    path = write_report(str(tmp_path), str(tmp_path / "docs"))
    text = open(path, encoding="utf-8").read()
    paired = pd.read_csv(tmp_path / "paired.csv")
    combo = paired[(paired["loss"] == "combo") & (paired["metric"] == "dice")].iloc[0]
    noise = paired[(paired["loss"] == "dice") & (paired["metric"] == "dice")].iloc[0]
    assert combo["verdict"] == "better"
    assert abs(combo["mean_diff"] - 0.2) < 1e-9 and combo["ci_low"] > 0
    assert noise["ci_low"] < 0 < noise["ci_high"] and noise["verdict"] == "no detectable difference"
    row = next(line for line in text.splitlines() if line.startswith("| combo | +0.200"))
    assert "better" in row
    row = next(line for line in text.splitlines() if line.startswith("| dice |") and "p_holm" in line)
    assert row.split("|")[2].strip().endswith("no detectable difference")
    assert "Smallest difference this design could detect" in text
    assert "rank" not in text.replace("not a ranking", "")
    # the identical sensitivity of every loss: no detectable difference, 0 pairs differing
    assert (paired[paired["metric"] == "sensitivity"]["verdict"] == "no detectable difference").all()
    for name in ("study_detection.png", "study_paired.png"):
        assert (tmp_path / "docs" / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_detection_by_size_class(tmp_path):
    _fake(tmp_path)
    table = detection_by_size(pd.read_csv(tmp_path / "lesions.csv"), ((20, 40), (200, 400), (1500, 2500)))
    # the fake detects every 300-voxel lesion and no 30-voxel one, 15 of each per loss
    small, large = table[table["size_class"] == 0], table[table["size_class"] == 1]
    assert (small["sensitivity"] == 0).all() and (small["high"] == 0).all() and (small["lesions"] == 15).all()
    assert (large["sensitivity"] == 1).all() and (large["low"] == 1).all()
    assert set(table["size_class"]) == {0, 1}
