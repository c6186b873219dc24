"""``docs/study.md`` and ``docs/figures/study_*.png`` from the consolidated results (no training).

Every comparison is a paired one (``tools.study.paired``): per test case (pairs: seed, case) the loss minus the
baseline, a two-stage (seed, case) bootstrap 95 % interval, a Wilcoxon signed-rank p-value Holm-corrected over the
losses compared in that cell, and the verdict ``better`` / ``worse`` only when the interval excludes 0 and
``p_holm < 0.05``, else ``no detectable difference``. Nothing is ranked: losses are listed in catalogue order.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd

from scripts.files import write_text

from .figures import detection_by_size, detection_figure, paired_figure
from .paired import format_row, holm, paired_difference, verdict
from .presets import BASELINE

CLAIMS = (
    ("asymmetric_unified_focal", "bce_dice", "dice", "Unified Focal (asymmetric) vs Dice + CE, voxel Dice",
     "Yeung et al. 2022: the Unified Focal loss consistently outperforms the other losses, Dice + CE included"),
    ("symmetric_unified_focal", "bce_dice", "dice", "Unified Focal (symmetric) vs Dice + CE, voxel Dice",
     "Yeung et al. 2022 (same claim, symmetric variant)"),
    ("focal_dice", "dice", "dice", "Focal Dice vs Dice, voxel Dice", "Wang & Chung 2018 / Yeung et al.: Focal Dice "
     "improves on Dice"),
    ("blob", "bce_dice", "sensitivity", "blob vs Dice + CE, lesion detection sensitivity",
     "Kofler et al. 2023: blob loss improves instance (lesion) detection"),
    ("blob", "bce_dice", "fp_lesions", "blob vs Dice + CE, false-positive lesions",
     "Kofler et al. 2023: fewer false-positive instances"),
    ("gdl_boundary", "generalized_dice", "hd95", "GDL + boundary vs GDL, HD95",
     "Kervadec et al. 2019: the boundary term lowers the Hausdorff distance of GDL alone"),
)  # fmt: skip
LOWER_IS_BETTER = ("hd95", "fp_lesions")


def _cells(cases: pd.DataFrame) -> list[tuple[str, str]]:
    return list(cases[["level", "sampler"]].drop_duplicates().itertuples(index=False, name=None))


def claim_rows(cases: pd.DataFrame, **bootstrap) -> pd.DataFrame:
    """Each claim's paired difference (A minus B) in every (level, sampler) cell, Holm-corrected over the cells
    of that claim."""
    rows = []
    for a, b, metric, title, _ in CLAIMS:
        block = []
        for level, sampler in _cells(cases):
            sub = cases[(cases["level"] == level) & (cases["sampler"] == sampler)]
            wide = sub.pivot_table(index=["seed", "case"], columns="loss", values=metric, aggfunc="first")
            if a not in wide or b not in wide:
                continue
            res = paired_difference(wide[a], wide[b], wide.index.get_level_values("seed"), **bootstrap)
            block.append({"claim": title, "level": level, "sampler": sampler, "loss": a, "baseline": b,
                          "metric": metric} | res)  # fmt: skip
        for row, p in zip(block, holm([r.get("p_value", math.nan) for r in block])):
            row["p_holm"] = p
            row["verdict"] = verdict(row, metric not in LOWER_IS_BETTER)
        rows += block
    columns = ["claim", "level", "sampler", "loss", "baseline", "metric", "n_pairs", "n_seeds", "mean_diff", "ci_low",
               "ci_high", "p_value", "detectable_diff", "p_holm", "verdict"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _mean_sd(values: pd.Series, digits: int) -> str:
    per_seed = values.groupby(level="seed").mean()
    sd = per_seed.std(ddof=1) if len(per_seed) > 1 else math.nan
    return f"{values.mean():.{digits}f}" + ("" if math.isnan(sd) else f" ± {sd:.{digits}f}")


def summary_table(cases: pd.DataFrame, losses: list[str], level: str, sampler: str) -> list[str]:
    sub = cases[(cases["level"] == level) & (cases["sampler"] == sampler)].set_index("seed")
    lines = ["| Loss | Dice | Lesion-wise Dice | Detected | FP lesions | HD95 (voxels) |", "|---|---|---|---|---|---|"]
    for n in losses:
        s = sub[sub["loss"] == n]
        if s.empty:
            continue
        cells = [_mean_sd(s["dice"], 3), _mean_sd(s["lesion_dice"], 3), _mean_sd(s["sensitivity"], 2),
                 _mean_sd(s["fp_lesions"], 0), _mean_sd(s["hd95"], 1)]  # fmt: skip
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def paired_section(paired: pd.DataFrame, losses: list[str], level: str, sampler: str) -> list[str]:
    sub = paired[(paired["level"] == level) & (paired["sampler"] == sampler)]
    metrics = list(dict.fromkeys(sub["metric"]))
    lines = ["| Loss | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for n in losses:
        cells = []
        for m in metrics:
            r = sub[(sub["loss"] == n) & (sub["metric"] == m)]
            cells.append(format_row(r.iloc[0].to_dict()) if len(r) else "")
        if any(cells):
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    det = sub.groupby("metric")["detectable_diff"].median()
    lines += ["", "Smallest difference this design could detect (80 % power, median over the losses): "
              + ", ".join(f"{m} {det[m]:.3g}" for m in metrics) + "."]  # fmt: skip
    return lines


def design_rows(lesions: pd.DataFrame, cases: pd.DataFrame, preset: dict) -> list[str]:
    """Achieved rare-class fraction and lesion sizes per level (test volumes of the reported seeds)."""
    shapes = {lv["name"]: lv for lv in preset["levels"]}
    one = lesions[(lesions["loss"] == lesions["loss"].iloc[0]) & (lesions["sampler"] == lesions["sampler"].iloc[0])]
    vox = cases[(cases["loss"] == cases["loss"].iloc[0]) & (cases["sampler"] == cases["sampler"].iloc[0])]
    lines = ["| Level | Volume | Lesions per volume | Foreground fraction (test) | Median lesion size | Lesion sizes |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for level, sub in one.groupby("level", sort=False):
        lv = shapes[level]
        voxels = int(np.prod(lv["shape"]))
        fraction = vox[vox["level"] == level]["ref_voxels"].mean() / voxels
        per_volume = lv["per_class"] * len(preset["size_classes"])
        lines.append(f"| {level} | {' x '.join(map(str, lv['shape']))} | {lv['per_class']} per size class "
                     f"({per_volume}) + as many distractors | {100 * fraction:.2f} % | "
                     f"{sub['lesion_voxels'].median():.0f} voxels | {sub['lesion_voxels'].min()}-"
                     f"{sub['lesion_voxels'].max()} |")  # fmt: skip
    return lines


def read_results(results_dir: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict, dict]:
    """``(cases, paired, runs, preset, timing)`` of a results directory (``cases.csv``, ``paired.csv``,
    ``runs.csv``, ``preset.json``; ``timing.json`` optional: ``{}`` without it)."""
    cases, paired, runs = (pd.read_csv(os.path.join(results_dir, f"{n}.csv")) for n in ("cases", "paired", "runs"))
    with open(os.path.join(results_dir, "preset.json"), encoding="utf-8") as f:
        preset = json.load(f)
    timing_path = os.path.join(results_dir, "timing.json")
    timing = {}
    if os.path.isfile(timing_path):
        with open(timing_path, encoding="utf-8") as f:
            timing = json.load(f)
    return cases, paired, runs, preset, timing


def write_report(results_dir: str, docs_dir: str = "docs") -> str:
    """Write ``docs_dir/study.md`` and its figures from ``results_dir``; returns the document's path."""
    cases, paired, runs, preset, timing = read_results(results_dir)
    lesions = pd.read_csv(os.path.join(results_dir, "lesions.csv"))
    losses = [n for n in preset["losses"] if n in set(cases["loss"])]
    seeds = sorted(cases["seed"].unique())
    figures = os.path.join(docs_dir, "figures")
    size_classes = [tuple(c) for c in preset["size_classes"]]
    detection = detection_by_size(lesions, size_classes)
    detection_figure(detection, losses, size_classes, os.path.join(figures, "study_detection.png"))
    shown = ["dice", "lesion_dice", "sensitivity", "hd95"]
    paired_figure(paired, losses, shown, os.path.join(figures, "study_paired.png"))
    claims = claim_rows(cases)
    rel = os.path.relpath(results_dir, docs_dir)
    n_runs = len(runs)
    wall = timing.get("wall_seconds")
    lines = [
        "# Loss study: lesion size, imbalance and sampler separated, paired statistics",
        "",
        "Generated by `python -m tools.study report` from the committed results in "
        f"[`{rel}`]({rel}) (`cases.csv`: one row per test volume; `lesions.csv`: one row per test lesion; "
        "`paired.csv`: every loss against the baseline; `runs.csv`; `preset.json`). Do not edit by hand.",
        "",
        "Thin structures (tubular trees, clDice and the Betti-0 error; preset `thin`): [study_thin.md](study_thin.md).",
        "",
        "## Design",
        "",
        "Synthetic 3D volumes: a smooth random background with voxel noise, lesions (label 1) of three size classes "
        f"({', '.join(f'{lo}-{hi}' for lo, hi in size_classes)} voxels, log-uniform within the class) and as many "
        "distractors of the same sizes at half the lesion contrast (label 0). The imbalance level changes the volume "
        "and the number of lesions per volume, **not the lesion sizes**: the median lesion size is the same class at "
        "every level (a test asserts within 2x).",
        "",
        *design_rows(lesions, cases, preset),
        "",
        f"Training as the bundle trains: random {'x'.join(map(str, preset['patch']))} patches, "
        f"{preset['num_samples']} per iteration from one training volume ({preset['n_train']} per level and seed); "
        "the **sampler is a factor**: `uniform` (`RandSpatialCropd`) or `foreground` (`RandCropByPosNegLabeld` with "
        "the bundle's `pos=1, neg=1`). MONAI U-Net "
        f"channels {tuple(preset['channels'])}, Adam lr {preset['lr']}, {preset['iterations']} iterations for every "
        f"loss, sigmoid threshold {preset['threshold']}; evaluation on {preset['n_test']} whole test volumes per level "
        "and seed by `sliding_window_inference` (overlap 0.25). Paired by design: at a seed every loss starts from "
        "the same weights, and the volume and crops of iteration *i* come from a generator seeded by (seed, *i*), so "
        "every loss sees the same patches in the same order (a test checks it).",
        "",
        "Outcomes per test lesion with the official BraTS matching (`scripts.metrics.reference_lesion_outcomes`, "
        "the matching of `brats_lesion_scores`): detected or not, its Dice (0 when missed). Per test volume: voxel "
        "Dice, HD95 (voxels; the volume diagonal when the prediction is empty), false-positive lesions, "
        "lesion-wise Dice (mean over the reference lesions, missed ones 0) and detection sensitivity.",
        "",
        f"Losses ({len(losses)}): the twelve of the Unified Focal paper's comparison (Yeung et al., CMIG 2022: "
        "Dice, GDL, Tversky, Focal Tversky, Focal Dice, BCE, WCE, Focal, BCE + Dice, Combo, both Unified Focal "
        "losses), because its claims are the ones confronted; the map loss `gdl_boundary` (GDL + boundary, "
        "Kervadec et al., with the bundle's alpha rebalance per epoch) for the HD95 claim; the instance loss `blob` "
        "(Kofler et al.) for the detection claim. Lovász and TopK CE are left out: no claim of those papers is "
        "tested here, and each would add 20 runs.",
        "",
        f"Grid: {len(losses)} losses x {cases['level'].nunique()} levels x {cases['sampler'].nunique()} samplers x "
        f"{len(seeds)} seeds (seeds {', '.join(map(str, seeds))}) = {n_runs} runs, "
        f"{preset['n_test']} test volumes each: {len(seeds) * preset['n_test']} pairs (seed, case) per comparison.",
    ]
    if wall:
        lines += ["", f"Time: {wall / 60:.0f} min wall on {timing.get('machine', 'the CPU machine')} "
                  f"({preset['workers']} worker processes, 1 thread each); the runs' own time summed: "
                  f"{runs['seconds'].sum() / 60:.0f} min. {timing.get('note', '')}".rstrip()]  # fmt: skip
    lines += [
        "",
        "## Results per cell (mean ± standard deviation over the seeds' means; catalogue order, not a ranking)",
    ]
    for level, sampler in _cells(cases):
        lines += ["", f"### Level {level}, {sampler} sampler", "", *summary_table(cases, losses, level, sampler)]
    lines += [
        "",
        f"## Paired against `{BASELINE}` (Dice + cross-entropy, nnU-Net's default)",
        "",
        "Each cell: mean difference (loss minus baseline) [95 % two-stage bootstrap interval over seeds and cases], "
        f"Holm-corrected Wilcoxon p over the {len(losses) - 1} losses: verdict. HD95 and FP lesions: lower is "
        "better, so a negative difference is an improvement there. *No detectable difference* means the interval "
        "holds 0 or the corrected p is not below 0.05; it is not evidence of equality.",
    ]
    for level, sampler in _cells(cases):
        lines += ["", f"### Level {level}, {sampler} sampler", "", *paired_section(paired, losses, level, sampler)]
    counts = paired["verdict"].value_counts()
    lines += [
        "",
        f"Over all {len(paired)} comparisons: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".",
        "",
        "![paired differences](figures/study_paired.png)",
        "",
        "## Detection by lesion size",
        "",
        "Fraction of the test lesions detected (official matching) per size class, with a 95 % bootstrap interval "
        "over seeds:",
        "",
        "![detection by lesion size](figures/study_detection.png)",
        "",
        "## The papers' claims at this budget",
        "",
        "Each claim as a paired comparison in every cell (Holm over the cells of the claim):",
        "",
        "| Claim | Level | Sampler | Difference [95 % CI], p_holm: verdict |",
        "|---|---|---|---|",
    ]
    for _, r in claims.iterrows():
        lines.append(f"| {r['claim']} | {r['level']} | {r['sampler']} | {format_row(r.to_dict())} |")
    lines += ["", *claim_readings(claims), "", *budget_caveat(preset, cases)]
    path = os.path.join(docs_dir, "study.md")
    write_text(path, "\n".join(lines) + "\n")
    return path


def claim_readings(claims: pd.DataFrame) -> list[str]:
    """One sentence per claim: holds where the verdict favours it, contradicted where it goes against it,
    undecided otherwise."""
    out = []
    for a, b, _, title, source in CLAIMS:
        sub = claims[claims["claim"] == title]
        if sub.empty:
            continue
        good = sub[sub["verdict"] == "better"]
        bad = sub[sub["verdict"] == "worse"]
        where = lambda d: ", ".join(f"{r.level}/{r.sampler}" for r in d.itertuples())  # noqa: E731
        if len(good) and not len(bad):
            text = f"supported in {where(good)}; no detectable difference elsewhere."
        elif len(bad) and not len(good):
            text = f"**contradicted** in {where(bad)} ({a} worse than {b}); no detectable difference elsewhere."
        elif len(good) and len(bad):
            text = f"mixed: better in {where(good)}, worse in {where(bad)}."
        else:
            text = "the study cannot decide: no detectable difference in any cell."
        out.append(f"- *{source}* — {title}: {text}")
    return out


def over_segmenting(cases: pd.DataFrame, factor: float = 3.0) -> dict[tuple[str, str], list[str]]:
    """Per (level, sampler) the losses whose mean predicted volume exceeds ``factor`` x the reference volume."""
    ratio = cases.groupby(["level", "sampler", "loss"], sort=False)[["pred_voxels", "ref_voxels"]].mean()
    ratio = ratio["pred_voxels"] / ratio["ref_voxels"]
    out = {}
    for (level, sampler, loss), r in ratio.items():
        if r > factor:
            out.setdefault((level, sampler), []).append(loss)
    return out


def budget_caveat(preset: dict, cases: pd.DataFrame) -> list[str]:
    over = over_segmenting(cases)
    listed = "; ".join(f"{lv}/{s}: {', '.join(n)}" for (lv, s), n in over.items()) or "none"
    return [
        "## What this study cannot say",
        "",
        f"Every run trains {preset['iterations']} iterations of a small U-Net on CPU, and nothing here shows that "
        "the networks have converged (no run's curve is checked for a plateau), so these verdicts hold *at this "
        "budget* only. A loss that is worse here may only converge more slowly; the `full` preset (GPU, see below) "
        "is the setting for longer training. Synthetic lesions are compact balls; real lesions are not. 15 pairs per "
        "comparison detect only differences of the sizes given under each table: a verdict of no detectable "
        "difference is not evidence of equality.",
        "",
        "Losses that over-segment at this budget (mean predicted volume above 3x the reference volume; their "
        "predictions merge lesions and distractors into large components, so one-to-one matching credits one "
        f"lesion of several and their detection and lesion-wise numbers mostly measure that failure): {listed}. "
        "Differences among such losses, however significant, say little about the losses themselves.",
        "",
        "## Presets",
        "",
        "- `cpu`: the grid above (2 worker processes, 1 thread each).",
        "- `full` (GPU, **estimated, not run**): 96^3 and 160x160x128 volumes, 64^3 patches, a U-Net with "
        "channels (16, 32, 64, 128) and 2 residual units, 3,000 iterations, 32 training and 8 test volumes: "
        "about 4 min per run on one recent GPU (training ~3 min at ~15 it/s, sliding-window evaluation ~1 min), "
        "so about 19 h for the 280 runs on one GPU; cut losses or seeds to fit.",
        "- `micro`: 2 losses, 1 level, 2 samplers, 1 seed, 4 iterations: the end-to-end test (seconds).",
        "",
        "Run: `python -m tools.study run --preset cpu` (resumable; `collect` consolidates the complete seeds of a "
        "grid still running; `report` regenerates this page).",
    ]
