"""Checkpoints load with ``weights_only=True``; a truncated, bit-flipped, foreign or malicious file is a ValueError
naming it, in the loader itself and where the bundle loads them (evaluate/inference model.pt, resumed training)."""

import os
import struct
import zipfile

import pytest
import torch
from bundle_runs import TINY_NET, TINY_TRAIN, bundle_workflow, initialize_workflow, run_workflow
from monai.networks.nets import SegResNet

from scripts.checkpointing import load_checkpoint, require_checkpoint
from scripts.data.synthetic import make_synthetic_brats
from scripts.files import write_torch


class _RunsCodeWhenUnpickled:
    """What a malicious checkpoint holds: unpickling it would call ``os.mkdir(marker)``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _tiny_state():
    return SegResNet(
        blocks_down=[1, 1, 1], blocks_up=[1, 1], init_filters=8, in_channels=4, out_channels=3
    ).state_dict()


def _first_error(exc):
    """The first ValueError/FileNotFoundError in the chain (MONAI wraps errors raised while instantiating)."""
    while exc is not None and not isinstance(exc, ValueError | FileNotFoundError):
        exc = exc.__cause__ or exc.__context__
    return exc


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.full((1000,), 7.0), "meta": {"epoch": 3, "name": "x"}}, path)
    return path


def test_a_good_checkpoint_loads(checkpoint, tmp_path):
    state = load_checkpoint(checkpoint, map_location="cpu")
    assert torch.equal(state["w"], torch.full((1000,), 7.0)) and state["meta"] == {"epoch": 3, "name": "x"}
    legacy = tmp_path / "legacy.pt"  # the pre-zip serialization still loads
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(legacy) and torch.equal(load_checkpoint(legacy)["w"], torch.ones(2))


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -30, -1])
def test_truncated_checkpoint(checkpoint, keep):
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        load_checkpoint(checkpoint)
    assert str(checkpoint) in str(info.value)


def test_bit_flip_in_tensor_data_is_caught_by_the_zip_crc(checkpoint):
    data = bytearray(checkpoint.read_bytes())
    at = data.find(struct.pack("<f", 7.0) * 8)
    data[at : at + 4] = struct.pack("<f", 8.0)
    checkpoint.write_bytes(bytes(data))
    assert torch.load(checkpoint, weights_only=True)["w"][0] == 8.0  # torch.load alone returns the damaged value
    with pytest.raises(ValueError, match="CRC-32 mismatch") as info:
        load_checkpoint(checkpoint)
    assert str(checkpoint) in str(info.value)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights")
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found") as info:
        load_checkpoint(tmp_path / "nothing.pt")
    assert str(tmp_path / "nothing.pt") in str(info.value)
    with pytest.raises(FileNotFoundError, match="trained model not found") as info:
        require_checkpoint(str(tmp_path / "nothing.pt"), what="trained model")
    assert str(tmp_path / "nothing.pt") in str(info.value)


def test_code_in_a_checkpoint_is_refused_not_run(tmp_path):
    path, marker = tmp_path / "evil.pt", tmp_path / "code_ran"
    torch.save({"w": torch.ones(2), "payload": _RunsCodeWhenUnpickled(marker)}, path)
    with pytest.raises(ValueError, match="weights_only=True") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_numpy_arrays_are_refused_too(tmp_path):
    import numpy as np

    path = tmp_path / "np.pt"
    torch.save({"w": np.zeros(3)}, path)
    with pytest.raises(ValueError, match="other than tensors and plain containers") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


# --- where the bundle loads checkpoints ------------------------------------------------------------------------


def _workflow(bundle, names, workflow_type, **overrides):
    return bundle_workflow(names, workflow_type, bundle_root=str(bundle), **overrides)


@pytest.mark.parametrize(
    "names, workflow_type, tiny",
    [(("train.json", "evaluate.json"), "train", TINY_TRAIN), (("inference.json",), "infer", TINY_NET)],
)
def test_truncated_model_stops_evaluate_and_inference_in_initialize(tmp_path, names, workflow_type, tiny):
    models = tmp_path / "bundle" / "models"
    models.mkdir(parents=True)
    write_torch(models / "model.pt", _tiny_state())
    data = (models / "model.pt").read_bytes()
    (models / "model.pt").write_bytes(data[: len(data) // 2])
    workflow = _workflow(tmp_path / "bundle", names, workflow_type, **tiny)
    with pytest.raises(Exception) as info:
        initialize_workflow(workflow)
    err = _first_error(info.value)  # MONAI re-raises it as "Failed to instantiate" with this as the cause
    assert isinstance(err, ValueError) and "truncated or corrupt" in str(err) and str(models / "model.pt") in str(err)
    assert sorted(p.name for p in (tmp_path / "bundle").rglob("*")) == ["model.pt", "models"]  # nothing else ran


def test_truncated_training_state_stops_a_resumed_run_before_training(tmp_path):
    data = make_synthetic_brats(str(tmp_path / "data"), num_cases=3, shape=(16, 16, 16))
    models = tmp_path / "bundle" / "models"
    models.mkdir(parents=True)
    write_torch(models / "training_state.pt", {"trainer": {"iteration": 2}})
    state = (models / "training_state.pt").read_bytes()
    (models / "training_state.pt").write_bytes(state[:-40])
    write_torch(models / "model_last.pt", _tiny_state())  # the previous run's final model: must stay untouched
    last = (models / "model_last.pt").read_bytes()
    workflow = _workflow(
        tmp_path / "bundle", ("train.json",), "train", dataset_dir=data, resume=True, val_fraction=0.4, **TINY_TRAIN
    )
    initialize_workflow(workflow)
    with pytest.raises(Exception) as info:
        run_workflow(workflow, initialize=False)
    err = _first_error(info.value)
    assert isinstance(err, ValueError) and "truncated or corrupt" in str(err)
    assert str(models / "training_state.pt") in str(err)
    assert (models / "model_last.pt").read_bytes() == last
    assert (models / "training_state.pt").read_bytes() == state[:-40]
    assert sorted(p.name for p in models.iterdir()) == ["model_last.pt", "training_state.pt"]
