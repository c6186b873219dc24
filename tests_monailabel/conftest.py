"""Fixtures of the MONAI Label tests. They run in MONAI Label's own virtual environment (docs/monailabel.md):

    python -m venv /tmp/mlvenv && /tmp/mlvenv/bin/pip install -r tests_monailabel/requirements.txt
    /tmp/mlvenv/bin/python -m pytest -q tests_monailabel

Data: synthetic BraTS-like cases (``scripts.data.synthetic_brats``), once in the BraTS 2021 layout (four files
per case, what the bundle's own inference reads) and once as MONAI Label studies (one 4-D channel-last NIfTI per
case, labels in ``labels/final``), with the BraTS affine (x and y flipped) so that orientation handling shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import pytest
import torch
from bundle_app import CASE_SHAPE, CLI_TIMEOUT_S, NUM_CASES, REPO_ROOT, VENV_BIN, network_state_dict, run_cli

from scripts.data.synthetic_brats import make_synthetic_brats
from scripts.monailabel.studies import write_studies


@pytest.fixture(scope="session")
def brats_dir(tmp_path_factory) -> Path:
    return Path(make_synthetic_brats(str(tmp_path_factory.mktemp("brats")), num_cases=NUM_CASES, shape=CASE_SHAPE))


@pytest.fixture(scope="session")
def studies(brats_dir, tmp_path_factory) -> Path:
    """MONAI Label datastore written by ``scripts.monailabel.studies``: ``<case>.nii.gz`` (H, W, D, 4)
    channel-last and ``labels/final/<case>.nii.gz``."""
    out = tmp_path_factory.mktemp("studies")
    assert write_studies(str(brats_dir), str(out)) == sorted(os.listdir(brats_dir))
    return out


@pytest.fixture(scope="session")
def sample_app(tmp_path_factory) -> Path:
    """MONAI Label's ``monaibundle`` sample app, created by the real CLI (offline: it ships in the wheel)."""
    out = tmp_path_factory.mktemp("apps")
    run_cli([str(VENV_BIN / "monailabel"), "apps", "--download", "--name", "monaibundle", "--output", str(out)], out)
    app = out / "monaibundle"
    assert (app / "main.py").is_file(), sorted(os.listdir(out))
    return app


@pytest.fixture(scope="session")
def random_model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "model.pt"
    torch.save(network_state_dict(seed=0), path)
    return path


@pytest.fixture(scope="session")
def own_predictions(brats_dir, random_model_file, tmp_path_factory) -> dict[str, nib.Nifti1Image]:
    """The bundle's own inference (``python -m monai.bundle run``, configs/inference.json, SaveImaged) with the
    random weights, per case: what MONAI Label must reproduce."""
    work = tmp_path_factory.mktemp("own_inference")
    (work / "models").mkdir()
    shutil.copy(random_model_file, work / "models" / "model.pt")
    out = work / "predictions"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(REPO_ROOT / "configs" / "inference.json")]
    args += ["--bundle_root", str(REPO_ROOT), "--ckpt_dir", str(work / "models"), "--dataset_dir", str(brats_dir)]
    args += ["--output_dir", str(out), "--num_workers", "0"]
    result = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S * 2)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    predictions = {p.name.removesuffix(".nii.gz"): nib.load(p) for p in sorted(out.glob("*.nii.gz"))}
    assert sorted(predictions) == sorted(os.listdir(brats_dir)), sorted(predictions)
    return predictions
