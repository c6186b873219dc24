"""Which tests are ``slow``: those that run a bundle workflow, a subprocess or a server, found from the helpers they
use, not marked by hand.

A helper that starts such work is decorated with :func:`slow_helper` (``run_bundle``, ``run_workflow``,
``run_python``, ``bundle_cli``, ...). ``conftest.py`` marks ``slow`` every test whose function, or a fixture it
uses, calls a slow helper, directly or through other functions and fixtures of the test modules (found by reading
the names their code refers to). A test that starts a subprocess or runs a ``ConfigWorkflow`` without such a helper
fails at once when it is not marked (:func:`guard_unmarked`), so the marking cannot silently miss one.
"""

from __future__ import annotations

import inspect
import subprocess
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent
SLOW_ATTRIBUTE = "starts_slow_work"


def slow_helper(func: Callable) -> Callable:
    """Declare ``func`` a helper that runs a bundle workflow, a subprocess or a server."""
    setattr(func, SLOW_ATTRIBUTE, True)
    return func


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)  # lambdas, comprehensions, nested functions


def _in_tests(obj: Any) -> bool:
    try:
        return Path(inspect.getfile(obj)).resolve().is_relative_to(TESTS_DIR)
    except TypeError:
        return False


def _unwrap(obj: Any) -> Any:
    return getattr(obj, "__wrapped__", obj)  # fixtures (pytest's FixtureFunctionDefinition), decorated helpers


def calls_slow_helper(func: Any, seen: set[int] | None = None) -> bool:
    """Whether ``func`` (a test, fixture or helper) refers to a slow helper, itself or through other functions of
    the test modules."""
    seen = set() if seen is None else seen
    func = _unwrap(func)
    if id(func) in seen or not isinstance(func, types.FunctionType):
        return False
    seen.add(id(func))
    if getattr(func, SLOW_ATTRIBUTE, False):
        return True
    names = {n for code in _code_objects(func.__code__) for n in code.co_names}
    candidates = [func.__globals__[n] for n in names if n in func.__globals__]
    for module in [c for c in candidates if isinstance(c, types.ModuleType) and _in_tests(c)]:
        candidates += [getattr(module, n) for n in names if hasattr(module, n)]  # zoo_tools.bundle_cli(...)
    for obj in candidates:
        obj = _unwrap(obj)
        if getattr(obj, SLOW_ATTRIBUTE, False):
            return True
        if isinstance(obj, types.FunctionType) and _in_tests(obj) and calls_slow_helper(obj, seen):
            return True
    return False


def fixture_functions(item: Any, conftest: types.ModuleType) -> list[Any]:
    """The functions of the fixtures ``item`` uses that are defined in its module or in ``conftest``."""
    found = []
    for name in item.fixturenames:
        for module in (item.module, conftest):
            obj = getattr(module, name, None)
            if obj is not None and callable(_unwrap(obj)):
                found.append(obj)
                break
    return found


def is_slow(item: Any, conftest: types.ModuleType) -> bool:
    return any(calls_slow_helper(f) for f in [item.function, *fixture_functions(item, conftest)])


class UnmarkedSlowWork(RuntimeError):
    pass


def guard_unmarked(monkeypatch: Any, nodeid: str) -> None:
    """Make subprocesses and ``ConfigWorkflow.initialize/run`` fail in a test that is not marked ``slow``."""
    from monai.bundle import ConfigWorkflow

    def refuse(what: str) -> Callable:
        def refused(*args: Any, **kwargs: Any) -> None:
            raise UnmarkedSlowWork(
                f"{nodeid} {what} but is not marked slow: do it through a helper decorated with "
                "tests/slow_marking.py's slow_helper (bundle_runs.run_bundle / run_workflow / initialize_workflow, "
                "subprocesses.run_python, zoo_tools.bundle_cli), which marks the test slow"
            )

        return refused

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("starts a subprocess"))
    monkeypatch.setattr(ConfigWorkflow, "initialize", refuse("initializes a bundle workflow"))
    monkeypatch.setattr(ConfigWorkflow, "run", refuse("runs a bundle workflow"))
