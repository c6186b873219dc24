"""The finished runs of ``tools.study compare`` as tables: ``per_case.csv`` (one row per setting, seed, validation case
and region), ``runs.csv`` (one row per run: wall times, the run's overall validation metrics) and ``paired.csv``
(each setting against the first, paired by seed, case and region; :func:`tools.study.paired.paired_table`).

``metrics_per_case.csv`` of evaluate has one column per metric and region (``dice_tc``, ``lesion_dice_et``,
``hd95_kidney_and_tumour``, ...); the region is what follows the longest known metric prefix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .compare import DONE, Run
from .paired import PAIRED_COLUMNS, compare_to_baseline, paired_table

# longest first: "lesion_dice_tc" is lesion_dice of tc, not dice of "lesion..."
METRIC_PREFIXES = sorted(
    [
        "dice",
        "hd95",
        "lesion_dice",
        "lesion_hd95",
        "lesion_nsd",
        "lesion_tp",
        "lesion_fn",
        "lesion_fp",
        "lesion_sensitivity",
        "lesion_precision",
        "kits23_dice",
        "kits23_surface_dice",
    ],
    key=len,
    reverse=True,
)
PAIRED_METRICS = ("dice", "lesion_dice", "hd95")
MEAN_REGION = "mean"  # the per-case mean over the regions: the bundle's "mean Dice"
PER_CASE_KEYS = ["loss", "seed", "case", "region"]


def split_column(column: str) -> tuple[str, str] | None:
    """``"lesion_dice_tc"`` -> ``("lesion_dice", "tc")``; None for a column that is not metric_region."""
    for prefix in METRIC_PREFIXES:
        if column.startswith(prefix + "_") and len(column) > len(prefix) + 1:
            return prefix, column[len(prefix) + 1 :]
    return None


def long_format(per_case: pd.DataFrame) -> pd.DataFrame:
    """evaluate's wide ``metrics_per_case.csv`` -> rows ``case, region`` with one column per metric."""
    if "case" not in per_case.columns:
        raise ValueError(f"metrics_per_case.csv has no 'case' column (columns: {list(per_case.columns)}).")
    parts = {}
    for column in per_case.columns:
        split = split_column(column)
        if split is not None:
            parts.setdefault(split[1], {})[split[0]] = per_case[column].to_numpy(float)
    if not parts:
        raise ValueError(f"metrics_per_case.csv has no metric_region columns (columns: {list(per_case.columns)}).")
    frames = [
        pd.DataFrame({"case": per_case["case"].astype(str).to_numpy(), "region": region, **metrics})
        for region, metrics in parts.items()
    ]
    return pd.concat(frames, ignore_index=True)


def finished(runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if (r.folder / DONE).exists()]


def collect_per_case(runs: Sequence[Run]) -> pd.DataFrame:
    """``per_case.csv`` of the finished runs: ``loss`` (the loss or variant name), ``seed``, ``case``, ``region`` and
    every metric evaluate wrote."""
    frames = []
    for run in finished(runs):
        path = run.eval_dir / "metrics_per_case.csv"
        if not path.exists():
            raise FileNotFoundError(f"{run.folder} is marked finished but has no {path.name} ({path}).")
        rows = long_format(pd.read_csv(path))
        rows.insert(0, "seed", run.seed)
        rows.insert(0, "loss", run.name)
        frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=PER_CASE_KEYS)
    frame = pd.concat(frames, ignore_index=True)
    metrics = [c for c in frame.columns if c not in PER_CASE_KEYS]
    return frame[PER_CASE_KEYS + metrics]


def validation_curves(eval_dir: Path) -> pd.DataFrame:
    """The per-epoch validation scalars (``val_*``) that training logged to TensorBoard in ``eval_dir``: columns
    ``epoch``, ``tag``, ``value``; a resumed training's repeated epoch keeps its last value."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = []
    for path in sorted(eval_dir.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime):
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            if tag.startswith("val_"):
                rows += [{"epoch": e.step, "tag": tag, "value": e.value} for e in events.Scalars(tag)]
    frame = pd.DataFrame(rows, columns=["epoch", "tag", "value"])
    return frame.drop_duplicates(["epoch", "tag"], keep="last").sort_values(["tag", "epoch"], ignore_index=True)


def last_epoch(curves: pd.DataFrame, key: str = "val_mean_dice") -> dict:
    """``best_epoch`` (of ``key``), ``last_epoch`` and every ``val_*`` of the last validated epoch as
    ``<tag>_last``: what the training reached, next to the best checkpoint that evaluate scores."""
    if curves.empty:
        return {}
    last = int(curves["epoch"].max())
    out = {"last_epoch": last}
    key_curve = curves[curves["tag"] == key]
    if len(key_curve):
        out["best_epoch"] = int(key_curve.loc[key_curve["value"].idxmax(), "epoch"])
    for row in curves[curves["epoch"] == last].itertuples():
        out[f"{row.tag}_last"] = float(row.value)
    return out


def collect_runs(runs: Sequence[Run]) -> pd.DataFrame:
    """``runs.csv``: one row per finished run, its wall times, the overall metrics of evaluate's summary (the best
    checkpoint) and the validation metrics of the last epoch (:func:`last_epoch`)."""
    rows = []
    for run in finished(runs):
        done = json.loads((run.folder / DONE).read_text())
        row = {"loss": run.name, "seed": run.seed, "train_s": done["train_s"], "evaluate_s": done["evaluate_s"]}
        summary = run.eval_dir / "metrics_summary.json"
        if summary.exists():
            overall = json.loads(summary.read_text()).get("overall", {})
            row |= {k: (math.nan if v is None else float(v)) for k, v in overall.items()}
        row |= last_epoch(validation_curves(run.eval_dir))
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["loss", "seed", "train_s", "evaluate_s"])


def with_mean_region(per_case: pd.DataFrame, metrics: Sequence[str] = PAIRED_METRICS) -> pd.DataFrame:
    """``per_case`` plus, per setting, seed and case, a region ``mean``: the mean over the regions of each metric
    (regions without a value left out, as the bundle's mean Dice does)."""
    present = [m for m in metrics if m in per_case.columns]
    if per_case.empty or not present:
        return per_case
    mean = per_case.groupby(["loss", "seed", "case"], sort=False)[present].mean().reset_index()
    mean.insert(3, "region", MEAN_REGION)
    return pd.concat([per_case, mean], ignore_index=True)


def paired_against_first(per_case: pd.DataFrame, names: Sequence[str], **bootstrap) -> pd.DataFrame:
    """``paired.csv``: every setting against ``names[0]``, paired by seed, case and region, per region (and the
    ``mean`` region), for the metrics of ``PAIRED_METRICS`` that have values; Holm over the settings compared.
    Regions where a metric has no pairs are left out."""
    columns = ["region", *PAIRED_COLUMNS]
    if per_case.empty or len(names) < 2 or names[0] not in set(per_case["loss"]):
        return pd.DataFrame(columns=columns)
    frame = with_mean_region(per_case)
    metrics = [m for m in PAIRED_METRICS if m in frame.columns and frame[m].notna().any()]
    rows = paired_table(
        frame, "loss", names[0], metrics, pair_keys=("seed", "case", "region"), group_keys=("region",), **bootstrap
    )
    order = {n: i for i, n in enumerate(names)}
    table = pd.DataFrame(rows, columns=columns)
    table = table[table["n_pairs"] > 0]  # a region without that metric (KiTS23 classes on KiTS19 data)
    table["_order"] = table["loss"].map(order)
    return table.sort_values(["metric", "region", "_order"], kind="stable").drop(columns="_order")


def paired_last_epoch(runs_table: pd.DataFrame, names: Sequence[str], **bootstrap) -> pd.DataFrame:
    """The last epoch's validation Dice (``val_*dice*_last`` of ``runs.csv``, one value per run) of every setting
    against ``names[0]``, paired by seed (each seed one pair: the interval is the ordinary bootstrap over seeds)."""
    columns = PAIRED_COLUMNS
    tags = [c for c in runs_table.columns if c.startswith("val_") and c.endswith("_last") and "dice" in c]
    if runs_table.empty or len(names) < 2 or not tags:
        return pd.DataFrame(columns=columns)
    rows = []
    for tag in tags:
        wide = runs_table.pivot_table(index="seed", columns="loss", values=tag, aggfunc="first", dropna=False)
        if names[0] not in wide.columns:
            continue
        base = wide[names[0]].to_numpy(float)
        per_setting = {n: (wide[n].to_numpy(float), base, None) for n in names if n in wide.columns}
        rows += compare_to_baseline(per_setting, names[0], tag, **bootstrap)
    return pd.DataFrame(rows, columns=columns)


def seed_means(per_case: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per setting, seed and region (the ``mean`` region included): the metric's mean over the validation cases."""
    frame = with_mean_region(per_case)
    return frame.groupby(["loss", "region", "seed"], sort=False)[metric].mean().reset_index()


def spread(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if not v.size:
        return {"mean": math.nan, "sd": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan,
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }
