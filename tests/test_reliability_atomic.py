"""Atomic checkpoint writes: a failure or a SIGKILL while writing leaves the previous checkpoint complete."""

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint
from monai.handlers import CheckpointSaver

import scripts.checkpointing.atomic_saver as atomic_saver
from scripts.checkpointing import AtomicCheckpointSaver, AtomicDiskSaver, load_checkpoint, save_atomic


def _failing_torch_save(monkeypatch, fail_from_call=1, err=None):
    """Make the n-th and later ``torch.save`` calls of the saver write half a checkpoint and then raise."""
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) < fail_from_call:
            return real_save(obj, f, *args, **kwargs)
        f.write(b"PK\x03\x04 half a checkpoint")
        raise err or OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_saver.torch, "save", save)


def test_round_trip_and_permissions(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 3}
    path = save_atomic(state, tmp_path / "ckpt.pt")
    assert path == str(tmp_path / "ckpt.pt")
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["w"], state["w"]) and loaded["step"] == 3
    mode = os.stat(path).st_mode
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH  # mkstemp's 0600 widened like a plain torch.save file
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_failed_write_keeps_previous_file_and_names_it(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_atomic({"w": torch.ones(3)}, path)
    before = path.read_bytes()
    _failing_torch_save(monkeypatch)
    with pytest.raises(OSError) as info:
        save_atomic({"w": torch.zeros(3)}, path)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.pt"]  # no partial file left
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(3))


def test_interrupt_while_writing_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_atomic({"w": torch.ones(3)}, path)
    _failing_torch_save(monkeypatch, err=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"w": torch.zeros(3)}, path)
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(3)) and os.listdir(tmp_path) == ["ckpt.pt"]


def test_sigkill_while_writing_keeps_previous_file(tmp_path):
    """A real SIGKILL in the middle of writing version 2 (after half of its bytes reached the file)."""
    path = tmp_path / "ckpt.pt"
    child = textwrap.dedent(
        f"""
        import io, os, signal, torch
        import scripts.checkpointing.atomic_saver as m
        m.save_atomic({{"version": torch.tensor(1), "w": torch.ones(50_000)}}, {str(path)!r})
        real_save = torch.save
        def save_half_then_die(obj, f, *a, **k):
            buf = io.BytesIO()
            real_save(obj, buf)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        m.torch.save = save_half_then_die
        m.save_atomic({{"version": torch.tensor(2), "w": torch.zeros(50_000)}}, {str(path)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    state = load_checkpoint(path)
    assert int(state["version"]) == 1 and torch.equal(state["w"], torch.ones(50_000))
    partials = [p.name for p in tmp_path.iterdir() if p.name != "ckpt.pt"]
    assert len(partials) == 1 and partials[0].startswith(".ckpt.pt.partial-")  # the half-written temporary file
    save_atomic({"version": torch.tensor(3)}, path)  # the next save of that name removes it
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"] and int(load_checkpoint(path)["version"]) == 3


def _raise_disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _engine_with_scores(scores):
    """An ignite engine whose epoch ``e`` reports ``scores[e - 1]`` as its key metric ``m``."""
    engine = Engine(lambda e, b: None)
    engine.state.key_metric_name = "m"

    @engine.on(Events.EPOCH_COMPLETED)
    def _score(e):
        e.state.metrics["m"] = scores[e.state.epoch - 1]

    return engine


@pytest.mark.parametrize("saver_cls", [CheckpointSaver, AtomicCheckpointSaver])
def test_best_model_file_survives_a_failed_update(tmp_path, monkeypatch, saver_cls):
    """MONAI's saver deletes model.pt before writing the better one; the atomic one never leaves it missing."""
    net = torch.nn.Linear(2, 1)
    saver = saver_cls(str(tmp_path), {"model": net}, save_key_metric=True, key_metric_filename="model.pt")
    engine = _engine_with_scores([0.1, 0.5])
    saver.attach(engine)
    epoch_1_weights = {}

    @engine.on(Events.EPOCH_COMPLETED)
    def _after_save(e):  # runs after the saver (attached first): change the weights, break saving for epoch 2
        if e.state.epoch == 1:
            epoch_1_weights.update({k: v.clone() for k, v in net.state_dict().items()})
            with torch.no_grad():
                net.weight.add_(1.0)
            monkeypatch.setattr(torch, "save", _raise_disk_full)

    with pytest.raises(OSError):
        engine.run([0], max_epochs=2)
    if saver_cls is CheckpointSaver:
        assert not (tmp_path / "model.pt").exists()  # the failure this class fixes
    else:
        state = load_checkpoint(tmp_path / "model.pt")
        assert all(torch.equal(state[k], epoch_1_weights[k]) for k in epoch_1_weights)


def test_atomic_saver_keeps_monai_file_names_and_rotation(tmp_path):
    net = torch.nn.Linear(2, 1)
    saver = AtomicCheckpointSaver(
        str(tmp_path), {"model": net}, save_final=True, final_filename="model_last.pt", save_interval=1, n_saved=1
    )
    assert isinstance(saver._final_checkpoint.save_handler, AtomicDiskSaver)
    engine = Engine(lambda e, b: None)
    saver.attach(engine)
    engine.run([0], max_epochs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_epoch=3.pt", "model_last.pt"]
    for name in ("model_epoch=3.pt", "model_last.pt"):
        state = load_checkpoint(tmp_path / name)
        assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


def test_disk_saver_with_ignite_checkpoint_fixed_name_never_deletes_before_writing(tmp_path, monkeypatch):
    """ignite's Checkpoint calls remove(name) before writing the same name again; the file must stay."""
    net = torch.nn.Linear(2, 1)
    checkpoint = Checkpoint({"model": net}, AtomicDiskSaver(tmp_path), filename_pattern="state.pt", n_saved=None)
    engine = Engine(lambda e, b: None)
    engine.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    engine.run([0], max_epochs=1)
    saved = (tmp_path / "state.pt").read_bytes()
    _failing_torch_save(monkeypatch)
    with pytest.raises(OSError):
        engine.run([0], max_epochs=2)
    assert (tmp_path / "state.pt").read_bytes() == saved
