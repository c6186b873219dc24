"""Helpers of the model-zoo tests: run ``python -m monai.bundle <command>`` like the zoo CI, make a checkpoint."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from slow_marking import slow_helper

from tools.zoo.meta_schema import SCHEMA_MD5, meta_schema

REPO_ROOT = Path(__file__).resolve().parents[1]
__all__ = ["SCHEMA_MD5", "bundle_cli", "metadata_schema", "network_from_config", "write_state_dict"]


@functools.cache
def _schema_or_reason() -> tuple[Path | None, str]:
    try:
        return meta_schema(), ""
    except Exception as err:  # no local copy and no download (offline, md5 mismatch)
        return None, f"{type(err).__name__}: {err}"


def metadata_schema() -> Path:
    """MONAI's metadata schema for the tests that validate metadata (``tools.zoo.meta_schema``: ``MONAI_META_SCHEMA``,
    ``../shared/``, the user cache, else downloaded once). Where none can be had the test is skipped with the reason;
    on CI (``CI`` set), where ``../shared/`` holds a copy, it fails instead."""
    path, reason = _schema_or_reason()
    if path is None:
        message = (
            "MONAI's metadata schema is not available: set MONAI_META_SCHEMA to a copy of meta_schema_20240725.json, "
            f"or allow its download ({reason})"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@slow_helper
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
