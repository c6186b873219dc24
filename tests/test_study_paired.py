"""Paired statistics of the study against independent computations: exact enumeration of the signed-rank
distribution, Holm's method by hand, the bootstrap's standard error against the analytic one."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from tools.study.paired import holm, paired_difference, paired_table, signed_rank_p, verdict


def _exact_signed_rank_p(d):
    """Two-sided exact p-value by enumerating the 2^n sign patterns of the ranks (no ties, no zeros)."""
    d = np.asarray(d, float)
    ranks = np.argsort(np.argsort(np.abs(d))) + 1
    observed = ranks[d > 0].sum()
    total = ranks.sum()
    stats = [sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product([0, 1], repeat=len(d))]
    stats = np.array(stats)
    tail = min(np.mean(stats <= observed), np.mean(stats >= observed))
    assert min(observed, total - observed) >= 0
    return min(1.0, 2 * tail)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = holm([0.02, math.nan, 0.01])  # NaN is no hypothesis: m = 2
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)


@pytest.mark.parametrize("d", [[0.3, -0.1, 0.25, 0.4, 0.05, -0.2, 0.15], [1.0, 2.0, 3.0, 4.0, 5.0], [-0.5, 0.1, -0.2]])
def test_signed_rank_matches_exact_enumeration(d):
    assert signed_rank_p(d) == pytest.approx(_exact_signed_rank_p(d))


def test_signed_rank_degenerate():
    assert signed_rank_p([0.0, 0.0, 0.0]) == 1.0
    assert math.isnan(signed_rank_p([]))


def test_bootstrap_se_matches_analytic_without_clusters():
    rng = np.random.default_rng(3)
    d = rng.normal(0.1, 0.2, size=400)
    out = paired_difference(d, np.zeros_like(d), n_boot=4000)
    se = d.std(ddof=1) / math.sqrt(d.size)
    half = (out["ci_high"] - out["ci_low"]) / 2
    assert half == pytest.approx(1.96 * se, rel=0.1)
    assert out["mean_diff"] == pytest.approx(d.mean())
    assert out["detectable_diff"] == pytest.approx(2.8016 * se, rel=0.1)
    assert out["n_pairs"] == 400 and out["n_seeds"] == 400


def test_clusters_widen_the_interval_when_seeds_differ():
    # 5 seeds whose cases agree within a seed but not across seeds: the seed-to-seed spread must show
    rng = np.random.default_rng(0)
    seed_effect = np.array([0.2, -0.15, 0.1, -0.05, 0.0])
    seeds = np.repeat(np.arange(5), 20)
    d = seed_effect[seeds] + rng.normal(0, 0.01, seeds.size)
    flat = paired_difference(d, np.zeros_like(d))
    nested = paired_difference(d, np.zeros_like(d), clusters=seeds)
    assert nested["n_seeds"] == 5
    # 5 clusters instead of 100 independent pairs: about sqrt(100 / 5) = 4.5 times wider
    assert (nested["ci_high"] - nested["ci_low"]) > 3 * (flat["ci_high"] - flat["ci_low"])
    assert nested["ci_low"] < 0 < nested["ci_high"]


def test_constant_difference_and_nan_pairs():
    out = paired_difference([1.0, 2.0, math.nan, 4.0], [0.5, 1.5, 3.0, math.nan], clusters=[0, 0, 1, 1])
    assert out["n_pairs"] == 2 and out["n_seeds"] == 1
    assert out["mean_diff"] == out["ci_low"] == out["ci_high"] == pytest.approx(0.5)


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="same length"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="one cluster per pair"):
        paired_difference([1.0, 2.0], [1.0, 2.0], clusters=[0])


def test_verdict_needs_interval_and_corrected_p():
    row = {"n_pairs": 10, "mean_diff": 0.1, "ci_low": 0.02, "ci_high": 0.2, "p_holm": 0.01}
    assert verdict(row) == "better"
    assert verdict(row, higher_is_better=False) == "worse"
    assert verdict(row | {"p_holm": 0.2}) == "no detectable difference"
    assert verdict(row | {"ci_low": -0.01}) == "no detectable difference"


def test_paired_table_pairs_by_key_and_corrects_per_group():
    rng = np.random.default_rng(1)
    rows = []
    for level in ("a", "b"):
        for seed in range(5):
            for case in range(8):
                base = rng.uniform(0.3, 0.7)
                rows.append({"level": level, "seed": seed, "case": case, "loss": "base", "dice": base, "hd95": 5.0})
                rows.append(
                    {"level": level, "seed": seed, "case": case, "loss": "good", "dice": base + 0.2, "hd95": 3.0}
                )
                rows.append(
                    {
                        "level": level,
                        "seed": seed,
                        "case": case,
                        "loss": "same",
                        "dice": base + rng.normal(0, 0.01),
                        "hd95": 5.0 + rng.normal(0, 0.01),
                    }
                )
    table = pd.DataFrame(
        paired_table(pd.DataFrame(rows), "loss", "base", ["dice", "hd95"], ["seed", "case"], group_keys=["level"])
    )
    assert len(table) == 2 * 2 * 2  # levels x metrics x non-baseline losses
    good = table[(table.loss == "good") & (table.metric == "dice")]
    assert (good.mean_diff.round(6) == 0.2).all() and (good.verdict == "better").all()
    assert (good.n_pairs == 40).all() and (good.n_seeds == 5).all()
    # hd95: lower is better, so the loss with the smaller distance is 'better'
    assert (table[(table.loss == "good") & (table.metric == "hd95")].verdict == "better").all()
    # Holm within each (level, metric): the two p-values of a group, corrected together
    for _, g in table.groupby(["level", "metric"]):
        assert g.p_holm.to_list() == pytest.approx(holm(g.p_value.to_list()))


def test_paired_table_requires_the_baseline():
    frame = pd.DataFrame([{"seed": 0, "case": 0, "loss": "a", "dice": 0.5}])
    with pytest.raises(ValueError, match="baseline 'base'"):
        paired_table(frame, "loss", "base", ["dice"], ["seed", "case"])
