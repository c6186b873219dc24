"""TrainingStateHandler on a tiny MONAI SupervisedTrainer: what the file holds, resuming reproduces the uninterrupted
run exactly (random streams included), and every mismatch between file and configuration is a clear error."""

import logging

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedTrainer
from monai.handlers import CheckpointSaver, LrScheduleHandler
from monai.transforms import Compose, RandFlipd, RandGaussianNoised
from monai.utils import set_determinism

from scripts.checkpointing import AtomicCheckpointSaver, TrainingStateHandler, load_checkpoint
from scripts.files import write_torch

ITEMS, BATCH = 4, 2


def _transforms(extra=False):
    ts = [RandGaussianNoised(keys="image", prob=1.0, std=0.5), RandFlipd(keys=["image", "label"], prob=0.5)]
    return Compose(ts + ([RandGaussianNoised(keys="image", prob=1.0)] if extra else []))


def _run(
    path,
    epochs,
    resume=False,
    stop_after=None,
    batch=BATCH,
    wide=False,
    extra_transform=False,
    track=True,
    device="cpu",
    amp=False,
    **kw,
):
    """Build everything as a fresh process would (seeded like the bundle's ``initialize``), train, return
    (network, per-iteration losses)."""
    set_determinism(seed=0)
    data = [{"image": torch.linspace(-1, 1, 8)[None] * i, "label": torch.ones(1, 8) * (i % 2)} for i in range(ITEMS)]
    transforms = _transforms(extra_transform)
    loader = DataLoader(Dataset(data, transforms), batch_size=batch, shuffle=True, num_workers=0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16 if wide else 8), torch.nn.Dropout(0.5))
    if wide:
        net.append(torch.nn.Linear(16, 8))
    net = net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    save_dict = {"network": net, "optimizer": opt, "lr_scheduler": sched, **kw.pop("extra_objects", {})}
    handler = TrainingStateHandler(str(path), save_dict, resume=resume, transforms=transforms if track else None, **kw)
    trainer = SupervisedTrainer(
        device=torch.device(device),
        amp=amp,
        max_epochs=epochs,
        train_data_loader=loader,
        network=net,
        optimizer=opt,
        loss_function=torch.nn.MSELoss(),
        train_handlers=[LrScheduleHandler(sched, print_lr=False), handler],
    )
    losses = []
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: losses.append((e.state.epoch, float(e.state.output[0]["loss"])))
    )
    if stop_after:
        trainer.add_event_handler(Events.EPOCH_COMPLETED(once=stop_after), lambda e: e.terminate())
    trainer.run()
    return net, losses, trainer


def test_file_holds_the_whole_state(tmp_path):
    path = tmp_path / "state.pt"
    net, losses, trainer = _run(path, epochs=2)
    state = load_checkpoint(path)
    assert set(state) == {"network", "optimizer", "lr_scheduler", "trainer", "best_metrics", "rng"}
    assert dict(state["trainer"]) == {"epoch_length": ITEMS // BATCH, "iteration": 4, "max_epochs": 2}
    assert state["lr_scheduler"]["last_epoch"] == 2 and state["lr_scheduler"]["_last_lr"] == [0.01 * 0.5**2]
    assert all(torch.equal(state["network"][k], v) for k, v in net.state_dict().items())
    assert [s["step"].item() for s in state["optimizer"]["state"].values()] == [4.0, 4.0]
    assert state["best_metrics"] == {"trainer": {"best_metric": -1.0, "best_metric_epoch": -1}}
    # the generators as they are now (nothing drew from them after the last save)
    assert torch.equal(state["rng"]["torch"], torch.get_rng_state())
    # Compose, RandGaussianNoised and the RandGaussianNoise it wraps, RandFlipd: each has its own RandomState
    assert len(state["rng"]["transforms"]) == 4
    assert len(losses) == 4


def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path):
    ref_net, ref_losses, _ = _run(tmp_path / "ref.pt", epochs=3)
    _run(tmp_path / "state.pt", epochs=3, stop_after=1)
    assert load_checkpoint(tmp_path / "state.pt")["trainer"]["iteration"] == 2
    net, losses, trainer = _run(tmp_path / "state.pt", epochs=3, resume=True)
    assert trainer.state.epoch == 3 and trainer.state.iteration == 6
    assert losses == [x for x in ref_losses if x[0] > 1]  # epochs 2 and 3 only, same values bit for bit
    assert all(torch.equal(net.state_dict()[k], v) for k, v in ref_net.state_dict().items())


def test_transform_random_states_matter(tmp_path):
    """The check above can fail: without the transforms' generators, epoch 2 sees other noise and flips."""
    _, ref_losses, _ = _run(tmp_path / "ref.pt", epochs=2)
    _run(tmp_path / "state.pt", epochs=2, stop_after=1, track=False)
    _, losses, _ = _run(tmp_path / "state.pt", epochs=2, resume=True, track=False)
    assert losses != [x for x in ref_losses if x[0] > 1]


def test_resume_of_a_finished_run_trains_nothing(tmp_path):
    net, _, _ = _run(tmp_path / "state.pt", epochs=2)
    net2, losses, trainer = _run(tmp_path / "state.pt", epochs=2, resume="true")  # command-line string
    assert losses == [] and trainer.state.epoch == 2
    assert all(torch.equal(net2.state_dict()[k], v) for k, v in net.state_dict().items())


def test_without_resume_an_old_state_is_ignored_with_a_warning(tmp_path, caplog):
    _run(tmp_path / "state.pt", epochs=1)
    with caplog.at_level(logging.WARNING):
        _, losses, _ = _run(tmp_path / "state.pt", epochs=2)
    assert len(losses) == 4 and "pass --resume True" in caplog.text and str(tmp_path / "state.pt") in caplog.text


def test_resume_without_a_file_starts_from_scratch(tmp_path):
    _, losses, _ = _run(tmp_path / "state.pt", epochs=2, resume=True)
    assert len(losses) == 4 and load_checkpoint(tmp_path / "state.pt")["trainer"]["iteration"] == 4


@pytest.mark.parametrize(
    "change, message",
    [
        ({"batch": 1}, "2 iterations per epoch, this run has 4"),
        ({"epochs": 1}, "2 epochs done, more than the configured 1"),
        ({"wide": True}, "does not fit this configuration"),
        ({"extra_transform": True}, "training transforms changed"),
        ({"extra_objects": {"ema": torch.nn.Linear(2, 2)}}, "lacks ['ema']"),
        ({"amp": True}, "lacks ['scaler']"),  # AMP switched on since: the file has no GradScaler state
    ],
)
def test_mismatching_state_is_an_error_naming_the_file(tmp_path, change, message):
    path = tmp_path / "state.pt"
    _run(path, epochs=2)
    kwargs = {"epochs": 2, **change}
    with pytest.raises(ValueError) as info:
        _run(path, resume=True, **kwargs)
    assert str(path) in str(info.value) and message in str(info.value)


@pytest.mark.parametrize("cut", [0, 100, 0.5, -1])
def test_truncated_state_is_an_error_naming_the_file(tmp_path, cut):
    path = tmp_path / "state.pt"
    _run(path, epochs=1)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        _run(path, epochs=2, resume=True)
    assert str(path) in str(info.value)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="resume must be true or false, got 'maybe'"):
        TrainingStateHandler(str(tmp_path / "s.pt"), {"network": torch.nn.Linear(1, 1)}, resume="maybe")
    with pytest.raises(ValueError, match=r"\['trainer'\] are reserved"):
        TrainingStateHandler(str(tmp_path / "s.pt"), {"trainer": torch.nn.Linear(1, 1)})
    write_torch(tmp_path / "other.pt", {"not": "a training state"})
    with pytest.raises(ValueError, match="lacks") as info:
        _run(tmp_path / "other.pt", epochs=1, resume=True)
    assert str(tmp_path / "other.pt") in str(info.value)


def test_amp_run_keeps_a_scaler_entry_on_cpu(tmp_path):
    """Without CUDA MONAI's GradScaler is disabled: its (empty) state is still saved, and resuming works."""
    path = tmp_path / "state.pt"
    _, ref_losses, _ = _run(tmp_path / "ref.pt", epochs=2, amp=True)
    _run(path, epochs=2, amp=True, stop_after=1)
    assert load_checkpoint(path)["scaler"] == {}
    _, losses, _ = _run(path, epochs=2, amp=True, resume=True)
    assert losses == [x for x in ref_losses if x[0] > 1]


@pytest.mark.gpu  # the AMP GradScaler is only active on CUDA
def test_amp_grad_scaler_is_saved_and_restored(tmp_path):
    path = tmp_path / "state.pt"
    _, _, trainer = _run(path, epochs=1, device="cuda", amp=True)
    state = load_checkpoint(path)
    assert state["scaler"]["scale"] == trainer.scaler.get_scale()
    state["scaler"]["scale"] = 1024.0  # not the default 2**16: the resumed trainer must take it from the file
    write_torch(path, state)
    _, losses, resumed = _run(path, epochs=1, resume=True, device="cuda", amp=True)
    assert losses == [] and resumed.scaler.get_scale() == 1024.0


def test_best_model_savers_must_track_a_key_metric(tmp_path):
    net = torch.nn.Linear(1, 1)
    final_only = AtomicCheckpointSaver(str(tmp_path), {"model": net}, save_final=True)
    monai_saver = CheckpointSaver(str(tmp_path), {"model": net}, save_key_metric=True)
    for saver, what in (
        (final_only, "AtomicCheckpointSaver with save_key_metric=False"),
        (monai_saver, "CheckpointSaver"),
    ):
        with pytest.raises(ValueError, match=f"got {what}"):
            TrainingStateHandler(str(tmp_path / "s.pt"), {"network": net}, best_model_savers=[saver])
