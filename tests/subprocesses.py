"""Start Python in a subprocess as the tests do: the bundle root importable, one thread, no stdin, a timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def python_env(**extra: str) -> dict[str, str]:
    """The environment of a test subprocess: this one, the bundle root on ``PYTHONPATH``, ``OMP_NUM_THREADS=1``."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", **extra)


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
