"""Remember which files already passed the voxel-value checks, so a re-run (evaluate, inference, a resumed
training) reads only new or changed files. A file is identified by its path, size, modification time, role
(image / label) and, for labels, the convention it was checked against."""

from __future__ import annotations

import json
import logging
import os
import threading

from scripts.files import write_json

logger = logging.getLogger(__name__)
VERSION = 1


class ValueCheckCache:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(str(path))
        self._lock = threading.Lock()
        self._files: dict[str, list] = {}
        if os.path.isfile(self.path):
            try:
                with open(self.path, encoding="utf-8") as f:
                    content = json.load(f)
                if content.get("version") == VERSION and isinstance(content.get("files"), dict):
                    self._files = content["files"]
            except (OSError, ValueError, AttributeError) as e:
                logger.warning("ignoring unreadable data check cache %s (%s); all files will be read", self.path, e)

    @staticmethod
    def _signature(path: str, role: str, convention: str | None) -> list | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns, role, convention if role == "label" else None]

    def passed(self, path: str, role: str, convention: str | None) -> bool:
        signature = self._signature(path, role, convention)
        with self._lock:
            return signature is not None and self._files.get(os.path.abspath(path)) == signature

    def add(self, path: str, role: str, convention: str | None) -> None:
        signature = self._signature(path, role, convention)
        if signature is not None:
            with self._lock:
                self._files[os.path.abspath(path)] = signature

    def save(self) -> str:
        with self._lock:
            content = {"version": VERSION, "files": dict(self._files)}
        return write_json(self.path, content)
