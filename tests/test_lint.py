"""Formatting and lint of every ``.py`` of the repository (ruff, settings in pyproject.toml, line length 120).

Run from pytest so that CI's single test command also covers the model-zoo's style check.
"""

import pytest
from subprocesses import run_python


@pytest.mark.parametrize(
    "args", [["check", "--no-cache"], ["format", "--check", "--no-cache"]], ids=["check", "format"]
)
def test_ruff(args):
    proc = run_python(["-m", "ruff", *args, "."], timeout=120)
    assert proc.returncode == 0, f"ruff {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
