"""Per-case metrics CSV and summary: hand-computed statistics, NaN handling, the evaluator handler."""

import csv
import json
import math

import pytest
import torch
from ignite.engine import Engine, Events

from scripts.reports import CaseMetricsReport, write_case_report


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_summary_by_hand_leaves_nan_out(tmp_path):
    paths = write_case_report(
        tmp_path,
        ["a", "b", "c"],
        {"dice_et": [0.5, math.nan, 1.0], "hd95_et": [2.0, math.nan, 4.0], "dice_wt": [0.2, 0.4, 0.9]},
        overall={"val_mean_dice": torch.tensor(0.7)},
    )
    per_case = _rows(paths["per_case"])
    assert [r["case"] for r in per_case] == ["a", "b", "c"]
    assert per_case[1]["dice_et"] == "nan" and float(per_case[2]["hd95_et"]) == 4.0
    summary = {r["statistic"]: r for r in _rows(paths["summary_csv"])}
    assert float(summary["mean"]["dice_et"]) == pytest.approx(0.75)
    assert float(summary["std"]["dice_et"]) == pytest.approx(math.sqrt(((0.5 - 0.75) ** 2 + 0.25**2) / 1))
    assert float(summary["median"]["dice_wt"]) == pytest.approx(0.4)
    assert summary["count"]["dice_et"] == "2" and summary["count"]["dice_wt"] == "3"
    data = json.loads(paths["summary_json"].read_text())
    assert data["num_cases"] == 3 and data["overall"]["val_mean_dice"] == pytest.approx(0.7)
    assert data["per_metric"]["hd95_et"]["mean"] == pytest.approx(3.0)


def test_all_nan_column_gives_null_in_json(tmp_path):
    paths = write_case_report(tmp_path, ["a"], {"dice_et": [math.nan]})
    data = json.loads(paths["summary_json"].read_text())  # strict JSON: no NaN token
    assert data["per_metric"]["dice_et"] == {"mean": None, "std": None, "median": None, "count": 0}


def test_length_mismatch_names_the_column(tmp_path):
    with pytest.raises(ValueError, match="dice_tc.*2 values for 3 cases"):
        write_case_report(tmp_path, ["a", "b", "c"], {"dice_tc": [1.0, 0.5]})


def test_handler_collects_case_names_and_metric_details(tmp_path):
    batches = [[{"case": "x"}, {"case": "y"}], [{"case": "z"}]]
    engine = Engine(lambda e, batch: batch)

    @engine.on(Events.EPOCH_COMPLETED)
    def _details(e):  # what MONAI metric handlers leave with save_details=True: (cases, channels)
        e.state.metric_details = {"val_dice_tc": torch.tensor([[0.1], [0.2], [0.3]]), "val_hd": torch.ones(3, 2)}
        e.state.metrics = {"val_mean_dice": 0.2}

    report = CaseMetricsReport(tmp_path, {"dice_tc": "val_dice_tc", "hd": "val_hd"}, overall=["val_mean_dice"])
    report.attach(engine)
    engine.run(batches, max_epochs=1)
    rows = _rows(tmp_path / "metrics_per_case.csv")
    assert [r["case"] for r in rows] == ["x", "y", "z"]
    assert list(rows[0]) == ["case", "dice_tc", "hd_0", "hd_1"]
    assert [float(r["dice_tc"]) for r in rows] == pytest.approx([0.1, 0.2, 0.3])


def test_handler_errors_name_the_missing_metric(tmp_path):
    engine = Engine(lambda e, batch: batch)

    @engine.on(Events.EPOCH_COMPLETED)
    def _details(e):
        e.state.metric_details = {"val_dice_tc": torch.zeros(1, 1)}

    CaseMetricsReport(tmp_path, {"dice_wt": "val_dice_wt"}).attach(engine)
    with pytest.raises(ValueError, match="val_dice_wt.*dice_wt"):
        engine.run([[{"case": "x"}]], max_epochs=1)
