"""Atomic JSON writes: a reader never sees a half-written file, a crash leaves the previous version intact."""

from __future__ import annotations

import json
import os
import tempfile


def save_json_atomic(content: object, path: str) -> str:
    """Write ``content`` as JSON to ``path`` through a temporary file in the same folder, fsync, then rename."""
    path = os.path.abspath(str(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(content, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
