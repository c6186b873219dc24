"""Helpers of the model-zoo tests: run ``python -m monai.bundle <command>`` like the zoo CI, make a checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from monai.bundle import ConfigParser

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = REPO_ROOT.parent / "shared" / "meta_schema_20240725.json"
SCHEMA_MD5 = "06954cad2cc5d3784e72077ac76f0fc8"


def bundle_cli(args: Sequence[str], cwd: Path, pythonpath: str | None = None, timeout: int = 300):
    """``python -m monai.bundle ARGS`` in ``cwd``; PYTHONPATH is only ``pythonpath`` (the repository's is removed,
    so that a bundle copy is never helped by the repository's ``scripts``). Fails with the output's tail."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, "-m", "monai.bundle", *args]
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}\nexit {proc.returncode}\n{(proc.stdout + proc.stderr)[-6000:]}")
    return proc


def network_from_config(config_file: str | Path, overrides: dict | None = None) -> torch.nn.Module:
    """``network_def`` of a config, freshly initialised (fixed seed)."""
    parser = ConfigParser()
    parser.read_config(str(config_file))
    for key, value in (overrides or {}).items():
        parser[key] = value
    torch.manual_seed(0)
    return parser.get_parsed_content("network_def")


def write_state_dict(config_file: str | Path, path: Path, overrides: dict | None = None) -> dict:
    """Save the plain state_dict of a freshly initialised ``network_def`` (what ``models/model.pt`` holds)."""
    state = network_from_config(config_file, overrides).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state
