"""A training run killed with SIGKILL during its second epoch and restarted with ``--resume true`` finishes the
configured epochs without losing or repeating a completed one, and ends exactly where an uninterrupted run ends."""

import json
import re
import signal
import subprocess
import time

import pytest
import torch
from bundle_runs import CONFIGS, LOGGING, META, TINY_TRAIN, cli_args, run_bundle
from monai.networks.nets import SegResNet
from subprocesses import start_python

from scripts.checkpointing import load_checkpoint
from scripts.data.synthetic import make_synthetic_brats

EPOCHS = 3
TRAIN_CASES = 3  # 5 cases, val_fraction 0.4: 3 iterations per epoch (batch 1)
EPOCH_DONE = re.compile(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete")
VAL_DICE = re.compile(r"Epoch\[(\d+)\] Metrics -- .*val_mean_dice: ([0-9.]+)")
ITERATION = re.compile(r"Epoch: (\d+)/\d+, Iter: (\d+)/\d+ --")


def _stats_handler_index() -> int:
    handlers = json.loads((CONFIGS / "train.json").read_text())["train"]["handlers"]
    return next(i for i, h in enumerate(handlers) if h["_target_"] == "StatsHandler")


def _overrides(root, data) -> dict:
    return {
        "bundle_root": str(root),
        "dataset_dir": str(data),
        "val_fraction": 0.4,
        **TINY_TRAIN,
        "epochs": EPOCHS,
        # one log line per iteration, so that the test can see the run is inside epoch 2
        f"train#handlers#{_stats_handler_index()}#iteration_log": True,
    }


def _popen(overrides: dict) -> subprocess.Popen:
    args = ["-m", "monai.bundle", "run", "--config_file", str(CONFIGS / "train.json")]
    return start_python([*args, "--meta_file", META, "--logging_file", LOGGING, *cli_args(overrides)])


def _kill_during_epoch_2(proc: subprocess.Popen, timeout: float = 400) -> str:
    """Read the log until the first iteration of epoch 2 is logged, then SIGKILL; return the log."""
    lines, deadline = [], time.monotonic() + timeout
    try:
        for line in proc.stdout:
            lines.append(line)
            m = ITERATION.search(line)
            if m and int(m.group(1)) == 2:
                proc.send_signal(signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                raise AssertionError("training did not reach epoch 2 in time:\n" + "".join(lines[-40:]))
        else:
            raise AssertionError("training ended before epoch 2:\n" + "".join(lines[-40:]))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
    lines.append(proc.stdout.read())
    return "".join(lines)


def _epochs_done(log: str) -> list[int]:
    return [int(e) for e in EPOCH_DONE.findall(log)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    data = make_synthetic_brats(str(tmp / "data"), num_cases=5, shape=(24, 24, 16))
    reference = _popen(_overrides(tmp / "uninterrupted", data))  # runs alongside the killed one
    try:
        crashed_log = _kill_during_epoch_2(_popen(_overrides(tmp / "resumed", data)))
        state_after_kill = load_checkpoint(tmp / "resumed" / "models" / "training_state.pt")
        resumed = run_bundle(["train.json"], {**_overrides(tmp / "resumed", data), "resume": True}, timeout=400)
        reference_log, _ = reference.communicate(timeout=400)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    assert reference.returncode == 0, reference_log[-4000:]
    return {
        "tmp": tmp,
        "crashed_log": crashed_log,
        "state_after_kill": state_after_kill,
        "resumed_log": resumed.stdout + resumed.stderr,
        "reference_log": reference_log,
    }


def test_kill_happened_inside_epoch_2_after_epoch_1_was_saved(runs):
    log, state = runs["crashed_log"], runs["state_after_kill"]
    assert _epochs_done(log) == [1]
    iterations = [(int(e), int(i)) for e, i in ITERATION.findall(log)]
    assert (2, 1) in iterations and (2, TRAIN_CASES) not in iterations
    # the file on disk is the complete state of epoch 1: loads (weights_only, CRC checked) and says so
    assert state["trainer"]["iteration"] == TRAIN_CASES and state["trainer"]["epoch_length"] == TRAIN_CASES
    assert not [p for p in (runs["tmp"] / "resumed" / "models").iterdir() if ".partial-" in p.name]


def test_restart_continues_from_the_last_completed_epoch(runs):
    log = runs["resumed_log"]
    state_file = runs["tmp"] / "resumed" / "models" / "training_state.pt"
    assert f"resumed from {state_file}: 1 of {EPOCHS} epochs done (iteration {TRAIN_CASES})" in log
    resumed_epochs = _epochs_done(log)
    assert resumed_epochs == [2, 3]
    # every epoch completed exactly once over the two processes: none lost, none repeated
    assert sorted(_epochs_done(runs["crashed_log"]) + resumed_epochs) == list(range(1, EPOCHS + 1))
    assert [int(e) for e, _ in ITERATION.findall(log)] == [e for e in (2, 3) for _ in range(TRAIN_CASES)]


def test_final_checkpoints_load_and_record_all_epochs(runs):
    models = runs["tmp"] / "resumed" / "models"
    state = load_checkpoint(models / "training_state.pt")
    assert state["trainer"]["iteration"] == EPOCHS * TRAIN_CASES and state["trainer"]["max_epochs"] == EPOCHS
    assert state["lr_scheduler"]["last_epoch"] == EPOCHS  # one scheduler step per epoch, none repeated
    net = SegResNet(blocks_down=[1, 1, 1], blocks_up=[1, 1], init_filters=8, in_channels=4, out_channels=3)
    net.load_state_dict(load_checkpoint(models / "model_last.pt"), strict=True)  # plain state_dict for the zoo
    net.load_state_dict(load_checkpoint(models / "model.pt"), strict=True)
    net.load_state_dict(state["network"], strict=True)


def test_best_metric_survives_the_crash(runs):
    """The best validation Dice over all epochs of both processes is the one the final state records."""
    per_epoch = {}
    for log in (runs["crashed_log"], runs["resumed_log"]):
        for epoch, value in VAL_DICE.findall(log):
            per_epoch[int(epoch)] = float(value)  # 4 decimals, as StatsHandler prints them
    assert sorted(per_epoch) == list(range(1, EPOCHS + 1))
    best = load_checkpoint(runs["tmp"] / "resumed" / "models" / "training_state.pt")["best_metrics"]["validator"]
    assert best["best_metric"] == pytest.approx(max(per_epoch.values()), abs=5e-5)
    assert per_epoch[best["best_metric_epoch"]] == max(per_epoch.values())
    # model.pt's saver remembers the same score, so a later worse epoch cannot replace model.pt
    state = load_checkpoint(runs["tmp"] / "resumed" / "models" / "training_state.pt")
    [saver] = state["best_model_saver"]["savers"]
    assert [priority for priority, _ in saver["_saved"]] == [best["best_metric"]]


def test_resumed_run_ends_exactly_where_an_uninterrupted_run_ends(runs):
    """Same seed, one CPU thread: restoring network, optimizer, scheduler and every random state reproduces the
    uninterrupted run bit for bit (weights, Adam moments, best metrics, which model is the best one)."""
    ours = load_checkpoint(runs["tmp"] / "resumed" / "models" / "training_state.pt")
    ref = load_checkpoint(runs["tmp"] / "uninterrupted" / "models" / "training_state.pt")
    assert _epochs_done(runs["reference_log"]) == [1, 2, 3]
    for name, tensor in ref["network"].items():
        assert torch.equal(ours["network"][name], tensor), name
    for idx, moments in ref["optimizer"]["state"].items():
        for key, value in moments.items():
            assert torch.equal(torch.as_tensor(ours["optimizer"]["state"][idx][key]), torch.as_tensor(value)), key
    assert ours["lr_scheduler"] == ref["lr_scheduler"]
    assert ours["best_metrics"] == ref["best_metrics"]
    assert ours["best_model_saver"] == ref["best_model_saver"]
    assert torch.equal(ours["rng"]["torch"], ref["rng"]["torch"])
    for a, b in zip(ours["rng"]["transforms"], ref["rng"]["transforms"], strict=True):
        assert torch.equal(a["keys"], b["keys"]) and a["pos"] == b["pos"]
    best = {
        n: load_checkpoint(runs["tmp"] / r / "models" / "model.pt")
        for n, r in (("a", "resumed"), ("b", "uninterrupted"))
    }
    assert all(torch.equal(best["a"][k], best["b"][k]) for k in best["b"])
