"""The study's budget check without training: preset validation, the run grouping, the verdicts and family
sentences of the report from hand-made numbers, and the gdl_boundary alpha schedule of a (tiny) run."""

import pandas as pd
import pytest

from scripts.losses._base import SegmentationLoss
from tools.study.budget import budget_section, first_learning_epoch, verdict
from tools.study.data import make_dataset
from tools.study.grid import grid_groups, run_path
from tools.study.presets import BudgetCheck, get_preset
from tools.study.train import train_one

LEARNABLE = 0.05


def test_cpu_preset_checks_every_loss_at_0_1_percent_with_four_times_the_iterations():
    preset = get_preset("cpu")
    assert preset.budget_check == BudgetCheck(level=0.001, factor=4, seeds=(0,))
    assert len(preset.losses) == 16
    assert {"gdl_boundary", "lovasz", "topk_ce", "blob"} <= set(preset.losses)


@pytest.mark.parametrize(
    "check, match",
    [
        ({"level": 0.05}, "level 0.05"),
        ({"seeds": [7]}, r"seeds \[7\]"),
        ({"factor": 1}, "factor"),
        ({"factor": 2.5}, "factor"),
        ({"length": 3}, "length"),
    ],
)
def test_budget_check_outside_the_grid_is_refused(check, match):
    with pytest.raises(ValueError, match=match):
        get_preset("cpu", budget_check=check)


def test_budget_check_from_a_dict_or_switched_off():
    assert get_preset("cpu", budget_check={"level": 0.01, "factor": 2, "seeds": 1}).budget_check == BudgetCheck(
        0.01, 2, (1,)
    )
    assert get_preset("cpu", budget_check=None).budget_check is None
    assert get_preset("cpu", budget_check=False).budget_check is None


def test_groups_cover_the_grid_and_the_budget_runs_longest_first(tmp_path):
    preset = get_preset("cpu", losses=["dice", "bce", "focal", "combo", "tversky"], seeds=[0, 1])
    cached = run_path(str(tmp_path), "bce", 0.001, 0, factor=4)  # a finished budget run is not trained again
    (tmp_path / "runs").mkdir()
    open(cached, "w").close()
    groups = grid_groups(preset, str(tmp_path))
    main = [(lv, s, tuple(m)) for p, lv, s, m, f in groups if f == 1]
    assert sorted(main) == [(lv, s, tuple(preset.losses)) for lv in (0.0001, 0.001, 0.01) for s in (0, 1)]
    longer = [(p.iterations, lv, s, m) for p, lv, s, m, f in groups if f == 4]
    # 4 missing losses in groups of ceil(5 / 4) = 2, each of 2 x 4 = 8 main-run costs: before the 5-loss groups
    assert longer == [(960, 0.001, 0, ["dice", "focal"]), (960, 0.001, 0, ["combo", "tversky"])]
    assert [f for *_, f in groups[:2]] == [4, 4]


@pytest.mark.parametrize(
    "dice_1x, dice_fx, expected",
    [(0.0, 0.3, "budget"), (0.0, 0.049, "loss"), (0.05, 0.6, "learns"), (0.4, 0.0, "lost"), (0.049, 0.05, "budget")],
)
def test_verdict(dice_1x, dice_fx, expected):
    assert verdict(dice_1x, dice_fx, LEARNABLE) == expected


def _budget(rows):
    cols = ["loss", "factor", "dice", "recall", "empty_pred"]
    df = pd.DataFrame(rows, columns=cols)
    return df.assign(level=0.001, seed=0, iterations=240 * df["factor"], seconds=10.0 * df["factor"])


def test_section_table_and_family_sentences_follow_the_numbers():
    budget = _budget(
        [
            ("bce", 1, 0.0, 0.0, 1.0), ("bce", 4, 0.31, 0.25, 0.0),
            ("focal", 1, 0.0, 0.0, 1.0), ("focal", 4, 0.0, 0.0, 1.0),
            ("combo", 1, 0.02, 0.01, 0.5), ("combo", 4, 0.4, 0.3, 0.0),
            ("bce_dice", 1, 0.0, 0.0, 1.0), ("bce_dice", 4, 0.2, 0.1, 0.0),
            ("dice", 1, 0.45, 0.35, 0.0), ("dice", 4, 0.52, 0.45, 0.0),
            ("tversky", 1, 0.0, 0.0, 1.0), ("tversky", 4, 0.06, 0.5, 0.0),
            ("mystery", 1, 0.3, 0.2, 0.0), ("mystery", 4, 0.01, 0.0, 0.875),
        ]
    )  # fmt: skip
    text = "\n".join(budget_section(budget, LEARNABLE))
    assert "## Budget check: 4x the iterations at foreground 0.1 %" in text
    assert "(960 instead of 240;" in text and "total 4.7 min" in text  # 7 runs of 40 s
    assert "| bce | 0 | 0.000 | 0.310 | 0.000 | 0.250 | 1.000 | 0.000 | fails at 1x, learns at 4x: budget |" in text
    assert "| focal | 0 | 0.000 | 0.000 | 0.000 | 0.000 | 1.000 | 1.000 | fails at 1x and at 4x: the loss |" in text
    assert "| dice | 0 | 0.450 | 0.520 | 0.350 | 0.450 | 0.000 | 0.000 | learns at 1x and at 4x |" in text
    assert "| mystery | 0 | 0.300 | 0.010 | 0.200 | 0.000 | 0.000 | 0.875 | learns at 1x, fails at 4x |" in text
    assert (
        "- **distribution (cross-entropy)** (2 losses): 2 fail at 1x (bce, focal). At 4x bce learns the object "
        "(budget); focal still fails (the loss, within 4x the budget)." in text
    )
    assert (
        "- **compound (cross-entropy + region)** (2 losses): 2 fail at 1x (bce_dice, combo). All of them learn the "
        "object at 4x: a matter of budget, not of the loss." in text
    )
    assert (
        "- **region** (2 losses): 1 fails at 1x (tversky). It learns the object at 4x: a matter of budget, not of "
        "the loss. dice learns at both budgets." in text
    )
    assert "- **other** (1 loss): mystery learns at 1x but fails at 4x." in text
    assert "one seed per loss" in text


def test_gdl_boundary_alpha_follows_the_schedule_per_epoch(monkeypatch):
    # the schedule, not the compiler, is under test: the losses run eagerly (compiling costs seconds a loss)
    monkeypatch.setattr(SegmentationLoss, "run", lambda self, fn, *args: fn(*args))
    preset = get_preset("micro", iterations=7, iterations_per_epoch=2)
    data = make_dataset(0, 0.01, preset.shape, preset.blobs, preset.n_train, preset.n_val, preset.n_test)
    record = train_one(preset, "gdl_boundary", 0.01, 0, data)
    # epochs start at iterations 0, 2, 4, 6: alpha = 1 - 0.01 x (0-based epoch) (Kervadec et al.)
    assert record["alpha_per_epoch"] == pytest.approx([1.0, 0.99, 0.98, 0.97])
    assert train_one(preset, "dice", 0.01, 0, data)["alpha_per_epoch"] == []


def test_section_without_longer_runs_says_so():
    only_1x = _budget([("bce", 1, 0.0, 0.0, 1.0), ("dice", 1, 0.4, 0.3, 0.0)])
    assert budget_section(only_1x, LEARNABLE) == [
        "## Budget check",
        "",
        "No loss has both its 1x and its longer run in these results.",
    ]


def test_first_learning_epoch_and_its_column():
    budget = _budget([("bce", 1, 0.0, 0.0, 1.0), ("bce", 4, 0.31, 0.25, 0.0), ("focal", 1, 0.0, 0.0, 1.0),
                      ("focal", 4, 0.0, 0.0, 1.0)])  # fmt: skip
    rows = [("bce", 4, [0.0, 0.01, 0.2, 0.04]), ("focal", 4, [0.0, 0.0, 0.0, 0.049]), ("bce", 1, [0.0]),
            ("focal", 1, [0.0])]  # fmt: skip
    curves = pd.DataFrame(
        [(f, loss, 0.001, 0, e, 1.0, v) for loss, f, vals in rows for e, v in enumerate(vals, 1)],
        columns=["factor", "loss", "level", "seed", "epoch", "train_loss", "val_dice"],
    )
    assert first_learning_epoch(curves, LEARNABLE) == {
        ("bce", 0, 1): None, ("bce", 0, 4): 3, ("focal", 0, 1): None, ("focal", 0, 4): None
    }  # fmt: skip
    text = "\n".join(budget_section(budget, LEARNABLE, curves))
    assert "(the main budget is 1 epochs)" in text
    assert "| fails at 1x, learns at 4x: budget | 3 |" in text
    assert "| fails at 1x and at 4x: the loss | never (4 epochs) |" in text
