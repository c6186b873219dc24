"""Small checks the configs run before a workflow starts."""

from __future__ import annotations

import os


def require_file(path: str, what: str = "file") -> str:
    """Return ``path`` if it is a file; FileNotFoundError naming it (and what it should hold) otherwise.

    Used in ``initialize`` so that a missing checkpoint fails before any data is loaded or cached.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {os.path.abspath(path)}")
    return path
