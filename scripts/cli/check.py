"""Checks of a ``python -m monai.bundle run`` command line, run first in each workflow's ``initialize``.

MONAI passes every ``--id value`` it does not know as a config override and adds the id when the configs lack it,
so a typo (``--epoch 1``) or ``--help`` would run the full job. The check reads ``sys.argv`` because the parsed
config cannot tell an override from a config value; outside a ``monai.bundle run`` command line it does nothing."""

from __future__ import annotations

import ast
import difflib
import inspect
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from pydoc import locate
from typing import Any

from monai.bundle import ConfigParser
from monai.bundle import scripts as bundle_scripts
from monai.bundle.config_item import ComponentLocator
from monai.bundle.utils import DEFAULT_EXP_MGMT_SETTINGS

from .help_text import DESCRIPTIONS

SEPARATOR = "#"
HELP_FLAGS = {"help", "h"}


def run_arguments() -> set[str]:
    """``monai.bundle run``'s own arguments (``config_file``, ``meta_file``, ``run_id`` ...)."""
    names = {n for n, p in inspect.signature(bundle_scripts.run).parameters.items() if p.kind != p.VAR_KEYWORD}
    return names | {"workflow_name", "workflow_type", "properties_path"}


def is_bundle_run(argv: list[str]) -> bool:
    """True for ``python -m monai.bundle run ...`` (also under torchrun), whose argv[0] is monai/bundle/__main__.py."""
    return len(argv) > 1 and Path(argv[0]).parts[-3:] == ("monai", "bundle", "__main__.py") and argv[1] == "run"


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def command_line_overrides(argv: list[str]) -> dict[str, Any]:
    """The ``--id value`` / ``--id=value`` / ``--flag`` pairs after ``run``, as python-fire reads them."""
    pairs: dict[str, Any] = {}
    args = argv[2:]
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "--":
            continue  # a positional value (fire would take it as an argument; MONAI's run has none that matter here)
        name = arg.lstrip("-")
        if "=" in name:
            name, text = name.split("=", 1)
            pairs[name] = _value(text)
        elif i < len(args) and not args[i].startswith("--"):
            pairs[name] = _value(args[i])
            i += 1
        else:
            pairs[name] = True
    return {name.replace("::", SEPARATOR): value for name, value in pairs.items()}


def _ids(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every id of a config (``train#trainer#max_epochs``, list items by index) with its raw value."""
    found: dict[str, Any] = {}
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else ()
    for key, value in items:
        name = f"{prefix}{key}"
        found[name] = value
        found.update(_ids(value, name + SEPARATOR))
    return found


def known_ids(overrides: dict[str, Any]) -> dict[str, Any]:
    """The ids of the run's merged configs (``config_file`` from the command line or the ``args_file``)."""
    args_file = overrides.get("args_file")
    defaults = ConfigParser.load_config_file(args_file) if args_file else {}
    config_file = overrides.get("config_file", defaults.get("config_file"))
    if config_file is None:
        return {}
    ids = _ids(ConfigParser.load_config_files(config_file))
    tracking = overrides.get("tracking", defaults.get("tracking"))
    if isinstance(tracking, str):  # --tracking mlflow (or a settings file) adds its ids: --tracking_uri, ...
        settings = DEFAULT_EXP_MGMT_SETTINGS.get(tracking) or ConfigParser.load_config_file(tracking)
        ids = {**_ids(settings.get("configs", {})), **ids}
    return ids


def _accepted(name: str, ids: dict[str, Any], arguments: set[str]) -> bool:
    if name in ids or name in arguments:
        return True
    parent, _, leaf = name.rpartition(SEPARATOR)  # a new argument of a component: --network_def#norm batch
    component = ids.get(parent)
    return isinstance(component, dict) and "_target_" in component and _takes(component["_target_"], leaf)


def _takes(target: Any, argument: str) -> bool:
    """Whether the component class or function ``target`` takes ``argument`` (True when that cannot be told)."""
    try:
        obj = locate(target) if "." in str(target) else ComponentLocator().get_component_module_name(target)
        if isinstance(obj, (str, list)):  # ComponentLocator gives the module name(s)
            module = obj if isinstance(obj, str) else obj[0]
            obj = locate(f"{module}.{target}")
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError, AttributeError):
        return True
    return any(p.name == argument or p.kind == p.VAR_KEYWORD for p in params)


def unknown_id_message(name: str, ids: dict[str, Any], arguments: Iterable[str] = ()) -> str:
    """The error for ``name``, with the closest ids of the same level (siblings for a nested id; ``arguments``,
    monai.bundle run's own, count as top-level ids)."""
    parent, _, leaf = name.rpartition(SEPARATOR)
    siblings = {i.rpartition(SEPARATOR)[2]: i for i in ids if i.rpartition(SEPARATOR)[0] == parent}
    if not parent:
        siblings.update({a: a for a in arguments})
    close = [siblings[s] for s in difflib.get_close_matches(leaf, list(siblings), n=3)]
    hint = f" did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown config id {name!r}: no config of this run defines it (--help lists the ids).{hint}"


def help_text(ids: dict[str, Any]) -> str:
    width = max(len(name) for name in DESCRIPTIONS)
    lines = [
        "Config ids of this run (set one with --<id> <value>; nested ids with '#', e.g. --train#trainer#max_epochs):"
    ]
    for name, description in DESCRIPTIONS.items():
        if name in ids:
            lines.append(f"  --{name:<{width}}  {description} (default: {json.dumps(ids[name])})")
    lines.append("monai.bundle run's own arguments: " + ", ".join(sorted(run_arguments() - {"override"})))
    return "\n".join(lines)


def check_command_line(argv: list[str] | None = None) -> None:
    """Stop a ``monai.bundle run`` command line that asks for help or names an id no config of the run defines."""
    argv = sys.argv if argv is None else argv
    if not is_bundle_run(argv):
        return
    overrides = command_line_overrides(argv)
    ids = known_ids(overrides)
    if HELP_FLAGS & set(overrides):
        print(help_text(ids))
        raise SystemExit(0)
    arguments = run_arguments() | set(
        (ConfigParser.load_config_file(overrides["args_file"]) or {}) if "args_file" in overrides else ()
    )
    unknown = [name for name in overrides if not _accepted(name, ids, arguments)]
    if unknown and ids:
        raise SystemExit("error: " + " ".join(unknown_id_message(name, ids, arguments) for name in unknown))


def check_choice(name: str, value: Any, choices: list[str] | str, argv: list[str] | None = None) -> None:
    """Stop when config id ``name``'s ``value`` is not one of ``choices``: on a ``monai.bundle run`` command line with
    a one-line error (MONAI would bury an exception under its instantiation errors), else with a ValueError."""
    if isinstance(choices, str):  # a dotted name, e.g. "scripts.losses.LOSSES": imported only now
        choices = sorted(locate(choices))
    if value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=3)
    hint = f" did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    message = f"unknown {name} {value!r}; valid names: {', '.join(choices)}.{hint}"
    if is_bundle_run(sys.argv if argv is None else argv):
        raise SystemExit("error: " + message)
    raise ValueError(message)
