"""The benchmark helpers (``benchmarks/``): memory ledger, interleaving, batches, and a tiny run of each script.

No timing is asserted (speed is reported by the benchmarks, not tested); these tests keep the scripts
runnable and their measuring parts right.
"""

from __future__ import annotations

import json

import pytest
import torch
from subprocesses import run_python

from benchmarks import bench_losses, bench_workflow, report
from benchmarks._batches import brats_like, kits_like
from benchmarks._memory import peak_extra_bytes
from benchmarks._timing import floor_loss, interleaved_medians


@pytest.mark.compiled
def test_peak_memory_of_the_floor_by_hand():
    """Eager: sigmoid(x) (saved), the product, then in the backward the product's gradient and the input's while
    the sigmoid output lives: 3x the logits at the peak. Compiled: one fused kernel each way, only the input's
    gradient: 1x. Full-size tensors (50 MB: above glibc's mmap threshold, so resident memory follows them)."""
    x = torch.randn(2, 3, 128, 128, 128)
    y = (torch.rand_like(x) < 0.3).float()
    compiled_floor = torch.compile(floor_loss)

    def floor(fn):
        def run():
            leaf = x.detach().requires_grad_()
            fn(leaf, y).backward()
            return leaf.grad

        return run

    floor(compiled_floor)()  # compile first
    assert 2.9 <= peak_extra_bytes(floor(floor_loss), x.device) / x.nbytes <= 3.2
    assert 0.9 <= peak_extra_bytes(floor(compiled_floor), x.device) / x.nbytes <= 1.2
    assert peak_extra_bytes(lambda: x.view(-1)[:10], x.device) < x.nbytes / 100  # a view allocates nothing


def test_interleaving_rotates_the_order_and_calls_each_repeat():
    calls = []
    fns = {name: (lambda n=name: calls.append(n)) for name in "abc"}
    medians = interleaved_medians(fns, repeats=3, device=torch.device("cpu"), warmup=1)
    assert sorted(medians) == ["a", "b", "c"]
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")


def test_batches_have_nested_regions_and_valid_labels():
    x, regions = brats_like(2, (32, 32, 32))
    tc, wt, et = regions[:, 0], regions[:, 1], regions[:, 2]
    assert x.shape == regions.shape == (2, 3, 32, 32, 32)
    assert bool((et <= tc).all()) and bool((tc <= wt).all()) and 0 < float(et.mean()) < float(wt.mean()) < 0.2
    x, labels = kits_like(2, (32, 32, 32))
    assert x.shape == (2, 3, 32, 32, 32) and labels.shape == (2, 1, 32, 32, 32) and labels.dtype == torch.float32
    assert set(labels.unique().tolist()) == {0.0, 1.0, 2.0}


@pytest.mark.compiled
def test_bench_losses_tiny_run(capsys, tmp_path):
    out = tmp_path / "rows.json"
    names = ["dice", "focal", "asymmetric_unified_focal", "exp_log"]
    bench_losses.main(names=names, size=8, repeats=1, json_out=str(out))
    printed = capsys.readouterr().out
    for name in names:
        assert f"| sigmoid | {name} |" in printed and f"| softmax | {name} |" in printed
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 2 * len(names)
    by_key = {(r["mode"], r["loss"]): r for r in rows}
    assert by_key[("sigmoid", "dice")]["ref"] == "monai DiceLoss" and by_key[("sigmoid", "exp_log")]["ref"] is None
    assert by_key[("softmax", "dice")]["floor_target"] == 1.0 and by_key[("softmax", "exp_log")]["floor_target"] == 3.0
    for r in rows:
        assert r["compiled_ms"] > 0 and r["eager_ms"] > 0 and r["first_call_s"] > 0 and r["mem_compiled"] is not None


def test_bench_workflow_reads_the_bundle_config():
    parser = bench_workflow.bundle_config()
    ours = bench_workflow.ours_settings(parser)
    assert ours["patch"] == tuple(parser["patch_size"])
    assert ours["roi"] == tuple(parser["infer_roi_size"]) and ours["mode"] == "gaussian"
    assert ours["batch"] == parser["batch_size"] * parser["num_samples"]
    zoo = bench_workflow.zoo_settings(ours["in_channels"], ours["out_channels"])
    assert zoo["patch"] == (224, 224, 144) and zoo["roi"] == (240, 240, 160) and zoo["mode"] == "constant"
    assert bench_workflow._scaled((224, 224, 144), 0.5) == (112, 112, 64)


def _row(**over):
    row = {
        "mode": "sigmoid", "loss": "focal", "compiled_ms": 300.0, "eager_ms": 500.0, "run_floor_ms": 100.0,
        "x_run_floor": 3.2, "floor_target": 3.0, "ref": "monai FocalLoss", "ref_ms": 600.0, "x_ref": 0.5,
        "x_ref_eager": 0.83, "mem_compiled": 1.2, "mem_ref": 11.0,
    }  # fmt: skip
    row.update(over)
    return row


def test_report_names_each_missed_target_with_its_value():
    assert bench_losses.misses(_row()) == ["compiled 3.20x floor > 3.0"]
    assert bench_losses.misses(_row(x_run_floor=2.0)) == []
    assert bench_losses.misses(_row(x_ref=0.55, x_ref_eager=1.6, mem_compiled=2.6)) == [
        "compiled 3.20x floor > 3.0",
        "compiled 0.55x MONAI > 0.5",
        "eager 1.60x MONAI > 1.5",
        "memory 2.60x > 2.5",
    ]
    # no counterpart: only the floor and memory targets apply
    assert bench_losses.misses(_row(ref=None, ref_ms=None, x_ref=None, x_ref_eager=None, x_run_floor=1.0)) == []


@pytest.mark.compiled
def test_report_renders_the_bench_json(tmp_path):
    out = tmp_path / "rows.json"
    bench_losses.main(names=["dice", "focal"], size=8, repeats=1, json_out=str(out), memory=False)
    text = report.render(json.loads(out.read_text()))
    assert "logits (2, 3, 8, 8, 8)" in text and "**sigmoid**" in text and "**softmax**" in text
    assert text.count("| dice |") == 2 and text.count("| focal |") == 2
    report.figure(json.loads(out.read_text()), str(tmp_path / "fig.png"))
    assert (tmp_path / "fig.png").stat().st_size > 10_000


def test_loader_timer_builds_the_chosen_loader_class(monkeypatch):
    # the override a user gives on the command line (--train#dataloader#_target_ ThreadDataLoader) reaches
    # the loader the timer iterates
    from monai.data import DataLoader, ThreadDataLoader

    seen = []
    for cls in (DataLoader, ThreadDataLoader):
        monkeypatch.setattr(cls, "__iter__", lambda self, _it=cls.__iter__: seen.append(type(self)) or _it(self))
    cache_s, per_batch, n = bench_workflow.loader_timer(2, (32, 32, 32), epochs=1, target="ThreadDataLoader")
    assert n >= 1 and per_batch > 0 and cache_s > 0
    assert seen and all(t is ThreadDataLoader for t in seen)


_RSS_AFTER_FREE = """
import sys, torch
from benchmarks._allocator import set_regime
set_regime(sys.argv[1])
def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) * 1024
before = rss()
t = torch.ones(50 * 2**20 // 4)  # 50 MiB, touched
del t
print(rss() - before)
"""


def test_warm_allocator_keeps_freed_memory_mapped(tmp_path):
    # default glibc returns a 50 MiB block to the system on free (the next call faults it in again); the warm
    # regime keeps it in the heap
    script = tmp_path / "rss.py"
    script.write_text(_RSS_AFTER_FREE)
    kept = {}
    for regime in ("default", "warm"):
        out = run_python([str(script), regime])
        assert out.returncode == 0, out.stderr
        kept[regime] = int(out.stdout.strip().splitlines()[-1])
    assert kept["default"] < 10 * 2**20 and kept["warm"] > 40 * 2**20


def test_allocator_regime_is_checked():
    import pytest

    from benchmarks._allocator import set_regime

    with pytest.raises(ValueError, match="allocator must be one of"):
        set_regime("jemalloc")
    with pytest.raises(ValueError, match="allocator must be one of"):
        bench_losses.main(names=["dice"], size=8, repeats=1, allocator="cold")


# ------------------------------------------------------------------------------------ issue 13: map losses, merge
ISSUE13_WITH_MONAI = ("boundary", "gdl_boundary", "hausdorff_dt", "mcc", "generalized_wasserstein_dice")


@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
def test_counterparts_of_the_issue13_losses_compute_our_values(mode):
    """Each MONAI counterpart is the same loss (the log-Hausdorff one takes its log after the mean: a different
    value, the same work)."""
    from benchmarks._counterparts import counterparts
    from scripts.losses import build_loss

    x, target = bench_losses.make_batch(mode, 2, (12, 12, 12), torch.device("cpu"))
    flags = {"softmax": True, "to_onehot_y": True} if mode == "softmax" else {"sigmoid": True}
    refs = counterparts(softmax=mode == "softmax")
    for name in ISSUE13_WITH_MONAI:
        ours = build_loss(name, **flags, compile=False)(x, target)
        torch.testing.assert_close(ours.float(), refs[name][1](x, target).float(), rtol=1e-5, atol=1e-6)
    assert "maps per call" in refs["boundary"][0] and "log after the mean" in refs["log_hausdorff_dt"][0]
    assert not {"blob", "lovasz", "topk_ce"} & set(refs)


@pytest.mark.parametrize("mode", ["sigmoid", "softmax"])
def test_bench_target_with_maps_is_what_the_loader_hands_the_loss(mode):
    from scripts.losses import build_loss

    x, target = bench_losses.make_batch(mode, 2, (12, 12, 12), torch.device("cpu"))
    flags = {"softmax": True, "to_onehot_y": True} if mode == "softmax" else {"sigmoid": True}
    for name, kind in (("boundary", "signed"), ("hausdorff_dt", "unsigned"), ("blob", "components")):
        mapped, seconds = bench_losses.with_maps(target, kind, 3 if mode == "softmax" else None)
        assert mapped.shape[1] == target.shape[1] + 3 and seconds >= 0
        torch.testing.assert_close(
            build_loss(name, **flags, maps_in_target=True, compile=False)(x, mapped),
            build_loss(name, **flags, compile=False)(x, target),
        )


def _record(rows, **over):
    record = {
        "machine": "cpu; load average 1.00, 1.00, 1.00", "torch": "2", "batch": 2, "spatial": [8, 8, 8],
        "repeats": 5, "clock": "cpu", "allocator": "default", "rows": rows,
    }  # fmt: skip
    record.update(over)
    return record


def _full_row(mode, loss, floor=100.0, **over):
    row = {
        **_row(mode=mode, loss=loss, run_floor_ms=floor, x_run_floor=300.0 / floor),
        "floor_compiled_ms": 40.0, "first_call_s": 1.0, "mem_eager": 3.0,
    }  # fmt: skip
    row.update(over)
    return row


def test_merge_adds_and_replaces_rows_in_catalogue_order_and_names_each_run():
    old = _record([_full_row(m, n) for m in ("sigmoid", "softmax") for n in ("focal", "dice")])
    new = _record(
        [_full_row(m, n, floor=120.0, maps="signed" if n == "boundary" else None) for m in ("sigmoid", "softmax")
         for n in ("boundary", "dice")],
        date="2026-12-03 10:00 UTC", names=["boundary", "dice"], machine="cpu; load average 5.00, 5.00, 5.00",
    )  # fmt: skip
    merged = report.merge(old, new, base_date="2026-12-02")
    assert [(r["mode"], r["loss"], r["run"]) for r in merged["rows"]] == [
        ("sigmoid", "dice", 1), ("sigmoid", "focal", 0), ("sigmoid", "boundary", 1),
        ("softmax", "dice", 1), ("softmax", "focal", 0), ("softmax", "boundary", 1),
    ]  # fmt: skip
    assert [run["date"] for run in merged["runs"]] == ["2026-12-02", "2026-12-03 10:00 UTC"]
    assert merged["runs"][0]["names"] == ["focal", "dice"] and "5.00" in merged["runs"][1]["machine"]
    text = report.render(merged)
    assert "- run 1 (2026-12-02; focal, dice)" in text and "- run 2 (2026-12-03 10:00 UTC; boundary, dice)" in text
    assert "run 1: eager floor median 100.0 ms" in text and "run 2: eager floor median 120.0 ms" in text
    assert text.count("Map losses (boundary)") == 2 and "maps per call" in text
    # merging a further run keeps the runs; a run with other settings is refused
    again = report.merge(merged, {**new, "date": "2026-12-04", "rows": new["rows"][:1]})
    assert len(again["runs"]) == 3 and len(again["rows"]) == 6
    with pytest.raises(ValueError, match="runs differ in 'repeats'"):
        report.merge(old, {**new, "repeats": 7}, base_date="2026-12-02")
    with pytest.raises(ValueError, match="base_date"):
        report.merge(old, new)


def test_summary_counts_each_target_per_mode():
    rows = [
        _full_row("sigmoid", "dice", x_run_floor=0.8, x_ref=0.4, x_ref_eager=1.2, mem_compiled=1.0),
        _full_row("sigmoid", "focal", x_run_floor=3.5, x_ref=0.6, x_ref_eager=1.4, mem_compiled=3.0),
        _full_row("sigmoid", "lovasz", x_run_floor=2.0, ref=None, x_ref=None, x_ref_eager=None, mem_compiled=2.0),
    ]
    text = report.summary(_record(rows))
    assert (
        "| sigmoid | 0.80-0.80 (1/1 met) | 2.00-3.50 (1/2 met) | 0.40-0.60 (1/2 met) | 1.20-1.40 (2/2 met) | " in text
    )
    assert "1.00-3.00 (2/3 met) |" in text
    assert "not measured (warm allocator)" in report.summary(_record([{**r, "mem_compiled": None} for r in rows],
                                                                       allocator="warm"))  # fmt: skip
    assert "| sigmoid | none | 2.00-2.00 (1/1 met) | none | none |" in report.summary(_record(rows), names=["lovasz"])


def test_map_tables_of_bench_workflow_time_the_loaders_work_with_and_without_maps():
    # a tiny data set, no worker processes (loader_epochs 0), the losses eager: the tables' rows, not speed
    text = bench_workflow.maps_tables("brats", 2, (32, 32, 32), repeats=1, loader_epochs=0, step=False, compile=False)
    for label, _ in bench_workflow.MAP_LOSSES:
        assert f"| {label} |" in text
    assert "| without maps (the default loss) |" in text and "| 1.00 |" in text
    assert "MONAI BoundaryLoss.compute_distance_map" in text and "ours, maps from a plain label: components" in text


def test_gpu_settings_are_the_readmes_command():
    """``--realsize`` measures the documented settings for real data on a GPU (docs/data.md, which the README points
    to), as its command line sets them."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    assert '--patch_size "[128,128,128]"' in readme and '--infer_roi_size "[240,240,160]"' in readme
    assert "--network_def#init_filters 16" in readme
    assert bench_workflow.GPU_SETTINGS == {
        "patch_size": [128, 128, 128],
        "infer_roi_size": [240, 240, 160],
        "network_def#init_filters": 16,
    }


def test_map_speed_table_rows_ratios_and_targets():
    label = torch.zeros(3, 12, 12, 12)
    label[0, 2:6, 3:7, 4:9] = 1
    label[1, 8:, 8:, 8:] = 1
    table = bench_workflow.map_speed_table(label, repeats=1)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert set(rows) == {
        "distance: scipy",
        "distance: SignedDistanced (edt)",
        "components: scipy",
        "components: ConnectedComponentsd (cc3d)",
    }
    assert "| 1.00 |" in rows["distance: scipy"] and "<= 0.35 (" in rows["distance: SignedDistanced (edt)"]
    assert "<= 0.5 (" in rows["components: ConnectedComponentsd (cc3d)"]
    assert "(3, 12, 12, 12), 2.8% foreground" in table.splitlines()[0]
