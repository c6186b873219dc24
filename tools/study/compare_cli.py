"""``python -m tools.study compare``: argument handling, then run, collect and report."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from scripts.files import write_csv

from .compare import PRESETS, TRAIN_CONFIG, execute_all, plan
from .compare_collect import collect_per_case, collect_runs, paired_against_first, paired_last_epoch


def compare(
    config_file=None,
    losses=None,
    variants=None,
    seeds=(0, 1, 2),
    output_dir: str = os.path.join("runs", "compare"),
    results_dir: str | None = None,
    preset: str | None = None,
    bundle_dir: str = ".",
    train: bool = True,
    **ids,
) -> str:
    """Train and evaluate every setting x seed with the bundle's workflows, then write ``per_case.csv``,
    ``runs.csv``, ``paired.csv`` and ``report.md`` to ``results_dir`` (default ``output_dir``).

    Args:
        config_file: the training configs and overlays (default ``configs/train.json``, or the preset's);
            evaluate runs them with ``configs/evaluate.json`` merged after ``configs/train.json``.
        losses: catalogue losses to compare (``loss_name`` per run); the first is the baseline.
        variants: instead of losses, ``{name: {id: value, ..., "config_file": [overlays]}}``; the first is the
            baseline and the ``loss`` column of the tables holds the variant name.
        seeds: one run per setting and seed (``--seed``: initial weights, data order and the train/validation
            split), paired across settings.
        output_dir: run folders (``runs/<setting>/seed_<k>/``) and the shared built-in data (``data/``).
        results_dir: where the tables and report go (default ``output_dir``).
        preset: ``smoke``, ``smoke_kits19`` (tiny CPU settings for the tests), ``brats_gpu``, ``kits19_gpu``
            (real data on a GPU, with ``--dataset_dir``); explicit ids override the preset's.
        bundle_dir: the bundle root the workflows run in.
        train: False only collects and reports the runs already finished.
        ids: every further ``--id value``, passed to every train and evaluate run.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}.")
        ids = PRESETS[preset]["ids"] | ids
        config_file = config_file if config_file is not None else PRESETS[preset].get("config_file")
    config_file = config_file if config_file is not None else [TRAIN_CONFIG]
    runs = plan(config_file, seeds, output_dir, losses=losses, variants=variants, bundle_dir=bundle_dir, ids=ids)
    if train:
        ran = execute_all(runs, bundle_dir)
        logging.info("%d of %d runs trained and evaluated now", ran, len(runs))
    return write_results(runs, results_dir or output_dir)


def write_results(runs, results_dir: str | os.PathLike) -> str:
    from .compare_report import write_report

    names = list(dict.fromkeys(r.name for r in runs))
    per_case = collect_per_case(runs)
    out = Path(results_dir)
    write_csv(out / "per_case.csv", per_case, index=False)
    runs_table = collect_runs(runs)
    write_csv(out / "runs.csv", runs_table, index=False)
    write_csv(out / "paired_last_epoch.csv", paired_last_epoch(runs_table, names), index=False)
    paired = paired_against_first(per_case, names)
    write_csv(out / "paired.csv", paired, index=False)
    write_report(out, runs, names)
    return str(out)
