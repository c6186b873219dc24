"""tests/slow_marking.py: a test is slow exactly when it reaches a slow helper; unmarked slow work fails at once."""

import importlib
import subprocess
import sys

import bundle_runs
import pytest
import zoo_tools
from bundle_runs import run_bundle
from slow_marking import UnmarkedSlowWork, calls_slow_helper, guard_unmarked


def _direct():
    run_bundle(["train.json"], {})


def _through_a_module_attribute():
    zoo_tools.bundle_cli(["--help"], cwd=".")


def _local_helper():
    return _direct()


def _in_a_lambda():
    return lambda: bundle_runs.run_workflow(None)


def _plain():
    return bundle_runs.config_files("train.json")


# Held in a dict, so that the tests below refer to no function (and are not marked slow themselves).
SAMPLES = {f.__name__: f for f in (_direct, _through_a_module_attribute, _local_helper, _in_a_lambda, _plain)}


@pytest.mark.parametrize("name", ["_direct", "_through_a_module_attribute", "_local_helper", "_in_a_lambda"])
def test_functions_reaching_a_slow_helper_are_slow(name):
    assert calls_slow_helper(SAMPLES[name])


def test_function_without_one_is_not():
    assert not calls_slow_helper(SAMPLES["_plain"])


def test_tests_of_the_suite_reaching_workflows_through_fixtures_or_helpers(request):
    """A fixture that runs the bundle (test_kits19_workflows.runs) and a test that initializes a workflow
    (test_bundle_properties) are found; this module's tests are not slow (they only read the sample functions)."""
    assert request.node.get_closest_marker("slow") is None
    kits = importlib.import_module("test_kits19_workflows")
    properties = importlib.import_module("test_bundle_properties")
    assert calls_slow_helper(vars(kits)["runs"])
    assert calls_slow_helper(vars(properties)["test_check_properties_is_empty"])
    assert not calls_slow_helper(vars(properties)["bundle_root"])  # a temporary folder only


def test_unmarked_test_cannot_start_a_subprocess_or_run_a_workflow(monkeypatch):
    from monai.bundle import ConfigWorkflow

    guard_unmarked(monkeypatch, "some_test")
    with pytest.raises(UnmarkedSlowWork, match="some_test starts a subprocess but is not marked slow"):
        subprocess.run([sys.executable, "-c", "pass"])
    with pytest.raises(UnmarkedSlowWork, match="runs a bundle workflow"):
        ConfigWorkflow.run(None)
