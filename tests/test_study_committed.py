"""The committed study document is what ``report`` makes from the committed results (nothing edited by hand)."""

import os

import pandas as pd

from tools.study.__main__ import report
from tools.study.presets import STUDY_LOSSES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "docs", "study_results", "cpu")


def _body(text: str) -> list[str]:
    # the link to the results folder is relative to the docs folder, which differs here
    return [line for line in text.splitlines() if "results.csv" not in line]


def test_committed_study_md_is_regenerated_from_committed_results(tmp_path):
    report(results_dir=RESULTS, docs_dir=str(tmp_path))
    committed = open(os.path.join(REPO, "docs", "study.md"), encoding="utf-8").read()
    assert _body((tmp_path / "study.md").read_text(encoding="utf-8")) == _body(committed)
    for name in ("study_bars.png", "study_curves.png", "study_overlay.png"):
        assert os.path.isfile(os.path.join(REPO, "docs", "figures", name)), name


def test_committed_results_cover_the_required_grid():
    results = pd.read_csv(os.path.join(RESULTS, "results.csv"))
    assert set(results["loss"]) == set(STUDY_LOSSES) and len(STUDY_LOSSES) == 16
    assert sorted(results["level"].unique()) == [0.0001, 0.001, 0.01]
    assert (results.groupby(["loss", "level"]).size() >= 3).all()


def test_committed_budget_check_covers_every_loss_at_1x_and_4x():
    budget = pd.read_csv(os.path.join(RESULTS, "budget.csv"))
    assert set(budget["level"]) == {0.001} and set(budget["seed"]) == {0}
    for factor, iterations in ((1, 240), (4, 960)):
        runs = budget[budget["factor"] == factor]
        assert sorted(runs["loss"]) == sorted(STUDY_LOSSES) and set(runs["iterations"]) == {iterations}
    curves = pd.read_csv(os.path.join(RESULTS, "budget_curves.csv"))
    # 10 epochs of 24 iterations at 1x, 40 at 4x
    assert curves.groupby(["loss", "factor"]).size().to_dict() == {(n, f): 10 * f for n in STUDY_LOSSES for f in (1, 4)}
    main = pd.read_csv(os.path.join(RESULTS, "results.csv")).query("level == 0.001 and seed == 0").set_index("loss")
    short = budget[budget["factor"] == 1].set_index("loss")
    assert short["dice"].to_dict() == main.loc[short.index, "dice"].to_dict()
