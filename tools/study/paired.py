"""Paired comparison of two training settings (e.g. two losses) on the same cases: what the study and
``tools.study compare`` report.

Design. Runs are paired by construction: for a given seed both settings start from the same initial weights and
see the same data in the same order, and both are scored on the same test cases, so every (seed, case[, region])
gives one paired difference ``d = metric(setting) - metric(baseline)``. The cases of one seed share a trained model,
so they are not independent draws: the confidence interval comes from a **two-stage (hierarchical) bootstrap** that
resamples seeds with replacement and then cases within each drawn seed (Davison & Hinkley 1997, sec. 3.8), which
keeps the seed-to-seed spread of training in the interval. The p-value is the **Wilcoxon signed-rank test** of the
per-case differences (two-sided, zero differences dropped: ``scipy.stats.wilcoxon`` defaults), corrected over the
settings compared with **Holm's** step-down method (Holm 1979). A difference is *detectable* only when the interval
excludes 0 and the Holm-corrected p-value is below ``alpha``; the design's *detectable difference* is the smallest
true mean difference found with 80 % power at the 5 % level, ``(z_0.975 + z_0.8) x`` the bootstrap standard error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm, wilcoxon

N_BOOTSTRAP = 10_000
ALPHA = 0.05
POWER = 0.8

PAIRED_COLUMNS = [
    "loss",
    "baseline",
    "metric",
    "n_pairs",
    "n_seeds",
    "mean_diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "detectable_diff",
    "verdict",
]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down; monotone, capped at 1), in the order given. NaN stays NaN and does not
    count as a hypothesis."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def signed_rank_p(diffs: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the differences; 1.0 when every difference is 0, NaN when
    there are none."""
    d = np.asarray(diffs, dtype=float)
    if d.size == 0:
        return math.nan
    if not np.any(d != 0):
        return 1.0
    return float(wilcoxon(d).pvalue)


def _bootstrap_means(diffs: np.ndarray, clusters: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` two-stage bootstrap samples: clusters with replacement, then members within each."""
    labels, inverse = np.unique(clusters, return_inverse=True)
    k = len(labels)
    sizes = np.bincount(inverse, minlength=k)
    padded = np.zeros((k, sizes.max()))
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for c in range(k):
        padded[c, : sizes[c]] = diffs[order[starts[c] : starts[c] + sizes[c]]]
    picked = rng.integers(0, k, size=(n_boot, k))  # clusters of each sample
    n = sizes[picked]  # (n_boot, k) members of each drawn cluster
    members = np.floor(rng.random((n_boot, k, sizes.max())) * n[..., None]).astype(int)
    mask = np.arange(sizes.max())[None, None, :] < n[..., None]
    values = np.take_along_axis(padded[picked], members, axis=2)
    return (values * mask).sum(axis=(1, 2)) / n.sum(axis=1)


def paired_difference(
    values: Sequence[float],
    baseline: Sequence[float],
    clusters: Sequence | None = None,
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Paired difference ``values - baseline`` (pairs where either is NaN are dropped).

    ``clusters`` (e.g. the seed of each pair) makes the bootstrap two-stage; without it every pair is its own
    cluster (the ordinary percentile bootstrap). Returns ``n_pairs``, ``n_seeds`` (clusters), ``mean_diff``,
    ``ci_low``, ``ci_high`` (percentile interval), ``p_value`` (Wilcoxon, uncorrected), ``detectable_diff``.
    """
    a, b = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same length, got {a.shape} and {b.shape}.")
    c = np.arange(a.size) if clusters is None else np.asarray(clusters)
    if c.shape != a.shape:
        raise ValueError(f"one cluster per pair expected, got {c.shape} for {a.shape} pairs.")
    keep = ~(np.isnan(a) | np.isnan(b))
    d, c = a[keep] - b[keep], c[keep]
    result = {"n_pairs": int(d.size), "n_seeds": int(len(np.unique(c))) if d.size else 0}
    if d.size == 0:
        return result | dict.fromkeys(("mean_diff", "ci_low", "ci_high", "p_value", "detectable_diff"), math.nan)
    means = _bootstrap_means(d, c, n_boot, np.random.default_rng(seed))
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    z = norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER)
    return result | {
        "mean_diff": float(d.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": signed_rank_p(d),
        "detectable_diff": float(z * means.std(ddof=1)) if d.size > 1 else math.nan,
    }


def verdict(row: dict, higher_is_better: bool = True, alpha: float = ALPHA) -> str:
    """'better' / 'worse' than the baseline when the interval excludes 0 and ``p_holm < alpha``, else
    'no detectable difference' (or 'no pairs')."""
    if not row.get("n_pairs"):
        return "no pairs"
    separated = row["ci_low"] > 0 or row["ci_high"] < 0
    if not (separated and row["p_holm"] < alpha):
        return "no detectable difference"
    return "better" if (row["mean_diff"] > 0) == higher_is_better else "worse"


def compare_to_baseline(
    per_setting: dict[str, tuple[Sequence[float], Sequence[float], Sequence]],
    baseline: str,
    metric: str,
    higher_is_better: bool = True,
    **bootstrap,
) -> list[dict]:
    """One row of ``PAIRED_COLUMNS`` per setting (the baseline excluded), Holm-corrected over those settings.

    ``per_setting[name] = (values, baseline_values, clusters)``: the setting's and the baseline's metric on the
    same pairs, in the same order, and each pair's cluster (seed).
    """
    rows = []
    for name, (values, base, clusters) in per_setting.items():
        if name == baseline:
            continue
        rows.append(
            {"loss": name, "baseline": baseline, "metric": metric}
            | paired_difference(values, base, clusters, **bootstrap)
        )
    for row, p in zip(rows, holm([r.get("p_value", math.nan) for r in rows])):
        row["p_holm"] = p
        row["verdict"] = verdict(row, higher_is_better)
    return rows


def format_row(row: dict, digits: int = 3) -> str:
    """``+0.012 [-0.004, 0.030], p_holm 0.41: no detectable difference`` (for reports)."""
    if not row.get("n_pairs"):
        return "no pairs"
    f = f"{{:+.{digits}f}}"
    return (
        f"{f.format(row['mean_diff'])} [{f.format(row['ci_low'])}, {f.format(row['ci_high'])}], "
        f"p_holm {row['p_holm']:.2g}: {row['verdict']}"
    )


def paired_table(
    frame,
    setting: str,
    baseline: str,
    metrics: Sequence[str],
    pair_keys: Sequence[str],
    cluster_key: str = "seed",
    group_keys: Sequence[str] = (),
    lower_is_better: Sequence[str] = ("hd95", "lesion_hd95", "fp_lesions"),
    **bootstrap,
) -> list[dict]:
    """Rows of ``paired.csv`` from a long-format ``pandas.DataFrame`` of per-case results.

    ``frame[setting]`` names the setting of each row (e.g. the loss); rows with equal ``pair_keys`` (e.g.
    ``seed, case`` or ``seed, case, region``) pair up across settings. For each group of ``group_keys`` (e.g.
    ``level, sampler``) and each metric, every other setting is compared with ``baseline`` and Holm-corrected over
    those settings. Pairs missing either side are left out.
    """
    rows = []
    groups = frame.groupby(list(group_keys), sort=False) if group_keys else [((), frame)]
    for group, sub in groups:
        group = group if isinstance(group, tuple) else (group,)
        for metric in metrics:
            wide = sub.pivot_table(index=list(pair_keys), columns=setting, values=metric, aggfunc="first", dropna=False)
            if baseline not in wide.columns:
                raise ValueError(f"baseline {baseline!r} has no {metric!r} values in group {group}.")
            clusters = wide.index.get_level_values(cluster_key) if cluster_key in pair_keys else None
            per_setting = {
                name: (wide[name].to_numpy(float), wide[baseline].to_numpy(float), clusters) for name in wide.columns
            }
            for row in compare_to_baseline(per_setting, baseline, metric, metric not in lower_is_better, **bootstrap):
                rows.append(dict(zip(group_keys, group)) | row)
    return rows
