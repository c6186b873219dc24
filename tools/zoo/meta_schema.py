"""Where MONAI's bundle metadata schema (``meta_schema_20240725.json``) is read from, offline first.

In order: the file named by the environment variable ``MONAI_META_SCHEMA``; the copy beside the repository
(``../shared/meta_schema_20240725.json``, where this project's CI keeps one); a copy downloaded earlier into the user
cache (``$XDG_CACHE_HOME`` or ``~/.cache``, ``imbalanced_segmentation/``); else it is downloaded there from the URL in
``configs/metadata.json``'s ``schema``, with MONAI's ``download_url`` and the md5 check ``verify_metadata`` uses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_NAME = "meta_schema_20240725.json"
SCHEMA_MD5 = "06954cad2cc5d3784e72077ac76f0fc8"
ENV_VAR = "MONAI_META_SCHEMA"
SHARED_COPY = REPO_ROOT.parent / "shared" / SCHEMA_NAME


def cache_path() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "imbalanced_segmentation" / SCHEMA_NAME


def schema_url(metadata: Path = REPO_ROOT / "configs" / "metadata.json") -> str:
    url = json.loads(metadata.read_text()).get("schema", "")
    if not url.endswith("/" + SCHEMA_NAME):
        raise ValueError(f"{metadata}: schema {url!r} is not {SCHEMA_NAME}; update tools/zoo/meta_schema.py with it")
    return url


def local_schema() -> Path | None:
    """The schema file found without downloading, or ``None``.

    Raises:
        FileNotFoundError: ``MONAI_META_SCHEMA`` is set to a path that is not a file.
    """
    named = os.environ.get(ENV_VAR)
    if named:
        if not Path(named).is_file():
            raise FileNotFoundError(f"{ENV_VAR}={named}: no such file (a copy of {SCHEMA_NAME})")
        return Path(named)
    for candidate in (SHARED_COPY, cache_path()):
        if candidate.is_file():
            return candidate
    return None


def meta_schema(download: bool = True) -> Path:
    """The metadata schema file: a local copy (see the module docstring), else downloaded into the user cache.

    Raises:
        FileNotFoundError: no local copy and ``download`` is false.
        Exception: what MONAI's ``download_url`` raises when the download fails (no network) or the md5 differs.
    """
    found = local_schema()
    if found is not None:
        return found
    target = cache_path()
    if not download:
        raise FileNotFoundError(
            f"no copy of MONAI's metadata schema: set {ENV_VAR}, put it at {SHARED_COPY} or {target}"
        )
    from monai.apps.utils import download_url

    download_url(url=schema_url(), filepath=str(target), hash_val=SCHEMA_MD5, hash_type="md5", progress=False)
    return target
