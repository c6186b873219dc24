"""The examples in the loss docstrings run and show what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

import scripts.losses

MODULES = sorted(m.name for m in pkgutil.iter_modules(scripts.losses.__path__))


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    mod = importlib.import_module(f"scripts.losses.{module}")
    result = doctest.testmod(mod, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
