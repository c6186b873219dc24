"""``tools.study compare`` without training: the run plan and its errors, the command lines, resumption from the
markers, and the collection and pairing of per-case metrics from fake run folders with hand-chosen values."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.study import compare as cmp
from tools.study.compare_cli import compare, write_results
from tools.study.compare_collect import (
    collect_per_case,
    collect_runs,
    last_epoch,
    long_format,
    paired_against_first,
    paired_last_epoch,
    split_column,
    validation_curves,
)

KITS = ["configs/train.json", "configs/kits19_common.json", "configs/kits19.json"]
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _in_bundle_root(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # config files are relative to the bundle root


def test_split_column_takes_the_longest_metric_prefix():
    assert split_column("dice_tc") == ("dice", "tc")
    assert split_column("lesion_dice_et") == ("lesion_dice", "et")
    assert split_column("lesion_sensitivity_wt") == ("lesion_sensitivity", "wt")
    assert split_column("hd95_kidney_and_tumour") == ("hd95", "kidney_and_tumour")
    assert split_column("kits23_surface_dice_masses") == ("kits23_surface_dice", "masses")
    assert split_column("case") is None
    assert split_column("dice_") is None


def test_long_format_one_row_per_case_and_region():
    wide = pd.DataFrame(
        {"case": ["a", "b"], "dice_tc": [0.5, 0.7], "lesion_dice_tc": [0.4, 0.6], "dice_wt": [0.9, 0.8]}
    )
    long = long_format(wide).set_index(["case", "region"])
    assert long.loc[("a", "tc"), "dice"] == 0.5
    assert long.loc[("b", "tc"), "lesion_dice"] == 0.6
    assert long.loc[("b", "wt"), "dice"] == 0.8
    assert math.isnan(long.loc[("a", "wt"), "lesion_dice"])
    assert len(long) == 4


def test_long_format_bad_input():
    with pytest.raises(ValueError, match="no 'case' column"):
        long_format(pd.DataFrame({"dice_tc": [1.0]}))
    with pytest.raises(ValueError, match="no metric_region columns"):
        long_format(pd.DataFrame({"case": ["a"], "x": [1.0]}))


def test_evaluate_configs_merge_evaluate_after_train():
    assert cmp.evaluate_configs(["configs/train.json"]) == ["configs/train.json", "configs/evaluate.json"]
    assert cmp.evaluate_configs(KITS) == [
        "configs/train.json",
        "configs/evaluate.json",
        "configs/kits19_common.json",
        "configs/kits19.json",
    ]


def test_plan_runs_and_commands(tmp_path):
    runs = cmp.plan(KITS, [0, 2], tmp_path, losses=["bce_dice", "dice"], ids={"epochs": 1, "patch_size": [16, 32]})
    assert [(r.name, r.seed) for r in runs] == [("bce_dice", 0), ("bce_dice", 2), ("dice", 0), ("dice", 2)]
    assert len({r.folder for r in runs}) == 4
    train, evaluate = runs[1].command("train"), runs[1].command("evaluate")
    pairs = dict(zip(train[3::2], train[4::2]))
    assert json.loads(pairs["--config_file"]) == KITS
    assert pairs["--seed"] == "2" and pairs["--loss_name"] == "bce_dice" and pairs["--resume"] == "True"
    assert pairs["--patch_size"] == "[16, 32]" and pairs["--epochs"] == "1"
    assert pairs["--output_dir"] == str(tmp_path.resolve() / "runs" / "bce_dice" / "seed_2" / "eval")
    assert pairs["--ckpt_dir"] == str(tmp_path.resolve() / "runs" / "bce_dice" / "seed_2" / "models")
    assert pairs["--bundle_root"] == str(tmp_path.resolve())  # the built-in data generated once for all runs
    eval_pairs = dict(zip(evaluate[3::2], evaluate[4::2]))
    assert "--resume" not in eval_pairs
    assert json.loads(eval_pairs["--config_file"])[1] == "configs/evaluate.json"


def test_plan_variants_add_ids_and_overlays(tmp_path):
    variants = json.dumps(
        {"region": {}, "ds": {"deep_supervision": True}, "labels": {"config_file": ["configs/brats_labels.json"]}}
    )
    runs = cmp.plan("configs/train.json", [0], tmp_path, variants=variants)
    by_name = {r.name: r for r in runs}
    assert list(by_name) == ["region", "ds", "labels"]
    assert by_name["ds"].ids["deep_supervision"] is True and "loss_name" not in by_name["ds"].ids
    assert by_name["labels"].config_file == ("configs/train.json", "configs/brats_labels.json")
    assert json.loads(dict(zip(*[iter(by_name["labels"].command("evaluate")[3:])] * 2))["--config_file"]) == [
        "configs/train.json",
        "configs/evaluate.json",
        "configs/brats_labels.json",
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"losses": ["dice", "no_such_loss"]}, r"unknown loss\(es\) \['no_such_loss'\].*bce_dice"),
        ({"losses": []}, "losses is empty"),
        ({"losses": ["dice", "dice"]}, "must not repeat"),
        ({"losses": ["dice"], "seeds": []}, "seeds is empty"),
        ({"losses": ["dice"], "seeds": [0, 0]}, "must not repeat"),
        ({"losses": ["dice"], "seeds": ["a"]}, "seeds must be integers"),
        ({"losses": ["dice"], "variants": {"a": {}}}, "not both"),
        ({"variants": {}}, "non-empty mapping"),
        ({"variants": '{"a": {deep_supervision: 1}}'}, "variants is not valid JSON"),
        ({"variants": {"a/b": {}}}, "cannot name a run folder"),
        ({"variants": {"a": {"seed": 3}}}, "sets 'seed'"),
        ({"losses": ["dice"], "ids": {"output_dir": "x"}}, "--output_dir is set by compare"),
        ({"losses": ["dice"], "ids": {"loss_name": "dice"}}, "loss_name is set per run"),
        ({"losses": ["dice"], "config_file": ["configs/kits19.json"]}, "must include 'configs/train.json'"),
        ({"losses": ["dice"], "config_file": ["configs/train.json", "configs/evaluate.json"]}, "adds"),
    ],
)
def test_plan_bad_input(tmp_path, kwargs, message):
    kwargs = {"config_file": ["configs/train.json"], "seeds": [0]} | kwargs
    with pytest.raises(ValueError, match=message):
        cmp.plan(output_dir=tmp_path, **kwargs)


def test_unknown_preset_names_the_presets(tmp_path):
    with pytest.raises(ValueError, match="unknown preset 'tiny'; presets: smoke, smoke_kits19"):
        compare(preset="tiny", losses=["dice"], output_dir=str(tmp_path), train=False)


def test_plan_missing_config_file_names_its_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"configs/nope.json.*looked for .*configs/nope.json"):
        cmp.plan(["configs/train.json", "configs/nope.json"], [0], tmp_path, losses=["dice"])
    with pytest.raises(FileNotFoundError, match="configs/missing.json"):
        cmp.plan("configs/train.json", [0], tmp_path, variants={"a": {}, "b": {"config_file": "configs/missing.json"}})


def _fake_run(run, dice_tc, dice_wt, lesion_tc, train_s=60.0):
    """A finished run folder as train + evaluate leave it: 2 validation cases ``c1``, ``c2``."""
    (run.eval_dir).mkdir(parents=True)
    pd.DataFrame(
        {
            "case": ["c1", "c2"],
            "dice_tc": dice_tc,
            "dice_wt": dice_wt,
            "hd95_tc": [5.0, 7.0],
            "hd95_wt": [2.0, 3.0],
            "lesion_dice_tc": lesion_tc,
            "lesion_dice_wt": dice_wt,
        }
    ).to_csv(run.eval_dir / "metrics_per_case.csv", index=False)
    (run.eval_dir / "metrics_summary.json").write_text(json.dumps({"overall": {"val_mean_dice": 0.5}}))
    (run.folder / cmp.DONE).write_text(json.dumps({"train_s": train_s, "evaluate_s": 5.0}))


def test_collect_and_pair_fake_runs(tmp_path):
    runs = cmp.plan("configs/train.json", [0, 1, 2], tmp_path, losses=["bce_dice", "dice"])
    values = {  # (loss, seed) -> dice_tc of c1, c2
        ("bce_dice", 0): [0.50, 0.60],
        ("bce_dice", 1): [0.40, 0.70],
        ("bce_dice", 2): [0.55, 0.65],
        ("dice", 0): [0.60, 0.70],
        ("dice", 1): [0.45, 0.80],
        ("dice", 2): [0.65, 0.70],
    }
    for run in runs:
        tc = values[(run.name, run.seed)]
        _fake_run(run, tc, [0.9, 0.8], [t - 0.1 for t in tc], train_s=60.0 + run.seed)
    per_case = collect_per_case(runs)
    assert list(per_case.columns[:6]) == ["loss", "seed", "case", "region", "dice", "hd95"]
    assert len(per_case) == 2 * 3 * 2 * 2  # losses x seeds x cases x regions
    row = per_case[(per_case["loss"] == "dice") & (per_case["seed"] == 1) & (per_case["case"] == "c2")]
    assert row.set_index("region").loc["tc", "dice"] == 0.80
    assert row.set_index("region").loc["tc", "lesion_dice"] == pytest.approx(0.70)

    paired = paired_against_first(per_case, ["bce_dice", "dice"])
    tc = paired[(paired["region"] == "tc") & (paired["metric"] == "dice")].iloc[0]
    # by hand: differences 0.10, 0.10, 0.05, 0.10, 0.10, 0.05 -> mean 0.5 / 6
    assert tc["loss"] == "dice" and tc["baseline"] == "bce_dice"
    assert tc["mean_diff"] == pytest.approx(0.5 / 6)
    assert tc["n_pairs"] == 6 and tc["n_seeds"] == 3
    assert tc["ci_low"] > 0  # every difference positive: the interval excludes 0
    # 6 positive differences: exact two-sided signed-rank p = 2 / 2^6 (ties: scipy's normal approximation)
    assert tc["p_value"] < 0.05 and tc["p_holm"] == tc["p_value"]  # one setting compared: Holm changes nothing
    wt = paired[(paired["region"] == "wt") & (paired["metric"] == "dice")].iloc[0]
    assert wt["mean_diff"] == 0 and wt["verdict"] == "no detectable difference"
    mean = paired[(paired["region"] == "mean") & (paired["metric"] == "dice")].iloc[0]
    assert mean["mean_diff"] == pytest.approx(0.5 / 6 / 2)  # mean over tc, wt of each case
    hd95 = paired[(paired["region"] == "tc") & (paired["metric"] == "hd95")].iloc[0]
    assert hd95["mean_diff"] == 0 and hd95["n_pairs"] == 6
    assert set(paired["metric"]) == {"dice", "lesion_dice", "hd95"}

    times = collect_runs(runs)
    assert sorted(times["train_s"]) == [60.0, 60.0, 61.0, 61.0, 62.0, 62.0]
    assert list(times["val_mean_dice"]) == [0.5] * 6


def test_write_results_and_report(tmp_path):
    runs = cmp.plan("configs/train.json", [0, 1], tmp_path, losses=["bce_dice", "focal"])
    for i, run in enumerate(runs):
        _fake_run(run, [0.5 + 0.01 * i, 0.6], [0.9, 0.8 - 0.02 * i], [0.4, 0.5])
    out = write_results(runs, tmp_path / "results")
    per_case = pd.read_csv(f"{out}/per_case.csv")
    assert set(per_case["loss"]) == {"bce_dice", "focal"} and set(per_case["region"]) == {"tc", "wt"}
    paired = pd.read_csv(f"{out}/paired.csv")
    assert set(paired["region"]) == {"tc", "wt", "mean"}
    report = (tmp_path / "results" / "report.md").read_text()
    # per seed mean dice of region tc for bce_dice: seed 0 (0.50 + 0.6) / 2, seed 1 (0.51 + 0.6) / 2
    s = np.array([0.55, 0.555])
    assert f"| bce_dice | 2 | {s.mean():.3f} ± {s.std(ddof=1):.3f} (0.550-0.555)" in report
    assert "no detectable difference" in report and "Runs are paired by seed" in report


def test_partial_results_pair_only_finished_runs(tmp_path):
    runs = cmp.plan("configs/train.json", [0, 1], tmp_path, losses=["bce_dice", "dice"])
    for run in runs[:3]:  # dice seed 1 unfinished
        _fake_run(run, [0.5, 0.6], [0.9, 0.8], [0.4, 0.5])
    paired = paired_against_first(collect_per_case(runs), ["bce_dice", "dice"])
    assert set(paired["n_pairs"]) == {2} and set(paired["n_seeds"]) == {1}


def test_execute_skips_finished_and_resumes_interrupted(tmp_path, monkeypatch):
    calls = []

    def fake_workflow(run, workflow, bundle_dir):
        calls.append((run.name, run.seed, workflow))
        return 1.0

    monkeypatch.setattr(cmp, "_run_workflow", fake_workflow)
    runs = cmp.plan("configs/train.json", [0, 1], tmp_path, losses=["dice", "focal"])
    assert cmp.execute_all(runs) == 4
    assert calls == [(n, s, w) for s in (0, 1) for n in ("dice", "focal") for w in ("train", "evaluate")]
    calls.clear()
    assert cmp.execute_all(runs) == 0 and calls == []  # every run finished: nothing trains
    (runs[1].folder / cmp.DONE).unlink()  # dice seed 1 killed during evaluate: trained, not evaluated
    assert cmp.execute_all(runs) == 1 and calls == [("dice", 1, "evaluate")]
    done = json.loads((runs[1].folder / cmp.DONE).read_text())
    assert done["train_s"] == 1.0 and done["seed"] == 1


def test_execute_refuses_to_resume_with_other_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(cmp, "_run_workflow", lambda run, workflow, bundle_dir: 1.0)
    (run,) = cmp.plan("configs/train.json", [0], tmp_path, losses=["dice"], ids={"epochs": 2})
    run.folder.mkdir(parents=True)
    (run.folder / cmp.TRAIN_DONE).write_text(json.dumps({"train_s": 1.0}))
    cmp.execute(run)
    (run.folder / cmp.DONE).unlink()
    (other,) = cmp.plan("configs/train.json", [0], tmp_path, losses=["dice"], ids={"epochs": 3})
    with pytest.raises(ValueError, match="holds a run with other settings"):
        cmp.execute(other)


def _log_validation(eval_dir, values):
    """Validation scalars per epoch as the trainer's TensorBoardStatsHandler logs them."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(eval_dir))
    for epoch, (mean, tc) in enumerate(values, start=1):
        writer.add_scalar("val_mean_dice", mean, epoch)
        writer.add_scalar("val_dice_tc", tc, epoch)
        writer.add_scalar("train_loss", 1.0 / epoch, epoch)
    writer.close()


def test_validation_curves_and_last_epoch(tmp_path):
    _log_validation(tmp_path, [(0.2, 0.1), (0.5, 0.4), (0.3, 0.35)])
    curves = validation_curves(tmp_path)
    assert set(curves["tag"]) == {"val_mean_dice", "val_dice_tc"}  # training scalars left out
    out = last_epoch(curves)
    assert out["last_epoch"] == 3 and out["best_epoch"] == 2
    assert out["val_mean_dice_last"] == pytest.approx(0.3) and out["val_dice_tc_last"] == pytest.approx(0.35)
    assert last_epoch(validation_curves(tmp_path / "none")) == {}


def test_paired_last_epoch_pairs_by_seed(tmp_path):
    runs_table = pd.DataFrame(
        {
            "loss": ["a", "a", "a", "b", "b", "b"],
            "seed": [0, 1, 2, 0, 1, 2],
            "val_mean_dice_last": [0.5, 0.4, 0.6, 0.55, 0.42, 0.5],
            "train_s": [1.0] * 6,
        }
    )
    paired = paired_last_epoch(runs_table, ["a", "b"])
    row = paired.iloc[0]
    assert row["metric"] == "val_mean_dice_last" and row["loss"] == "b" and row["baseline"] == "a"
    assert row["mean_diff"] == pytest.approx((0.05 + 0.02 - 0.1) / 3) and row["n_pairs"] == 3
    assert row["verdict"] == "no detectable difference"
    assert paired_last_epoch(runs_table, ["a"]).empty
