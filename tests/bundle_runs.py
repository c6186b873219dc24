"""Helpers of the bundle workflow tests: run ``python -m monai.bundle run`` like a user, with tiny settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from monai.bundle import ConfigParser, ConfigWorkflow
from slow_marking import slow_helper

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = REPO_ROOT / "configs"
META = str(CONFIGS / "metadata.json")
LOGGING = str(CONFIGS / "logging.conf")

# A SegResNet with two downsamplings (inputs divisible by 4), 16^3 patches and windows, no worker processes.
TINY_NET = {
    "network_def#init_filters": 8,
    "network_def#blocks_down": [1, 1, 1],
    "network_def#blocks_up": [1, 1],
    "infer_roi_size": [16, 16, 16],
    "num_workers": 0,
}
TINY_TRAIN = {
    **TINY_NET,
    "epochs": 1,
    "val_interval": 1,
    "patch_size": [16, 16, 16],
    "num_samples": 1,
}


def config_files(*names: str) -> list[str]:
    return [str(CONFIGS / n) for n in names]


def eager_config(*names: str, **ids: object) -> ConfigParser:
    """The configs ``names`` merged, with ``metadata.json`` and ``ids`` set, the loss eager (for tests that check the
    wiring, not the compiler); nothing is run."""
    p = ConfigParser()
    p.read_config(config_files(*names))
    p.read_meta(META)
    p["loss_compile"] = False
    for key, value in ids.items():
        p[key] = value
    return p


def cli_args(overrides: Mapping[str, object]) -> list[str]:
    """``--id value`` pairs as ``monai.bundle run`` (python-fire) parses them: JSON for lists, numbers, booleans."""
    args: list[str] = []
    for key, value in overrides.items():
        args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return args


@slow_helper
def run_bundle(
    names: Sequence[str],
    overrides: Mapping[str, object],
    torchrun_procs: int = 0,
    timeout: int = 300,
    expect_ok: bool = True,
) -> subprocess.CompletedProcess:
    """Run the bundle from its root as the README does; fail with the tail of the output when it fails."""
    files = config_files(*names)
    config_arg = files[0] if len(files) == 1 else json.dumps(files)
    launcher = [sys.executable, "-m", "monai.bundle"]
    if torchrun_procs:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1"]
        launcher += [f"--nproc_per_node={torchrun_procs}", "-m", "monai.bundle"]
    cmd = [*launcher, "run", "--config_file", config_arg, "--meta_file", META, "--logging_file", LOGGING]
    cmd += cli_args(overrides)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if expect_ok and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}\nexit {proc.returncode}\n{(proc.stdout + proc.stderr)[-6000:]}")
    return proc


def bundle_workflow(names: Sequence[str], workflow_type: str = "train", **overrides: object) -> ConfigWorkflow:
    """MONAI's ``ConfigWorkflow`` of the configs ``names`` merged in order, with the bundle's metadata and logging and
    ``overrides`` as ids (``bundle_root=...``), as ``monai.bundle run`` builds it; nothing is instantiated yet."""
    files = config_files(*names)
    return ConfigWorkflow(
        config_file=files if len(files) > 1 else files[0],
        meta_file=META,
        logging_file=LOGGING,
        workflow_type=workflow_type,
        **overrides,
    )


@slow_helper
def initialize_workflow(workflow: ConfigWorkflow) -> ConfigWorkflow:
    """``workflow.initialize()`` (what ``monai.bundle run`` does first: the ``initialize`` section)."""
    workflow.initialize()
    return workflow


@slow_helper
def run_workflow(workflow: ConfigWorkflow, initialize: bool = True) -> object:
    """``workflow.initialize()`` (unless done already) and ``workflow.run()``, as ``monai.bundle run`` does."""
    if initialize:
        workflow.initialize()
    return workflow.run()
