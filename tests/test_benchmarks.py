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
