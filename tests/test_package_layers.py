"""The bundle's layers: ``scripts/losses`` imports the standard library, torch and MONAI only
(a user can copy the package into any MONAI project); ``scripts/transforms`` and ``scripts/data`` never import the
losses (the data pipeline does not depend on the training objective). Imports inside functions count too."""

import ast
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
LOSS_DEPENDENCIES = {"torch", "monai"}


def imported_modules(source: str, package: str) -> list[str]:
    """Absolute names of the modules ``source`` (a module of ``package``, e.g. ``scripts.transforms``) imports."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module)
    return names


def foreign_loss_imports(source: str) -> list[str]:
    return [
        name
        for name in imported_modules(source, "scripts.losses")
        if not name.startswith("scripts.losses")
        and name.split(".")[0] not in LOSS_DEPENDENCIES | set(sys.stdlib_module_names) | {"__future__"}
    ]


def loss_imports(source: str, package: str) -> list[str]:
    return [name for name in imported_modules(source, package) if name.startswith("scripts.losses")]


@pytest.mark.parametrize("path", sorted((SCRIPTS / "losses").rglob("*.py")), ids=lambda p: p.name)
def test_losses_import_the_standard_library_torch_and_monai_only(path):
    assert foreign_loss_imports(path.read_text()) == []


@pytest.mark.parametrize(
    "path",
    sorted((SCRIPTS / "transforms").rglob("*.py")) + sorted((SCRIPTS / "data").rglob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_transforms_and_data_never_import_the_losses(path):
    assert loss_imports(path.read_text(), f"scripts.{path.parent.name}") == []


def test_the_checks_find_what_issue_13_first_had():
    """The map transforms once imported the losses' map functions, and those used scipy directly."""
    transform = "def f():\n    from scripts.losses._maps import channel_maps\nfrom ..losses import build_loss\n"
    assert sorted(loss_imports(transform, "scripts.transforms")) == ["scripts.losses", "scripts.losses._maps"]
    loss = "import numpy as np\nfrom scipy import ndimage\nfrom ._base import X\nimport torch.nn\nimport math\n"
    assert foreign_loss_imports(loss) == ["numpy", "scipy"]


# the maps' fast paths; cupy / cucim: MONAI's probe; skimage: the tubed skeletons (no fallback: a clear ImportError)
OPTIONAL_LOSS_DEPENDENCIES = {"edt", "cc3d", "cupy", "cucim", "skimage"}


def optional_imports(source: str) -> list[str]:
    """The modules named by ``optional_import("name", ...)`` calls of ``source``."""
    return [
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "optional_import"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


@pytest.mark.parametrize("path", sorted((SCRIPTS / "losses").rglob("*.py")), ids=lambda p: p.name)
def test_losses_import_only_the_map_libraries_as_optional(path):
    """An optional import (MONAI's ``optional_import``: a fallback, or a clear error) is allowed for these only."""
    names = {name.split(".")[0] for name in optional_imports(path.read_text())}
    assert names <= OPTIONAL_LOSS_DEPENDENCIES


def test_the_optional_import_check_sees_the_call():
    source = (
        'from monai.utils import optional_import\nnp, ok = optional_import("numpy")\nx = m.optional_import("a.b")\n'
    )
    assert optional_imports(source) == ["numpy", "a.b"]


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (module -> modules it imports), each as the path that closes it."""
    cycles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(path[path.index(module) :] + [module])
            return
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return cycles


def loss_import_graph() -> dict[str, set[str]]:
    """Module -> the ``scripts.losses`` modules it imports, for the modules of ``scripts/losses`` but its
    ``__init__`` (which imports them all; a module importing the package itself shows as ``scripts.losses``)."""
    graph = {}
    for path in sorted((SCRIPTS / "losses").glob("*.py")):
        if path.stem != "__init__":
            graph[f"scripts.losses.{path.stem}"] = set(loss_imports(path.read_text(), "scripts.losses"))
    graph["scripts.losses"] = set(graph)
    return graph


def test_no_import_cycle_inside_the_losses():
    assert import_cycles(loss_import_graph()) == []


def test_the_cycle_check_finds_the_blob_catalogue_cycle_issue_21_reported():
    graph = {"scripts.losses.blob": {"scripts.losses.catalogue"}, "scripts.losses.catalogue": {"scripts.losses.blob"}}
    assert import_cycles(graph) == [["scripts.losses.blob", "scripts.losses.catalogue", "scripts.losses.blob"]]
    lazy = "def f():\n    from .catalogue import build_loss\n"  # an import inside a function is an edge too
    assert loss_imports(lazy, "scripts.losses") == ["scripts.losses.catalogue"]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
