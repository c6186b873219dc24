"""Atomic checkpoint handlers: a failure while writing leaves the previous checkpoint complete (the writing itself:
tests/test_files_atomic.py)."""

import errno

import pytest
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint
from monai.handlers import CheckpointSaver

from scripts.checkpointing import AtomicCheckpointSaver, AtomicDiskSaver, load_checkpoint


def _failing_torch_save(monkeypatch, fail_from_call=1, err=None):
    """Make the n-th and later ``torch.save`` calls of the saver write half a checkpoint and then raise."""
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) < fail_from_call:
            return real_save(obj, f, *args, **kwargs)
        f.write(b"PK\x03\x04 half a checkpoint")
        raise err or OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)


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
    assert isinstance(saver.final_checkpoint.save_handler, AtomicDiskSaver)
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


def test_best_model_saver_state_keeps_a_worse_model_out_after_a_restart(tmp_path):
    """state_dict / load_state_dict carry which score model.pt holds into a new saver (what resuming does)."""
    net = torch.nn.Linear(2, 1)

    def best_saver():
        return AtomicCheckpointSaver(
            str(tmp_path), {"model": net}, save_key_metric=True, key_metric_filename="model.pt"
        )

    first = best_saver()
    engine = _engine_with_scores([0.5])
    first.attach(engine)
    engine.run([0], max_epochs=1)
    state = first.state_dict()
    assert state == {"_saved": [(0.5, "model_key_metric=0.5000.pt")]}  # ignite's name; the file is model.pt
    saved_weights = (tmp_path / "model.pt").read_bytes()

    with torch.no_grad():
        net.weight.add_(1.0)
    restarted = best_saver()
    restarted.load_state_dict(state)
    engine = _engine_with_scores([0.4, 0.6])
    restarted.attach(engine)
    engine.add_event_handler(
        Events.EPOCH_COMPLETED(once=1), lambda e: snapshots.append((tmp_path / "model.pt").read_bytes())
    )
    snapshots = []
    engine.run([0], max_epochs=2)
    assert snapshots == [saved_weights]  # 0.4 < 0.5: kept
    assert torch.equal(load_checkpoint(tmp_path / "model.pt")["weight"], net.weight.detach())  # 0.6 > 0.5: replaced
    assert restarted.state_dict() == {"_saved": [(0.6, "model_key_metric=0.6000.pt")]}


def test_saver_arguments_and_state_without_key_metric(tmp_path):
    net = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="save_dict is empty"):
        AtomicCheckpointSaver(str(tmp_path), {})
    with pytest.raises(ValueError, match="keeps one model, got key_metric_n_saved=2"):
        AtomicCheckpointSaver(
            str(tmp_path), {"m": net}, save_key_metric=True, key_metric_filename="m.pt", key_metric_n_saved=2
        )
    final_only = AtomicCheckpointSaver(str(tmp_path), {"m": net}, save_final=True)
    with pytest.raises(ValueError, match="save_key_metric=False"):
        final_only.state_dict()


def test_final_checkpoint_is_written_when_the_run_fails(tmp_path):
    net = torch.nn.Linear(2, 1)
    saver = AtomicCheckpointSaver(str(tmp_path), {"model": net}, save_final=True, final_filename="model_last.pt")
    engine = Engine(lambda e, b: 1 / 0 if e.state.iteration == 2 else None)
    saver.attach(engine)
    with pytest.raises(ZeroDivisionError):
        engine.run([0, 1], max_epochs=1)
    state = load_checkpoint(tmp_path / "model_last.pt")
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert saver.final_path() == str(tmp_path / "model_last.pt")
