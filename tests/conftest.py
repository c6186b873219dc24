"""Shared test setup: make the bundle root importable (``import scripts...``), here and in subprocesses; mark the
tests that run a bundle workflow, a subprocess or a server ``slow`` (from the helpers they use: slow_marking.py) and
skip the ``gpu`` ones without CUDA; run the loss formulas eagerly in the loss unit tests."""

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)

import slow_marking  # noqa: E402  (tests/ is on sys.path: pytest's rootdir-relative import of conftest)


def pytest_collection_modifyitems(config, items):
    conftest = sys.modules[__name__]
    cuda = None
    for item in items:
        # torch.compile runs a C++ compiler in subprocesses, seconds a loss: the compiled tests are slow too
        if slow_marking.is_slow(item, conftest) or item.get_closest_marker("compiled") is not None:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("gpu") is not None:
            if cuda is None:
                import torch

                cuda = torch.cuda.is_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device (gpu marker)"))


@pytest.fixture(autouse=True)
def _slow_work_only_in_slow_tests(request, monkeypatch):
    if request.node.get_closest_marker("slow") is None:
        slow_marking.guard_unmarked(monkeypatch, request.node.nodeid)
    yield


@pytest.fixture(autouse=True)
def losses_run_eagerly(request, monkeypatch):
    """The loss tests check the formulas eagerly (compiling each case would cost seconds); the compiled path is
    checked against the eager one in tests/test_losses_compile.py, whose tests are marked ``compiled``."""
    if request.module.__name__.startswith("test_loss") and "compiled" not in request.keywords:
        from scripts.losses._base import SegmentationLoss

        monkeypatch.setattr(SegmentationLoss, "run", lambda self, fn, *args: fn(*args))
