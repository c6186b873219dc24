"""Shared helpers of the MONAI Label tests: the bundle as a ``monaibundle`` model, weights, expected labels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.bundle import ConfigParser

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.monailabel.app_bundle import install_bundle  # noqa: E402

MODEL_NAME = "imbalanced_segmentation"
CASE_SHAPE = (40, 40, 32)
NUM_CASES = 3
VENV_BIN = Path(sys.executable).parent
CLI_TIMEOUT_S = 120


def clean_env() -> dict[str, str]:
    """This environment's ``bin`` first on PATH (the ``monailabel`` script calls ``python``), and no repository on
    PYTHONPATH: the served copy of the bundle must be self-contained."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    return env


def run_cli(args: list[str], cwd: Path, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout)
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{output}"
    return result


def network_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """A freshly initialised ``network_def`` of the repository's ``configs/inference.json``."""
    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / "configs" / "inference.json"))
    torch.manual_seed(seed)
    return parser.get_parsed_content("network_def").state_dict()


def constant_output_state_dict(logits: tuple[float, float, float]) -> dict[str, torch.Tensor]:
    """Weights whose output is ``logits`` (TC, WT, ET) at every voxel: the final 1x1x1 convolution's kernel is
    zeroed, so the network returns that convolution's bias whatever the input."""
    state = network_state_dict(seed=0)
    weight_key, bias_key = list(state)[-2:]
    assert weight_key.endswith(".weight") and bias_key.endswith(".bias"), (weight_key, bias_key)
    assert state[weight_key].shape[0] == 3 and tuple(state[bias_key].shape) == (3,), "not the output layer"
    state[weight_key] = torch.zeros_like(state[weight_key])
    state[bias_key] = torch.tensor(logits, dtype=state[bias_key].dtype)
    return state


def make_app(sample_app: Path, model_file: Path, dest: Path) -> tuple[Path, Path]:
    """A copy of the sample app with this bundle installed as ``model/<MODEL_NAME>``: (app dir, bundle dir)."""
    app = dest / "monaibundle"
    shutil.copytree(sample_app, app)
    bundle = Path(install_bundle(str(app), name=MODEL_NAME, model_file=str(model_file), bundle_root=str(REPO_ROOT)))
    return app, bundle


def expected_labels() -> dict[str, int]:
    """What MONAI Label should list: ``channel_def`` of the output ``pred`` in metadata.json, background left out."""
    meta = ConfigParser.load_config_file(str(REPO_ROOT / "configs" / "metadata.json"))
    channel_def = meta["network_data_format"]["outputs"]["pred"]["channel_def"]
    return {name.lower(): int(value) for value, name in channel_def.items() if name.lower() != "background"}


def load_label(path) -> tuple[np.ndarray, np.ndarray]:
    image = nib.load(path)
    return np.asarray(image.dataobj), image.affine
