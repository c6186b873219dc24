"""Checks of a packaged bundle, as a zip archive or as the folder ``monai.bundle download`` extracted.

Each failure is a ValueError (FileNotFoundError for a missing archive/folder) naming the file at fault.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import jsonschema

from .large_files import check_large_files
from .meta_schema import meta_schema

REQUIRED = (
    "LICENSE",
    "configs/metadata.json",
    "configs/train.json",
    "configs/inference.json",
    "configs/logging.conf",
    "docs/README.md",
    "scripts/__init__.py",
    "models/model.pt",
    "large_files.yml",
)
CACHES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".git"}  # anywhere in the bundle
GENERATED = {"data", "runs", "eval", "mlruns"}  # top-level folders that running the bundle writes


def check_metadata(meta_bytes: bytes, where: str, schema_file: str | os.PathLike | None = None) -> dict:
    """Parse a bundle's metadata.json and validate it against the MONAI metadata schema: ``schema_file``, or
    :func:`~tools.zoo.meta_schema.meta_schema` (``MONAI_META_SCHEMA``, ``../shared/``, the user cache, a download)."""
    if not schema_file:
        try:
            schema_file = meta_schema()
        except Exception as err:  # no local copy, and the download failed (offline, md5 mismatch)
            raise FileNotFoundError(
                f"MONAI's metadata schema: no local copy and the download failed ({type(err).__name__}: {err}); "
                "pass --schema, or set MONAI_META_SCHEMA to a copy of meta_schema_20240725.json"
            ) from err
    schema_file = Path(schema_file)
    if not schema_file.is_file():
        raise FileNotFoundError(f"metadata schema not found: {schema_file} (pass --schema)")
    try:
        meta = json.loads(meta_bytes)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e}).") from e
    try:
        jsonschema.validate(meta, json.loads(schema_file.read_text()))
    except jsonschema.ValidationError as e:
        path = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ValueError(f"{where}: fails the metadata schema at {path}: {e.message}") from e
    if meta["version"] not in meta.get("changelog", {}):
        raise ValueError(f"{where}: version {meta['version']!r} is not a key of changelog.")
    return meta


def _check_names(names: list[str], where: str) -> None:
    for n in names:
        p = PurePosixPath(n)
        if p.is_absolute() or ".." in p.parts or "\\" in n:
            raise ValueError(f"{where}: member {n!r} is not a relative path inside the bundle.")
        bad = CACHES.intersection(p.parts[1:]) or GENERATED.intersection(p.parts[1:2]) or {".pyc"} & {p.suffix}
        if bad:
            raise ValueError(f"{where}: member {n!r} must not be packaged ({sorted(bad)[0]}).")


def _check_files(name: str, rels: set[str], read, where: str, label, schema_file) -> dict:
    """``label(rel)`` is how errors name a bundle file (``archive.zip:name/rel`` or ``/folder/rel``)."""
    missing = [r for r in REQUIRED if r not in rels]
    if missing:
        raise ValueError(f"{where}: bundle {name} lacks {missing}.")
    meta = check_metadata(read("configs/metadata.json"), label("configs/metadata.json"), schema_file)
    if meta.get("name") != name:
        raise ValueError(f"{where}: top folder {name!r} differs from metadata name {meta.get('name')!r}.")
    for rel in sorted(rels):
        if rel.endswith(".json"):
            try:
                json.loads(read(rel))
            except json.JSONDecodeError as e:
                raise ValueError(f"{label(rel)} is not valid JSON ({e}).") from e
    check_large_files(read("large_files.yml").decode(), read, label("large_files.yml"))
    return meta


def check_archive(zip_path: str, schema: str | None = None) -> dict:
    """Check a ``<name>_v<version>.zip``: readable, one top folder = metadata name, required files, nothing
    cached or generated, large files matching their hashes, metadata passing the schema. Returns the metadata."""
    where = os.path.abspath(zip_path)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"bundle archive not found: {where}")
    try:
        with zipfile.ZipFile(where) as zf:
            for member in zf.namelist():
                try:
                    zf.read(member)  # checks the CRC
                except (zipfile.BadZipFile, zlib.error, EOFError) as e:
                    raise ValueError(f"{where}: member {member} is corrupted ({e}).") from e
            names = [n for n in zf.namelist() if not n.endswith("/")]
            _check_names(names, where)
            tops = sorted({n.split("/", 1)[0] for n in names})
            if len(tops) != 1:
                raise ValueError(f"{where}: expected one top folder (the bundle name), found {tops}.")
            name = tops[0]
            rels = {n.split("/", 1)[1] for n in names}
            meta = _check_files(
                name, rels, lambda rel: zf.read(f"{name}/{rel}"), where, lambda rel: f"{where}:{name}/{rel}", schema
            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as e:
        raise ValueError(f"{where} is not a readable zip archive: {e}") from e
    expected = f"{name}_v{meta['version']}.zip"
    if os.path.basename(where) != expected:
        raise ValueError(f"{where}: archive of {name} version {meta['version']} must be named {expected}.")
    return meta


def check_bundle_dir(bundle_dir: str, schema: str | None = None) -> dict:
    """The same checks on an extracted bundle folder (e.g. after ``monai.bundle download``); what running the bundle
    creates (``__pycache__``, top-level data/eval/runs) is ignored here. Returns the metadata."""
    root = Path(bundle_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"bundle folder not found: {root}")
    rels = set()
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if p.is_file() and not (CACHES.intersection(rel.parts) or GENERATED.intersection(rel.parts[:1])):
            rels.add(rel.as_posix())
    return _check_files(
        root.name, rels, lambda rel: (root / rel).read_bytes(), str(root), lambda r: f"{root}/{r}", schema
    )
