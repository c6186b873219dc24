"""docs/benchmarks.md shows the measured tables of the committed benchmark results, not edited numbers."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks import report
from benchmarks.bench_losses import SKELETON_SIZE, floor_target, soft_skeleton

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "docs", "benchmark_results")


def _read(*parts: str) -> str:
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


LOSS_RESULTS = {"cpu_losses.json": "default", "cpu_losses_warm_allocator.json": "warm"}
SKELETON_RESULTS = "cpu_losses_skeleton.json"  # the soft-skeleton losses at 64^3 (seconds per call at 128^3)


@pytest.mark.parametrize("name", [*sorted(LOSS_RESULTS), SKELETON_RESULTS])
def test_doc_contains_the_loss_tables_of_the_committed_json(name):
    record = json.loads(_read("docs", "benchmark_results", name))
    assert report.render(record) in _read("docs", "benchmarks.md")


@pytest.mark.parametrize("name", [*sorted(LOSS_RESULTS), SKELETON_RESULTS])
def test_doc_contains_the_target_summary_of_the_committed_json(name):
    record = json.loads(_read("docs", "benchmark_results", name))
    assert report.summary(record) in _read("docs", "benchmarks.md")
    later = [name for run in record.get("runs", [])[1:] for name in run["names"]]
    if later:  # the names of the later runs on their own
        assert report.summary(record, names=list(dict.fromkeys(later))) in _read("docs", "benchmarks.md")


@pytest.mark.parametrize("name", sorted(LOSS_RESULTS))
def test_committed_json_covers_the_catalogue_with_the_issue_targets(name):
    from scripts.losses import LOSSES

    record = json.loads(_read("docs", "benchmark_results", name))
    assert tuple(record["spatial"]) == (128, 128, 128) and record["batch"] == 2
    assert record["allocator"] == LOSS_RESULTS[name]
    _check_rows(record, {n for n in LOSSES if not soft_skeleton(n)})


def test_committed_skeleton_json_covers_the_soft_skeleton_losses():
    from scripts.losses import LOSSES

    record = json.loads(_read("docs", "benchmark_results", SKELETON_RESULTS))
    assert tuple(record["spatial"]) == (SKELETON_SIZE,) * 3 and record["batch"] == 2
    skeleton = {n for n in LOSSES if soft_skeleton(n)}
    assert {"cldice", "dice_cldice"} <= skeleton
    _check_rows(record, skeleton)


def _check_rows(record: dict, names: set[str]) -> None:
    from scripts.losses import map_kind

    for mode in ("sigmoid", "softmax"):
        rows = {r["loss"]: r for r in record["rows"] if r["mode"] == mode}
        assert set(rows) == names
        for name, r in rows.items():
            assert r["floor_target"] == floor_target(name)
            assert r["x_run_floor"] == r["compiled_ms"] / r["run_floor_ms"]
            assert r["compiled_ms"] > 0 and r["eager_ms"] > 0
            # a map loss is timed as the bundle runs it: its maps precomputed in the target
            assert r.get("maps") == map_kind(name)
    for r in record["rows"]:  # a merged record names the run of each row
        assert ("runs" in record) == ("run" in r)
        assert "runs" not in record or 0 <= r["run"] < len(record["runs"])


@pytest.mark.parametrize(
    "name",
    ["cpu_workflow.md", "cpu_workflow_maps.md", "cpu_workflow_realsize.md", "cpu_workflow_realsize_maps.md",
     "cpu_validation_metrics.md"],
)  # fmt: skip
def test_doc_contains_the_committed_workflow_tables(name):
    assert _read("docs", "benchmark_results", name).strip() in _read("docs", "benchmarks.md")


def test_committed_real_size_run_meets_the_map_speed_targets():
    """Issue 22: per (3, 128^3) patch, distances at most 0.35x and components at most 0.5x scipy's time."""
    text = _read("docs", "benchmark_results", "cpu_workflow_realsize.md")
    assert "(3, 128, 128, 128)" in text
    ratios = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("distance: SignedDistanced (edt)", "components: ConnectedComponentsd (cc3d)"):
            ratios[cells[0].split(":")[0]] = float(cells[2])
    assert ratios.keys() == {"distance", "components"}
    assert ratios["distance"] <= 0.35 and ratios["components"] <= 0.5
