"""The MONAI Label test environment (tests_monailabel/requirements.txt) runs the bundle's own workflows, so it needs
every run-time package of requirements.txt, at the same pin; torch is the one exception (monailabel needs its own).
A package missing there fails only in CI's MONAI Label block (``No module named 'cc3d'``), after the main suite."""

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOT_REQUIRED_IN_MONAILABEL = {"torch", "matplotlib", "pyyaml", "jsonschema"}  # pulled by monailabel itself


def requirements(path: Path) -> dict[str, str]:
    """Package name (lower case, ``_`` as ``-``) -> its version specifier, from a requirements file's own lines."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)", line).groups()
        found[name.lower().replace("_", "-")] = spec.replace(" ", "")
    return found


def test_the_monailabel_environment_has_every_run_time_package_of_the_bundle():
    bundle = requirements(REPO_ROOT / "requirements.txt")
    monailabel = requirements(REPO_ROOT / "tests_monailabel" / "requirements.txt")
    assert {"edt", "connected-components-3d", "monai", "nibabel"} <= bundle.keys()  # the parser reads the file
    missing = sorted(set(bundle) - set(monailabel) - NOT_REQUIRED_IN_MONAILABEL)
    assert not missing, f"tests_monailabel/requirements.txt lacks {missing}, which requirements.txt lists"
    shared = set(bundle) & set(monailabel) - {"torch"}
    differ = {n: (bundle[n], monailabel[n]) for n in shared if bundle[n] != monailabel[n]}
    assert not differ, f"pins differ between requirements.txt and tests_monailabel/requirements.txt: {differ}"
