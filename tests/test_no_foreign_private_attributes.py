"""No private attribute of MONAI, ignite, torch (or any other library) is read or written in ``scripts/``: a minor
release of a library may rename them silently. An attribute ``x._name`` is the bundle's own when ``_name`` is defined
in ``scripts/`` (a function, class or ``self._name`` assignment); ``self._name`` and ``cls._name`` always are."""

import ast
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def own_private_names(trees) -> set[str]:
    own = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and _private(node.name):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _private(node.attr):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    own.add(node.attr)
    return own


def foreign_private_attributes(sources: dict[str, str]) -> list[str]:
    trees = {name: ast.parse(text) for name, text in sources.items()}
    own = own_private_names(trees.values())
    found = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_scripts_read_no_private_attribute_of_a_library():
    sources = {str(p.relative_to(SCRIPTS.parent)): p.read_text() for p in sorted(SCRIPTS.rglob("*.py"))}
    assert foreign_private_attributes(sources) == []


def test_the_check_finds_what_the_issue_found():
    """The reads the training-state handler used to make (issue 16): found; the bundle's own private names: not."""
    own = "class A:\n    def _get(self):\n        self._cache = 1\n\n\ndef g(a):\n    return a._get(), a._cache\n"
    sources = {
        "old.py": "def f(engine, saver):\n    return engine._event_handlers, saver._key_metric_checkpoint\n",
        "own.py": own,
    }
    assert foreign_private_attributes(sources) == [
        "old.py:2: engine._event_handlers",
        "old.py:2: saver._key_metric_checkpoint",
    ]
