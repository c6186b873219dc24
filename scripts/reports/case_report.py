"""Per-case metrics CSV and summary (CSV + JSON) written at the end of an evaluation run."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.handlers import from_engine

from scripts.files import atomic_open, write_json

PER_CASE_CSV = "metrics_per_case.csv"
SUMMARY_CSV = "metrics_summary.csv"
SUMMARY_JSON = "metrics_summary.json"
STATISTICS = ("mean", "std", "median", "count")


def _as_float(value) -> float:
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def _json_number(value: float) -> float | str | None:
    """NaN and infinity are not JSON: write null for NaN (no value) and the strings "inf" / "-inf" (``float()``
    reads them back; the official lesion-wise HD95 of a case without a matched lesion is infinite)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def write_case_report(
    output_dir: str | Path,
    cases: Sequence[str],
    columns: Mapping[str, Sequence[float]],
    overall: Mapping[str, float] | None = None,
) -> dict[str, Path]:
    """Write ``metrics_per_case.csv`` (one row per case) and the summary over cases.

    The summary has, per column, the mean, sample standard deviation (ddof=1, as pandas), median and the number
    of cases with a value; NaN entries (a region empty in both prediction and reference) are left out, as the
    official BraTS summary does. ``overall`` holds the run's scalar metrics (e.g. ``val_mean_dice``), copied into
    the JSON summary.

    Returns:
        the written paths, keyed ``per_case``, ``summary_csv``, ``summary_json``.
    """
    cases = [str(c) for c in cases]
    for name, values in columns.items():
        if len(values) != len(cases):
            raise ValueError(f"column {name!r} has {len(values)} values for {len(cases)} cases ({cases[:3]}...)")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"per_case": out / PER_CASE_CSV, "summary_csv": out / SUMMARY_CSV, "summary_json": out / SUMMARY_JSON}

    names = list(columns)
    with atomic_open(paths["per_case"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["case", *names])
        for i, case in enumerate(cases):
            writer.writerow([case, *(repr(_as_float(columns[n][i])) for n in names)])

    summary: dict[str, dict[str, float]] = {}
    for name in names:
        v = np.array([_as_float(x) for x in columns[name]], dtype=np.float64)
        v = v[~np.isnan(v)]
        summary[name] = {
            "mean": float(v.mean()) if v.size else math.nan,
            "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "median": float(np.median(v)) if v.size else math.nan,
            "count": int(v.size),
        }
    with atomic_open(paths["summary_csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["statistic", *names])
        for stat in STATISTICS:
            writer.writerow([stat, *(repr(summary[n][stat]) for n in names)])
    payload = {
        "num_cases": len(cases),
        "overall": {k: _json_number(_as_float(v)) for k, v in (overall or {}).items()},
        "per_metric": {n: {k: _json_number(v) for k, v in s.items()} for n, s in summary.items()},
    }
    write_json(paths["summary_json"], payload, indent=2, allow_nan=False)
    return paths


class CaseMetricsReport:
    """Ignite handler: collects case names per iteration and writes the reports when the epoch completes.

    Attach it to an evaluator whose metric handlers keep per-case details (``save_details=True``).

    Args:
        output_dir: folder for ``metrics_per_case.csv``, ``metrics_summary.csv`` and ``metrics_summary.json``.
        columns: CSV column name -> metric name in ``engine.state.metric_details`` (one channel each, e.g.
            ``{"dice_tc": "val_dice_tc"}``); a metric with C > 1 channels gives columns ``<name>_<channel>``.
        case_transform: gets the case names of a (decollated) batch from ``engine.state.batch`` (default: the
            ``case`` key of every item).
        overall: metric names in ``engine.state.metrics`` copied into the JSON summary.
    """

    def __init__(
        self,
        output_dir: str | Path,
        columns: Mapping[str, str],
        case_transform: Callable | None = None,
        overall: Sequence[str] = (),
    ) -> None:
        if not columns:
            raise ValueError("columns must name at least one metric, got an empty mapping")
        self.output_dir = output_dir
        self.columns = dict(columns)
        self.case_transform = case_transform or from_engine(["case"])
        self.overall = list(overall)
        self._cases: list[str] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def __call__(self, engine: Engine) -> None:
        self._write(engine)

    def _reset(self, engine: Engine) -> None:
        self._cases = []

    def _collect(self, engine: Engine) -> None:
        cases = self.case_transform(engine.state.batch)
        self._cases.extend([cases] if isinstance(cases, str) else list(cases))

    def _write(self, engine: Engine) -> None:
        details = engine.state.metric_details
        table: dict[str, list[float]] = {}
        for column, metric in self.columns.items():
            if metric not in details:
                raise ValueError(f"metric {metric!r} (column {column!r}) has no per-case details; have {list(details)}")
            values = torch.as_tensor(details[metric])
            values = values.reshape(values.shape[0], -1)
            if values.shape[0] != len(self._cases):
                raise ValueError(
                    f"metric {metric!r} has {values.shape[0]} per-case values for {len(self._cases)} cases: "
                    "the report needs a single-process evaluation"
                )
            if values.shape[1] == 1:
                table[column] = values[:, 0].tolist()
            else:
                for c in range(values.shape[1]):
                    table[f"{column}_{c}"] = values[:, c].tolist()
        overall = {k: engine.state.metrics[k] for k in self.overall if k in engine.state.metrics}
        write_case_report(self.output_dir, self._cases, table, overall)
