"""Run the study grid: one data set per (level, seed), every (sampler, loss) trained on it; resumable per run.

Each finished run is saved as ``<cache_dir>/runs/<level>__<sampler>__s<seed>__<loss>.json``; existing files are
skipped. Groups run seed-major, so a grid stopped early leaves complete seeds. :func:`consolidate` writes
``cases.csv`` (one row per test case), ``lesions.csv`` (one row per test lesion; not for the ``tubes`` task),
``runs.csv`` (time and final training loss per run), ``paired.csv`` (:func:`paired_results`) and ``preset.json``
into ``results_dir``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import pandas as pd

from scripts.files import write_csv, write_json

from .data import make_dataset
from .paired import PAIRED_COLUMNS, paired_table
from .presets import BASELINE, Preset

logger = logging.getLogger(__name__)

CASE_COLUMNS = ["level", "sampler", "seed", "loss", "case", "dice", "hd95", "fp_lesions", "lesion_dice",
                "sensitivity", "n_lesions", "pred_voxels", "ref_voxels"]  # fmt: skip
LESION_COLUMNS = ["level", "sampler", "seed", "loss", "case", "lesion", "lesion_voxels", "detected", "lesion_dice"]
RUN_COLUMNS = ["level", "sampler", "seed", "loss", "seconds", "final_train_loss"]
PAIRED_METRICS = ("dice", "lesion_dice", "sensitivity", "hd95", "fp_lesions")
TUBE_CASE_COLUMNS = ["level", "sampler", "seed", "loss", "case", "dice", "cldice", "betti0_error", "pred_components",
                     "ref_components", "pred_voxels", "ref_voxels"]  # fmt: skip
TUBE_PAIRED_METRICS = ("dice", "cldice", "betti0_error")
LOWER_IS_BETTER = ("hd95", "fp_lesions", "betti0_error")
PAIR_KEYS = ("seed", "case")
GROUP_KEYS = ("level", "sampler")


def run_path(cache_dir: str, level: str, sampler: str, seed: int, loss: str) -> str:
    return os.path.join(cache_dir, "runs", f"{level}__{sampler}__s{seed}__{loss}.json")


def _run_group(preset: Preset, level, seed: int, todo: list[tuple[str, str]], cache_dir: str) -> int:
    """Generate the (level, seed) data once and train every missing (sampler, loss) on it."""
    from .train import train_one  # imported in the worker process

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = make_dataset(seed, level, preset.size_classes, preset.n_train, preset.n_test, preset.task)
    for sampler, loss in todo:
        record = train_one(preset, loss, level.name, sampler, seed, data)
        write_json(run_path(cache_dir, level.name, sampler, seed, loss), record, indent=None)
        mean_dice = sum(c["dice"] for c in record["cases"]) / len(record["cases"])
        logger.info("%s %s seed %d %s: dice %.3f (%.1f s)", level.name, sampler, seed, loss, mean_dice,
                    record["seconds"])  # fmt: skip
    return len(todo)


def grid_groups(preset: Preset, cache_dir: str) -> list[tuple]:
    """The missing runs as (level, seed, [(sampler, loss), ...]) groups, seed-major."""
    groups = []
    for seed in preset.seeds:
        for level in preset.levels:
            todo = [(s, n) for s in preset.samplers for n in preset.losses
                    if not os.path.isfile(run_path(cache_dir, level.name, s, seed, n))]  # fmt: skip
            if todo:
                groups.append((level, seed, todo))
    return groups


def run_grid(preset: Preset, cache_dir: str) -> int:
    """Train every missing run of ``preset``; returns the number of runs trained."""
    os.makedirs(os.path.join(cache_dir, "runs"), exist_ok=True)
    groups = grid_groups(preset, cache_dir)
    total = sum(len(g[2]) for g in groups)
    logger.info("%d runs to train in %d groups, %d worker(s)", total, len(groups), preset.workers)
    start = time.perf_counter()
    if preset.workers <= 1 or len(groups) <= 1:
        for level, seed, todo in groups:
            _run_group(preset, level, seed, todo, cache_dir)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=preset.workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run_group, preset, lv, s, todo, cache_dir) for lv, s, todo in groups]
            for fut in as_completed(futures):
                fut.result()
    logger.info("grid done in %.1f s", time.perf_counter() - start)
    return total


def paired_results(cases: pd.DataFrame, task: str = "lesions", **bootstrap) -> pd.DataFrame:
    """``paired_table`` of the per-case results against ``bce_dice``, per (level, sampler), pairs (seed, case);
    the metrics of ``task`` (``PAIRED_METRICS`` or ``TUBE_PAIRED_METRICS``)."""
    metrics = TUBE_PAIRED_METRICS if task == "tubes" else PAIRED_METRICS
    rows = paired_table(cases, "loss", BASELINE, metrics, PAIR_KEYS, "seed", GROUP_KEYS,
                        lower_is_better=LOWER_IS_BETTER, **bootstrap)  # fmt: skip
    return pd.DataFrame(rows, columns=[*GROUP_KEYS, *PAIRED_COLUMNS])


def complete_seeds(preset: Preset, cache_dir: str) -> list[int]:
    """Seeds with every (level, sampler, loss) run cached."""
    return [
        seed
        for seed in preset.seeds
        if all(
            os.path.isfile(run_path(cache_dir, lv.name, s, seed, n))
            for lv in preset.levels
            for s in preset.samplers
            for n in preset.losses
        )
    ]


def consolidate(preset: Preset, cache_dir: str, results_dir: str) -> pd.DataFrame:
    """Write the results of the complete seeds (every cell run) into ``results_dir``; returns ``cases``.

    Raises:
        FileNotFoundError: no seed of the grid is complete in ``cache_dir``.
    """
    seeds = complete_seeds(preset, cache_dir)
    if not seeds:
        raise FileNotFoundError(f"no seed of this grid has all its runs in {cache_dir!r}.")
    cases, lesions, runs = [], [], []
    for seed in seeds:
        for lv in preset.levels:
            for s in preset.samplers:
                for n in preset.losses:
                    with open(run_path(cache_dir, lv.name, s, seed, n), encoding="utf-8") as f:
                        rec = json.load(f)
                    cases += rec["cases"]
                    lesions += rec["lesions"]
                    runs.append({"level": lv.name, "sampler": s, "seed": seed, "loss": n, "seconds": rec["seconds"],
                                 "final_train_loss": rec["final_train_loss"]})  # fmt: skip
    cases_path = os.path.join(results_dir, "cases.csv")
    columns = TUBE_CASE_COLUMNS if preset.task == "tubes" else CASE_COLUMNS
    write_csv(cases_path, pd.DataFrame(cases, columns=columns), float_format="%.6g")
    cases = pd.read_csv(cases_path)  # the statistics from the committed numbers, so paired.csv is recomputable
    if preset.task != "tubes":
        write_csv(os.path.join(results_dir, "lesions.csv"), pd.DataFrame(lesions, columns=LESION_COLUMNS),
                  float_format="%.6g")  # fmt: skip
    write_csv(os.path.join(results_dir, "runs.csv"), pd.DataFrame(runs, columns=RUN_COLUMNS), float_format="%.6g")
    write_csv(os.path.join(results_dir, "paired.csv"), paired_results(cases, preset.task), float_format="%.6g")
    write_json(os.path.join(results_dir, "preset.json"), preset.as_dict() | {"seeds": seeds}, indent=2)
    return cases
