"""Start Python in a subprocess as the tests do: the bundle root importable, one thread, no stdin, a timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from slow_marking import slow_helper

REPO_ROOT = Path(__file__).resolve().parents[1]


def python_env(**extra: str) -> dict[str, str]:
    """The environment of a test subprocess: this one, the bundle root on ``PYTHONPATH``, ``OMP_NUM_THREADS=1``."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", **extra)


@slow_helper
def run_python(
    args: Sequence[str], cwd: str | os.PathLike = REPO_ROOT, timeout: float = 300, **extra_env: str
) -> subprocess.CompletedProcess:
    """``python <args>`` with this interpreter; returns the completed process (text output captured)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=python_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@slow_helper
def start_python(args: Sequence[str], cwd: str | os.PathLike = REPO_ROOT, **extra_env: str) -> subprocess.Popen:
    """``python <args>`` started in the background, stdout and stderr merged into one text pipe, line-buffered."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=python_env(PYTHONUNBUFFERED="1", **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
