"""The ``monai.bundle run`` command line, checked before any work starts: unknown ids (with the closest known
ones), ``--help``. A no-op when the process is not ``python -m monai.bundle run`` (MONAI Label, a Python caller)."""

# ruff: noqa: F401  (this module re-exports the package's public names)

from .check import check_choice, check_command_line, command_line_overrides, known_ids
