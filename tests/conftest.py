"""Shared test setup: make the bundle root importable (``import scripts...``), here and in subprocesses."""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def losses_run_eagerly(request, monkeypatch):
    """The loss tests check the formulas eagerly (compiling each case would cost seconds); the compiled path is
    checked against the eager one in tests/test_losses_compile.py, whose tests are marked ``compiled``."""
    if request.module.__name__.startswith("test_loss") and "compiled" not in request.keywords:
        from scripts.losses._base import SegmentationLoss

        monkeypatch.setattr(SegmentationLoss, "run", lambda self, fn, *args: fn(*args))
