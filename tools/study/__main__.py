"""Command line of the loss study (fire).

python -m tools.study run --preset cpu          # train the grid (resumable), then write the report
python -m tools.study report --preset cpu       # regenerate docs/study.md and figures from the results
python -m tools.study run --preset cpu --losses '["bce_dice","dice"]' --seeds '[0]'   # any preset field
python -m tools.study run --preset thin         # the thin-structure study (tubular trees), docs/study_thin.md
python -m tools.study collect --preset cpu      # consolidate the runs cached so far (e.g. of a grid still running)
python -m tools.study compare --losses '["bce_dice","dice"]' --seeds '[0,1,2]'  # the bundle's workflows, paired
"""

from __future__ import annotations

import logging
import os

import fire

from .compare_cli import compare
from .grid import consolidate, run_grid
from .presets import get_preset


def _dirs(preset: str, cache_dir: str | None, results_dir: str | None) -> tuple[str, str]:
    return cache_dir or os.path.join("runs", "study", preset), results_dir or os.path.join(
        "docs", "study_results", preset
    )


def run(
    preset: str = "cpu",
    cache_dir: str | None = None,
    results_dir: str | None = None,
    docs_dir: str = "docs",
    report: bool = True,
    **overrides,
) -> str:
    """Train every missing run of ``preset`` (cached per run under ``cache_dir``, default ``runs/study/<preset>``),
    consolidate the results into ``results_dir`` (default ``docs/study_results/<preset>``) and, unless
    ``report=False``, write ``docs_dir/study.md`` and its figures. Returns ``results_dir``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = get_preset(preset, **overrides)
    cache_dir, results_dir = _dirs(preset, cache_dir, results_dir)
    run_grid(p, cache_dir)
    consolidate(p, cache_dir, results_dir)
    if report:
        _write_report(p.task, results_dir, docs_dir)
    return results_dir


def collect(
    preset: str = "cpu",
    cache_dir: str | None = None,
    results_dir: str | None = None,
    wall_seconds: float | None = None,
    machine: str | None = None,
    **overrides,
) -> str:
    """Consolidate the complete seeds cached so far (e.g. of a grid still running) into ``results_dir``;
    ``wall_seconds`` / ``machine``: the grid's measured wall time and where, written to ``timing.json``."""
    p = get_preset(preset, **overrides)
    cache_dir, results_dir = _dirs(preset, cache_dir, results_dir)
    consolidate(p, cache_dir, results_dir)
    if wall_seconds is not None:
        from scripts.files import write_json

        write_json(
            os.path.join(results_dir, "timing.json"),
            {"wall_seconds": float(wall_seconds), "machine": machine or "the CPU machine"},
        )
    return results_dir


def report(preset: str = "cpu", results_dir: str | None = None, docs_dir: str = "docs") -> str:
    """Regenerate ``docs_dir/study.md`` and ``docs_dir/figures/study_*.png`` (``docs_dir/study_thin.md`` for a
    ``tubes`` preset such as ``thin``) from ``results_dir`` (no training)."""
    _, results_dir = _dirs(preset, None, results_dir)
    return _write_report(get_preset(preset).task, results_dir, docs_dir)


def _write_report(task: str, results_dir: str, docs_dir: str) -> str:
    if task == "tubes":
        from .thin_report import write_thin_report

        return write_thin_report(results_dir, docs_dir)
    from .report import write_report

    return write_report(results_dir, docs_dir)


if __name__ == "__main__":
    fire.Fire({"run": run, "collect": collect, "report": report, "compare": compare})
