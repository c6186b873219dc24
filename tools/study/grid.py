"""Run the study grid: one data set per (level, seed), every loss trained on it; resumable per run.

Each finished run is saved as ``<cache_dir>/runs/<loss>__<level>__s<seed>.json`` (the budget check's runs with
``factor`` x the iterations as ``...__s<seed>__x<factor>.json``); existing files are skipped. After the grid,
:func:`consolidate` writes the per-run metrics (``results.csv``), per-epoch curves (``curves.csv``), the
hard-case overlay slices (``overlays.json``) and the budget check (``budget.csv``, ``budget_curves.csv``: its
runs next to the same seeds' runs of the main grid) into ``results_dir``: what ``report`` reads, small enough
to commit.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
import pandas as pd

from scripts.files import write_csv, write_json

from .data import make_dataset
from .presets import Preset, budget_preset

logger = logging.getLogger(__name__)

RESULT_COLUMNS = [
    "loss",
    "level",
    "seed",
    "achieved_fraction",
    "dice",
    "hd95",
    "precision",
    "recall",
    "empty_pred",
    "train_dice",
    "best_val_dice",
    "best_epoch",
    "last_val_dice",
    "seconds",
]
CURVE_COLUMNS = ["loss", "level", "seed", "epoch", "train_loss", "val_dice"]
BUDGET_COLUMNS = ["factor", "iterations", *RESULT_COLUMNS]


def crop_overlay(item: dict, half_window: int = 10) -> dict:
    """The overlay slice cropped to ``half_window`` voxels around the reference object, 2 decimals (keeps the
    committed ``overlays.json`` small)."""
    image, label, prob = (np.asarray(item[k], dtype=float) for k in ("image", "label", "prob"))
    if label.any():
        cx, cy = np.argwhere(label).mean(axis=0).round().astype(int)
        crop = (
            slice(max(cx - half_window, 0), cx + half_window + 1),
            slice(max(cy - half_window, 0), cy + half_window + 1),
        )
        image, label, prob = image[crop], label[crop], prob[crop]
    return {
        "image": np.round(image, 2).tolist(),
        "label": label.astype(int).tolist(),
        "prob": np.round(prob, 2).tolist(),
    }


def run_path(cache_dir: str, loss: str, level: float, seed: int, factor: int = 1) -> str:
    suffix = "" if factor == 1 else f"__x{factor}"
    return os.path.join(cache_dir, "runs", f"{loss}__{level:g}__s{seed}{suffix}.json")


def _run_group(
    preset: Preset, level: float, seed: int, losses: list[str], cache_dir: str, factor: int = 1
) -> list[str]:
    """Generate the (level, seed) data once and train every missing loss on it with ``preset``'s iterations
    (already ``factor`` x for the budget check); returns the files written."""
    from .train import train_one  # imported in the worker process

    if not logging.getLogger().handlers:  # spawned workers do not inherit the parent's logging setup
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = make_dataset(seed, level, preset.shape, preset.blobs, preset.n_train, preset.n_val, preset.n_test)
    written = []
    for loss in losses:
        record = train_one(preset, loss, level, seed, data)
        path = run_path(cache_dir, loss, level, seed, factor)
        write_json(path, record, indent=None)
        written.append(path)
        logger.info("%s level %g seed %d x%d: dice %.3f (%.1f s)", loss, level, seed, factor, record["dice"],
                    record["seconds"])  # fmt: skip
    return written


def grid_groups(preset: Preset, cache_dir: str) -> list[tuple[Preset, float, int, list[str], int]]:
    """The missing runs as (preset, level, seed, losses, factor) groups, longest first (so that the budget
    check's long runs do not start last); the budget check's losses split into groups of about the cost of a
    main-grid group, to keep the workers balanced."""
    groups = []
    for level in preset.levels:
        for seed in preset.seeds:
            missing = [n for n in preset.losses if not os.path.isfile(run_path(cache_dir, n, level, seed))]
            if missing:
                groups.append((preset, level, seed, missing, 1))
    check = preset.budget_check
    if check is not None:
        longer = budget_preset(preset)
        size = max(1, math.ceil(len(preset.losses) / check.factor))
        for seed in check.seeds:
            missing = [
                n for n in preset.losses if not os.path.isfile(run_path(cache_dir, n, check.level, seed, check.factor))
            ]
            groups += [(longer, check.level, seed, missing[i : i + size], check.factor)
                       for i in range(0, len(missing), size)]  # fmt: skip
    return sorted(groups, key=lambda g: (len(g[3]) * g[4], g[4]), reverse=True)  # ties: the long runs first


def run_grid(preset: Preset, cache_dir: str) -> int:
    """Train every missing run of ``preset`` and of its budget check; returns the number of runs trained."""
    os.makedirs(os.path.join(cache_dir, "runs"), exist_ok=True)
    groups = grid_groups(preset, cache_dir)
    total = sum(len(g[3]) for g in groups)
    logger.info("%d runs to train in %d groups, %d worker(s)", total, len(groups), preset.workers)
    start = time.perf_counter()
    if preset.workers <= 1 or len(groups) <= 1:
        for p, level, seed, missing, factor in groups:
            _run_group(p, level, seed, missing, cache_dir, factor)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=preset.workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run_group, p, lv, s, m, cache_dir, f) for p, lv, s, m, f in groups]
            for fut in as_completed(futures):
                fut.result()
    logger.info("grid done in %.1f s", time.perf_counter() - start)
    return total


def consolidate(preset: Preset, cache_dir: str, results_dir: str) -> pd.DataFrame:
    """Write ``results.csv``, ``curves.csv``, ``overlays.json``, ``preset.json`` and, with a budget check,
    ``budget.csv`` and ``budget_curves.csv`` (:func:`budget_tables`) from the cached runs.

    Only the runs of ``preset``'s grid (and budget check) are included; missing ones are left out (a partial grid
    is reported as such by ``report``).

    Raises:
        FileNotFoundError: no run of the grid is in ``cache_dir``.
    """
    rows, curves, overlays = [], [], {}
    for level in preset.levels:
        for seed in preset.seeds:
            for loss in preset.losses:
                path = run_path(cache_dir, loss, level, seed)
                if not os.path.isfile(path):
                    continue
                with open(path, encoding="utf-8") as f:
                    rec = json.load(f)
                rows.append({k: rec[k] for k in RESULT_COLUMNS})
                for epoch, (tl, vd) in enumerate(zip(rec["train_loss_per_epoch"], rec["val_dice_per_epoch"]), 1):
                    curves.append({"loss": loss, "level": level, "seed": seed, "epoch": epoch, "train_loss": tl,
                                   "val_dice": vd})  # fmt: skip
                if seed == min(preset.seeds):
                    overlays[f"{loss}__{level:g}"] = crop_overlay(rec["overlay"])
    if not rows:
        found = glob.glob(os.path.join(cache_dir, "runs", "*.json"))
        raise FileNotFoundError(f"no run of this grid in {cache_dir!r} ({len(found)} other run files there).")
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    write_csv(os.path.join(results_dir, "results.csv"), results, float_format="%.6g")
    budget_paths = [os.path.join(results_dir, name) for name in ("budget.csv", "budget_curves.csv")]
    if preset.budget_check is not None:
        for path, table in zip(budget_paths, budget_tables(preset, cache_dir)):
            write_csv(path, table, float_format="%.6g")
    else:  # a budget check of an earlier preset would be reported as this one's
        for path in budget_paths:
            if os.path.isfile(path):
                os.remove(path)
    write_csv(os.path.join(results_dir, "curves.csv"), pd.DataFrame(curves, columns=CURVE_COLUMNS), float_format="%.6g")
    write_json(os.path.join(results_dir, "overlays.json"), overlays, indent=None, separators=(",", ":"))
    write_json(os.path.join(results_dir, "preset.json"), preset.as_dict(), indent=2)
    return results


def budget_tables(preset: Preset, cache_dir: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The budget check's runs (``factor`` = the check's factor) and the main grid's runs of the same level and
    seeds (``factor`` 1): one row per cached run with the iterations it trained, and their per-epoch curves."""
    check = preset.budget_check
    rows, curves = [], []
    for seed in check.seeds:
        for loss in preset.losses:
            for factor in (1, check.factor):
                path = run_path(cache_dir, loss, check.level, seed, factor)
                if not os.path.isfile(path):
                    continue
                with open(path, encoding="utf-8") as f:
                    rec = json.load(f)
                iterations = len(rec["train_loss_per_iteration"])  # what the run trained, not what was asked
                rows.append({"factor": factor, "iterations": iterations, **{k: rec[k] for k in RESULT_COLUMNS}})
                for epoch, (tl, vd) in enumerate(zip(rec["train_loss_per_epoch"], rec["val_dice_per_epoch"]), 1):
                    curves.append({"factor": factor, "loss": loss, "level": check.level, "seed": seed,
                                   "epoch": epoch, "train_loss": tl, "val_dice": vd})  # fmt: skip
    return pd.DataFrame(rows, columns=BUDGET_COLUMNS), pd.DataFrame(curves, columns=["factor", *CURVE_COLUMNS])
