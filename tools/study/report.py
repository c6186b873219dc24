"""``docs/study.md`` and ``docs/figures/study_*.png`` from the consolidated results (no training).

The reading of the papers' claims is computed from the numbers with one fixed rule, stated in the document:
loss A is *better* than loss B at a level when mean(A) - mean(B) exceeds the larger of their two standard
deviations over seeds and ``MIN_EFFECT``, *worse* in the mirror case, otherwise *no clear difference* (also
when either has fewer than two seeds).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd

from scripts.files import write_text

from .budget import budget_section
from .figures import bar_chart, curves_figure, level_label, overlay_figure

UNIFIED = ("asymmetric_unified_focal", "symmetric_unified_focal")
DICE_VARIANTS = ("dice", "generalized_dice", "tversky", "focal_tversky", "focal_dice")
CE_VARIANTS = ("bce", "wce", "focal", "bce_dice", "combo")
LEARNABLE_DICE = 0.05
"""A level where no loss reaches this mean Dice is reported as uninformative for the comparisons."""
MIN_EFFECT = 0.02
"""Smallest difference (Dice units) counted as an effect, whatever the spread over seeds."""


def _fmt(mean: float, std: float, digits: int = 3) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f} (1 seed)" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of every metric, per (loss, level), with the over-fitting indicators."""
    df = results.assign(
        gap=results["train_dice"] - results["dice"], drop=results["best_val_dice"] - results["last_val_dice"]
    )
    cols = ["dice", "hd95", "precision", "recall", "empty_pred", "gap", "drop"]
    stats = df.groupby(["level", "loss"])[cols].agg(["mean", "std"])
    stats["n"] = df.groupby(["level", "loss"]).size()
    return stats


def compare(stats: pd.DataFrame, level: float, a: str, b: str, metric: str = "dice", higher: bool = True) -> int:
    """+1 when ``a`` is better than ``b`` on ``metric`` at ``level`` (rule in the module docstring), -1 worse, 0."""
    try:
        ma, sa = stats.loc[(level, a), (metric, "mean")], stats.loc[(level, a), (metric, "std")]
        mb, sb = stats.loc[(level, b), (metric, "mean")], stats.loc[(level, b), (metric, "std")]
    except KeyError:
        return 0
    if math.isnan(sa) or math.isnan(sb):  # a single seed: no spread to judge an effect by
        return 0
    diff = (ma - mb) if higher else (mb - ma)
    return 0 if math.isnan(diff) or abs(diff) <= max(sa, sb, MIN_EFFECT) else int(np.sign(diff))


def ranking(stats: pd.DataFrame, levels: list[float]) -> tuple[pd.Series, list[float]]:
    """Mean over levels of each loss's rank by mean test Dice (1 = best); levels where some loss has no run
    are left out (unless every level lacks some), so partial levels do not skew the ranks."""
    counts = {lv: len(stats.loc[lv]) for lv in levels}
    complete = [lv for lv in levels if counts[lv] == max(counts.values())]
    ranks = []
    for level in complete:
        dice = stats.loc[level][("dice", "mean")]
        ranks.append(dice.rank(ascending=False, method="average"))
    return pd.concat(ranks, axis=1).mean(axis=1).sort_values(), complete


def _level_table(stats: pd.DataFrame, level: float) -> list[str]:
    sub = stats.loc[level].sort_values(("dice", "mean"), ascending=False)
    lines = [
        "| Loss | Dice | HD95 (voxels) | Precision | Recall | Empty predictions | Train − test Dice | "
        "Best − last val Dice | Seeds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for loss, row in sub.iterrows():
        cells = [_fmt(row[(m, "mean")], row[(m, "std")], 1 if m == "hd95" else 3) for m in
                 ("dice", "hd95", "precision", "recall", "empty_pred", "gap", "drop")]  # fmt: skip
        lines.append(f"| {loss} | " + " | ".join(cells) + f" | {int(row['n'].iloc[0])} |")
    return lines


def _claims(stats: pd.DataFrame, levels: list[float], informative: list[float]) -> list[str]:
    out = ["### Claim 1: the Unified Focal loss is robust to imbalance and better than Dice and CE variants", ""]
    for uf in UNIFIED:
        for level in informative:
            others = [n for n in DICE_VARIANTS + CE_VARIANTS if n in stats.loc[level].index]
            if uf not in stats.loc[level].index:
                continue
            verdicts = {n: compare(stats, level, uf, n) for n in others}
            wins = [n for n, v in verdicts.items() if v > 0]
            losses = [n for n, v in verdicts.items() if v < 0]
            out.append(
                f"- {uf}, foreground {level_label(level)}: Dice "
                f"{_fmt(stats.loc[(level, uf), ('dice', 'mean')], stats.loc[(level, uf), ('dice', 'std')])}; "
                f"better than {len(wins)} of {len(others)} Dice/CE variants ({', '.join(wins) or 'none'}), "
                f"worse than {len(losses)} ({', '.join(losses) or 'none'}), no clear difference with the rest."
            )
    if len(informative) >= 2:
        hi, lo = max(informative), min(informative)
        dice_hi = stats.loc[hi][("dice", "mean")]
        dice_lo = stats.loc[lo][("dice", "mean")]
        retained = (dice_lo / dice_hi.where(dice_hi > 0)).sort_values(ascending=False)
        out.append(
            f"- Robustness (Dice at {level_label(lo)} as a fraction of Dice at {level_label(hi)}): "
            + ", ".join(f"{n} {v:.2f}" for n, v in retained.items() if not math.isnan(v))
            + "."
        )
    out += ["", "### Claim 2: Focal Dice reduces over-fitting (compared with Dice)", ""]
    for level in informative:
        if "focal_dice" not in stats.loc[level].index or "dice" not in stats.loc[level].index:
            continue
        row_f, row_d = stats.loc[(level, "focal_dice")], stats.loc[(level, "dice")]
        gap = compare(stats, level, "focal_dice", "dice", "gap", higher=False)
        drop = compare(stats, level, "focal_dice", "dice", "drop", higher=False)
        word = {1: "smaller (reproduces the claim)", -1: "larger (contradicts the claim)", 0: "no clear difference"}
        out.append(
            f"- foreground {level_label(level)}: train − test Dice gap focal_dice "
            f"{_fmt(row_f[('gap', 'mean')], row_f[('gap', 'std')])} vs dice "
            f"{_fmt(row_d[('gap', 'mean')], row_d[('gap', 'std')])}: {word[gap]}; best − last validation Dice "
            f"{_fmt(row_f[('drop', 'mean')], row_f[('drop', 'std')])} vs "
            f"{_fmt(row_d[('drop', 'mean')], row_d[('drop', 'std')])}: {word[drop]}; test Dice "
            f"{_fmt(row_f[('dice', 'mean')], row_f[('dice', 'std')])} vs "
            f"{_fmt(row_d[('dice', 'mean')], row_d[('dice', 'std')])}."
        )
    return out


def _schedule_line(preset: dict) -> list[str]:
    """The design note on ``gdl_boundary``'s alpha schedule over this preset's epochs (none without the loss)."""
    if "gdl_boundary" not in preset["losses"]:
        return []
    from scripts.losses import rebalanced_alpha

    def last_alpha(iterations: int) -> float:
        return rebalanced_alpha(math.ceil(iterations / preset["iterations_per_epoch"]) - 1)

    check = preset.get("budget_check")
    longer = (
        f" ({last_alpha(preset['iterations'] * check['factor']):.2f} in the budget check's last epoch)" if check else ""
    )
    return [
        "- `gdl_boundary` (alpha GDL + (1 − alpha) boundary) follows the paper's rebalancing schedule as the "
        "bundle's handler does: at the start of every epoch alpha = `rebalanced_alpha(epoch)` (0-based epoch), "
        f"1.0 in the first epoch, {last_alpha(preset['iterations']):.2f} in the last{longer}. The paper's schedule "
        "is per epoch of a long training (0.01 less per epoch down to 0.01); the study's budget keeps "
        "`gdl_boundary` close to the generalised Dice loss. The map losses (`gdl_boundary`, `blob`) get the plain "
        "label and compute their maps (signed distance, connected components) themselves.",
    ]


def write_report(results_dir: str, docs_dir: str = "docs") -> str:
    """Write ``<docs_dir>/study.md`` and its three figures from ``results_dir``; returns the Markdown path.

    Raises:
        FileNotFoundError: a results file (``results.csv``, ``curves.csv``, ``overlays.json``, ``preset.json``)
            is missing from ``results_dir``.
    """
    paths = {k: os.path.join(results_dir, k) for k in ("results.csv", "curves.csv", "overlays.json", "preset.json")}
    for path in paths.values():
        if not os.path.isfile(path):
            raise FileNotFoundError(f"study results file {path!r} is missing; run `python -m tools.study run` first.")
    results = pd.read_csv(paths["results.csv"])
    curves = pd.read_csv(paths["curves.csv"])
    with open(paths["overlays.json"], encoding="utf-8") as f:
        overlays = json.load(f)
    with open(paths["preset.json"], encoding="utf-8") as f:
        preset = json.load(f)
    fig_dir = os.path.join(docs_dir, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    losses = [n for n in preset["losses"] if n in set(results["loss"])]
    levels = sorted(results["level"].unique(), reverse=True)
    stats = summary(results)
    informative = [lv for lv in levels if stats.loc[lv][("dice", "mean")].max() >= LEARNABLE_DICE]
    hard = min(informative) if informative else min(levels)

    bar_chart(results, losses, os.path.join(fig_dir, "study_bars.png"))
    curves_figure(curves, losses, os.path.join(fig_dir, "study_curves.png"))
    overlay_figure(overlays, losses, hard, os.path.join(fig_dir, "study_overlay.png"))

    expected = len(preset["losses"]) * len(preset["levels"]) * len(preset["seeds"])
    rank, rank_levels = ranking(stats, informative or levels)
    rel = os.path.relpath(results_dir, docs_dir)
    md = [
        "# Loss comparison study",
        "",
        "Generated by `python -m tools.study run --preset <name>` (or, from saved results without retraining, "
        "`python -m tools.study report --preset <name>`); do not edit by hand.",
        "",
        "## Design",
        "",
        f"- Task: binary segmentation of a rare bright object in synthetic 3D volumes of {tuple(preset['shape'])} "
        "voxels (smooth background field, voxel noise, three larger, less bright distractor blobs labelled "
        "background); the object covers exactly `round(fraction x voxels)` voxels "
        f"({', '.join(level_label(lv) for lv in preset['levels'])}).",
        f"- Data per (level, seed): {preset['n_train']} training, {preset['n_val']} validation, {preset['n_test']} "
        "test volumes, generated in memory.",
        f"- Network: MONAI `UNet`, channels {tuple(preset['channels'])}, {preset['num_res_units']} residual units, "
        "one sigmoid output; the same initial weights for every loss at a given seed.",
        f"- Identical budget: Adam, LR {preset['lr']}, {preset['iterations']} iterations of batch "
        f"{preset['batch_size']} whole volumes in the same order for every loss; validation Dice every "
        f"{preset['iterations_per_epoch']} iterations (one *epoch*); each loss with its paper's defaults "
        "(`build_loss(name, sigmoid=True)`); prediction threshold 0.5.",
        "- Metrics of the rare class per test volume, then mean over volumes: Dice, HD95 in voxels (no overlap: "
        "the volume diagonal), precision (undefined for an empty prediction: left out), recall. Over-fitting "
        "indicators: train − test Dice after training, and best − last validation Dice.",
        *_schedule_line(preset),
        f"- Runs in these results: {len(results)} of {expected} "
        f"({len(losses)} losses x {len(levels)} levels x seeds {sorted(results['seed'].unique().tolist())})"
        + ("." if len(results) == expected else " - **partial grid**: the missing runs did not finish in time."),
        f"- Training time per run: median {results['seconds'].median():.1f} s, total "
        f"{results['seconds'].sum() / 60:.1f} min of training (data generation and evaluation not included).",
        "",
        "## Results",
        "",
        "Mean ± standard deviation over seeds; rows sorted by Dice. Raw per-run values: "
        f"[`{rel}/results.csv`]({rel}/results.csv), curves: [`{rel}/curves.csv`]({rel}/curves.csv).",
        "",
    ]
    for level in levels:
        md += [f"### Foreground {level_label(level)} of the voxels", "", *_level_table(stats, level), ""]
    md += [
        "![metrics](figures/study_bars.png)",
        "",
        "![curves](figures/study_curves.png)",
        "",
        f"Hard case (foreground {level_label(hard)}, the rarest level where some loss learns the object):",
        "",
        "![overlay](figures/study_overlay.png)",
        "",
        "## Reading against the papers' claims",
        "",
        f"Rule: A is *better* than B when mean(A) − mean(B) exceeds the larger of their standard deviations over "
        f"seeds and {MIN_EFFECT} (Dice units), *worse* in the mirror case, else *no clear difference* (few seeds: "
        "only large effects count; a single seed never counts).",
        "",
    ]
    uninformative = [lv for lv in levels if lv not in informative]
    if uninformative:
        md += [
            f"At foreground {', '.join(level_label(lv) for lv in uninformative)} no loss reaches a mean test Dice "
            f"of {LEARNABLE_DICE} within this budget, so that level cannot rank the losses; it is left out of the "
            "comparisons and the ranking below.",
            "",
        ]
    md += _claims(stats, levels, informative)
    budget_path = os.path.join(results_dir, "budget.csv")
    if os.path.isfile(budget_path):
        curves_path = os.path.join(results_dir, "budget_curves.csv")
        budget_curves = pd.read_csv(curves_path) if os.path.isfile(curves_path) else None
        md += ["", *budget_section(pd.read_csv(budget_path), LEARNABLE_DICE, budget_curves)]
    md += [
        "",
        "## Ranking found",
        "",
        "Mean rank by test Dice over the levels "
        + ", ".join(level_label(lv) for lv in rank_levels)
        + " (informative levels with every loss present); 1 is best:",
        "",
        " | ".join(f"{i}. {n} ({r:.1f})" for i, (n, r) in enumerate(rank.items(), 1)),
        "",
    ]
    notes_path = os.path.join(results_dir, "notes.md")
    if os.path.isfile(notes_path):
        with open(notes_path, encoding="utf-8") as f:
            md += ["## Notes", "", f.read().strip(), ""]
    out = os.path.join(docs_dir, "study.md")
    write_text(out, "\n".join(md))
    return out
