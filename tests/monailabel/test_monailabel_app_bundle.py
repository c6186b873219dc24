"""scripts.monailabel.app_bundle: the bundle laid out as ``<app>/model/<name>`` for MONAI Label, and its checks.

(The real MONAI Label server and tasks are tested in ``tests_monailabel/``, in MONAI Label's own environment.)
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from monai.networks.nets import SegResNet

from scripts.monailabel.app_bundle import install_bundle, write_initial_weights

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path) -> Path:
    app = tmp_path / "apps" / "monaibundle"
    app.mkdir(parents=True)
    (app / "main.py").write_text("# stand-in for the sample app's main.py\n")
    return app


@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "trained.pt"
    torch.save({"weight": torch.arange(3.0)}, path)
    return path


def test_install_copies_bundle_and_checkpoint(app, model_file):
    target = Path(install_bundle(str(app), model_file=str(model_file), bundle_root=str(REPO_ROOT)))
    assert target == app / "model" / "imbalanced_segmentation"
    for name in ("inference.json", "train.json", "metadata.json"):
        assert filecmp.cmp(target / "configs" / name, REPO_ROOT / "configs" / name, shallow=False), name
    assert filecmp.cmp(target / "LICENSE", REPO_ROOT / "LICENSE", shallow=False)
    assert (target / "scripts" / "__init__.py").is_file()
    assert (target / "scripts" / "transforms" / "brats_regions.py").is_file()
    assert os.listdir(target / "models") == ["model.pt"]
    assert filecmp.cmp(target / "models" / "model.pt", model_file, shallow=False)
    leftovers = [p for p in target.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert leftovers == []


def test_install_refuses_existing_target_unless_overwrite(app, model_file):
    install_bundle(str(app), model_file=str(model_file), bundle_root=str(REPO_ROOT))
    with pytest.raises(FileExistsError, match="imbalanced_segmentation"):
        install_bundle(str(app), model_file=str(model_file), bundle_root=str(REPO_ROOT))
    stale = app / "model" / "imbalanced_segmentation" / "stale.txt"
    stale.write_text("x")
    install_bundle(str(app), model_file=str(model_file), bundle_root=str(REPO_ROOT), overwrite=True)
    assert not stale.exists()


def test_install_needs_a_monailabel_app(tmp_path, model_file):
    not_an_app = tmp_path / "empty"
    not_an_app.mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty is not a MONAI Label app.*monailabel apps --download"):
        install_bundle(str(not_an_app), model_file=str(model_file), bundle_root=str(REPO_ROOT))


@pytest.mark.parametrize("name", ["brats_model", "../x_segmentation", "a/b_segmentation"])
def test_install_rejects_names_monailabel_would_misread(app, model_file, name):
    with pytest.raises(ValueError, match="must be a plain folder name containing 'segmentation'"):
        install_bundle(str(app), name=name, model_file=str(model_file), bundle_root=str(REPO_ROOT))


def test_install_needs_the_checkpoint(app, tmp_path):
    missing = tmp_path / "nowhere" / "model.pt"
    with pytest.raises(FileNotFoundError, match=f"checkpoint {missing} does not exist"):
        install_bundle(str(app), model_file=str(missing), bundle_root=str(REPO_ROOT))
    assert not (app / "model").exists()


def test_install_needs_inference_config(app, model_file, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "configs").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"configs/inference.json"):
        install_bundle(str(app), model_file=str(model_file), bundle_root=str(bundle))


def test_initial_weights_load_into_the_configured_network(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO_ROOT / "configs", bundle / "configs")
    path = write_initial_weights(str(bundle), seed=3)
    state = torch.load(path, weights_only=True)
    # the network of configs/inference.json built directly (not through the config parser)
    config = json.loads((REPO_ROOT / "configs" / "inference.json").read_text())
    args = {k: config["network_def"][k] for k in ("blocks_down", "blocks_up", "init_filters", "dropout_prob")}
    assert config["network_def"]["_target_"] == "SegResNet"
    net = SegResNet(in_channels=config["in_channels"], out_channels=config["out_channels"], **args)
    net.load_state_dict(state, strict=True)
    with pytest.raises(FileExistsError, match="model.pt exists"):
        write_initial_weights(str(bundle), seed=3)
    again = torch.load(write_initial_weights(str(bundle), seed=3, overwrite=True), weights_only=True)
    assert all(torch.equal(state[k], again[k]) for k in state)


def test_initial_weights_need_inference_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="no inference config"):
        write_initial_weights(str(tmp_path))
