"""``report.md`` of ``tools.study compare``: per region the spread over seeds of each setting, then the paired
differences against the first setting, from ``per_case.csv``, ``runs.csv`` and ``paired.csv``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from scripts.files import write_text

from .compare import Run
from .compare_collect import MEAN_REGION, PAIRED_METRICS, seed_means, spread

LOWER_IS_BETTER = ("hd95",)

PAIRING = (
    "Runs are paired by seed: for one seed every setting starts from the same initial weights (where the network is "
    "the same), draws the same training patches in the same order and is scored on the same validation cases "
    "(the seed also chooses the training / validation split), so each (seed, case, region) gives one paired "
    "difference, setting minus baseline. The interval is a two-stage bootstrap (seeds, then cases within a seed) of "
    "the mean difference, so it carries the seed-to-seed spread of training; the p-value is the Wilcoxon signed-rank "
    "test of the differences, Holm-corrected over the settings compared (per region and metric). A difference is "
    'reported only when the 95 % interval excludes 0 and p_holm < 0.05, otherwise "no detectable difference"; the '
    "detectable difference is the true mean difference this design would find with 80 % power "
    "(2.8 x the bootstrap standard error)."
)


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _spread_text(s: dict, digits: int = 3) -> str:
    if not s["n"]:
        return "n/a"
    return f"{_fmt(s['mean'], digits)} ± {_fmt(s['sd'], digits)} ({_fmt(s['min'], digits)}-{_fmt(s['max'], digits)})"


def spread_table(per_case: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """One table per region: each setting's metric as mean ± sd (min-max) over seeds of the per-seed case mean."""
    metrics = [m for m in PAIRED_METRICS if m in per_case.columns and per_case[m].notna().any()]
    means = {m: seed_means(per_case, m) for m in metrics}
    regions = list(dict.fromkeys([*per_case["region"], MEAN_REGION]))
    lines = []
    for region in regions:
        lines += [f"### Region {region}", "", "| setting | seeds | " + " | ".join(metrics) + " |"]
        lines.append("|---|---|" + "---|" * len(metrics))
        for name in names:
            cells = []
            n_seeds = 0
            for m in metrics:
                sub = means[m]
                values = sub[(sub["loss"] == name) & (sub["region"] == region)][m]
                s = spread(values.to_numpy(float))
                n_seeds = max(n_seeds, s["n"])
                cells.append(_spread_text(s, 1 if m in LOWER_IS_BETTER else 3))
            lines.append(f"| {name} | {n_seeds} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def seed_table(per_case: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Dice per setting and seed (mean over the validation cases), every region: the draws behind the spread."""
    if "dice" not in per_case.columns:
        return []
    means = seed_means(per_case, "dice")
    regions = list(dict.fromkeys([MEAN_REGION, *per_case["region"]]))
    lines = ["| setting | seed | " + " | ".join(f"Dice {r}" for r in regions) + " |"]
    lines.append("|---|---|" + "---|" * len(regions))
    for name in names:
        sub = means[means["loss"] == name]
        for seed in sorted(sub["seed"].unique()):
            row = sub[sub["seed"] == seed].set_index("region")["dice"]
            lines.append(f"| {name} | {seed} | " + " | ".join(_fmt(row.get(r, math.nan)) for r in regions) + " |")
    return lines


def paired_lines(paired: pd.DataFrame) -> list[str]:
    if paired.empty:
        return ["No paired differences: a single setting, or the baseline has no finished run yet."]
    lines = [
        "| region | metric | setting | baseline | difference [95 % CI] | p | p_holm | detectable | pairs (seeds) | "
        "verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in paired.to_dict("records"):
        digits = 1 if row["metric"] in LOWER_IS_BETTER else 3
        f = f"{{:+.{digits}f}}"
        ci = (
            f"{f.format(row['mean_diff'])} [{f.format(row['ci_low'])}, {f.format(row['ci_high'])}]"
            if row["n_pairs"]
            else "n/a"
        )
        lines.append(
            f"| {row['region']} | {row['metric']} | {row['loss']} | {row['baseline']} | {ci} | "
            f"{_fmt(row['p_value'], 3)} | {_fmt(row['p_holm'], 3)} | {_fmt(row['detectable_diff'], digits + 1)} | "
            f"{row['n_pairs']} ({row['n_seeds']}) | {row['verdict']} |"
        )
    return lines


def last_epoch_lines(runs_table: pd.DataFrame, paired_last: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """The validation Dice of the last epoch (what the training reached; evaluate scores the best epoch)."""
    tags = [c for c in runs_table.columns if c.startswith("val_") and c.endswith("_last") and "dice" in c]
    if runs_table.empty or not tags:
        return []
    tags = sorted(tags, key=lambda t: (t != "val_mean_dice_last", "lesion" in t, t))
    lines = ["| setting | best epoch | " + " | ".join(t[4:-5] for t in tags) + " |", "|---|---|" + "---|" * len(tags)]
    for name in names:
        sub = runs_table[runs_table["loss"] == name]
        if len(sub):
            best = ", ".join(str(int(e)) for e in sub.get("best_epoch", pd.Series(dtype=float)).dropna())
            cells = [_spread_text(spread(sub[t].to_numpy(float))) for t in tags]
            lines.append(f"| {name} | {best} | " + " | ".join(cells) + " |")
    if not paired_last.empty:
        head = "Paired by seed (one pair per seed; bootstrap over seeds, Wilcoxon, Holm over the settings)"
        n = int(paired_last["n_pairs"].max())
        if 0 < n < 6:  # the signed-rank test's smallest two-sided p-value is 2 / 2^n
            head += (
                f"; with {n} seeds the smallest possible two-sided signed-rank p-value is 2/2^{n} = {2 / 2**n:.3f}, "
                "so this table cannot call a difference with fewer than 6 seeds, whatever its size"
            )
        lines += ["", head + ":", ""]
        lines += ["| metric | setting | baseline | difference [95 % CI] | p_holm | detectable | seeds | verdict |"]
        lines += ["|---|---|---|---|---|---|---|---|"]
        for row in paired_last.to_dict("records"):
            ci = f"{row['mean_diff']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]" if row["n_pairs"] else "n/a"
            lines.append(
                f"| {row['metric'][4:-5]} | {row['loss']} | {row['baseline']} | {ci} | {_fmt(row['p_holm'])} | "
                f"{_fmt(row['detectable_diff'])} | {row['n_pairs']} | {row['verdict']} |"
            )
    return lines


def time_lines(runs_table: pd.DataFrame, names: Sequence[str]) -> list[str]:
    if runs_table.empty:
        return []
    lines = ["| setting | runs | train (s) | evaluate (s) |", "|---|---|---|---|"]
    for name in names:
        sub = runs_table[runs_table["loss"] == name]
        if len(sub):
            tr, ev = spread(sub["train_s"]), spread(sub["evaluate_s"])
            lines.append(f"| {name} | {len(sub)} | {_spread_text(tr, 0)} | {_spread_text(ev, 0)} |")
    return lines


def _own_settings(run: Run, shared: dict, n_files: int) -> str:
    ids = {k: v for k, v in run.ids.items() if k not in shared and k != "bundle_root"}
    files = list(run.config_file[n_files:])
    return f"`{ids}`" + (f" + `{files}`" if files else "")


def write_report(out: str | Path, runs: Sequence[Run], names: Sequence[str]) -> str:
    """Write ``out/report.md`` from the tables already in ``out``; returns its path."""
    out = Path(out)
    per_case = pd.read_csv(out / "per_case.csv")
    paired = pd.read_csv(out / "paired.csv")
    runs_table = pd.read_csv(out / "runs.csv")
    done = runs_table[["loss", "seed"]].drop_duplicates() if not runs_table.empty else runs_table
    first = runs[0] if runs else None
    cases = per_case.groupby("seed")["case"].nunique() if not per_case.empty else pd.Series(dtype=int)
    lines = [
        "# Comparison with the bundle's workflows",
        "",
        f"Settings (the first is the baseline): {', '.join(f'`{n}`' for n in names)}; "
        f"seeds {sorted({r.seed for r in runs})}; {len(done)} of {len(runs)} runs finished.",
    ]
    if first is not None:
        shared = {k: v for k, v in first.ids.items() if all(r.ids.get(k) == v for r in runs) and k != "bundle_root"}
        lines.append(f"Configs `{list(first.config_file)}`; ids of every run: `{shared or 'defaults'}`.")
        own = {r.name: r for r in runs}
        lines.append(
            "Per setting: "
            + "; ".join(f"`{n}`: {_own_settings(own[n], shared, len(first.config_file))}" for n in names)
            + "."
        )
    if len(cases):
        lines.append(
            f"Validation cases per seed: {int(cases.min())}-{int(cases.max())} "
            f"({per_case['case'].nunique()} distinct over the seeds); "
            "evaluate scores `models/model.pt`, the epoch with the best validation key metric on these same cases, "
            "for every setting alike."
        )
    lines += [
        "",
        "## Metrics over seeds",
        "",
        "Mean ± sd (min-max) over seeds of the per-seed mean over the validation cases; region `mean` is the "
        "per-case mean over the regions (the bundle's mean Dice). HD95 in voxels (BraTS) or mm (KiTS).",
        "",
    ]
    if per_case.empty:
        lines += ["No finished run yet.", ""]
    else:
        lines += spread_table(per_case, names)
        lines += ["Dice per seed:", "", *seed_table(per_case, names), ""]
    lines += ["## Paired differences against the baseline", "", PAIRING, "", *paired_lines(paired), ""]
    last_path = out / "paired_last_epoch.csv"
    paired_last = pd.read_csv(last_path) if last_path.exists() else pd.DataFrame()
    last = last_epoch_lines(runs_table, paired_last, names)
    if last:
        lines += [
            "## Validation Dice at the last epoch",
            "",
            "What the training reached after its last epoch, as logged during training (all validation "
            "cases pooled per run), mean ± sd (min-max) over seeds; the tables above score the best epoch's "
            "checkpoint (`models/model.pt`, the epoch listed per seed).",
            "",
            *last,
            "",
        ]
    times = time_lines(runs_table, names)
    if times:
        lines += [
            "## Wall time per run",
            "",
            "Mean ± sd (min-max) seconds, as measured on the machine that ran them.",
            "",
            *times,
            "",
        ]
    return write_text(out / "report.md", "\n".join(lines))
