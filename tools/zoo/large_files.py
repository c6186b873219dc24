"""``large_files.yml``: what ``monai.bundle download_large_files`` reads (path, url, hash_val, hash_type)."""

from __future__ import annotations

import hashlib

import yaml

HASH_TYPES = ("md5", "sha1", "sha256", "sha512")
MODEL_PATH = "models/model.pt"
# Where the released weights will be uploaded; replaced with the real address by ``package --model_url``.
URL_PLACEHOLDER = "https://REPLACE-WITH-RELEASE-HOST/{name}_v{version}/model.pt"


def file_hash(data: bytes, hash_type: str = "sha256") -> str:
    if hash_type not in HASH_TYPES:
        raise ValueError(f"hash_type must be one of {HASH_TYPES}, got {hash_type!r}.")
    return hashlib.new(hash_type, data).hexdigest()


def large_files_yaml(model_bytes: bytes, url: str) -> str:
    entry = {"path": MODEL_PATH, "url": url, "hash_val": file_hash(model_bytes), "hash_type": "sha256"}
    return yaml.safe_dump({"large_files": [entry]}, sort_keys=False)


def check_large_files(text: str, read, where: str) -> None:
    """Every entry of a ``large_files.yml`` (``where`` names it in errors) names a file whose hash matches.

    ``read(path)`` returns the bytes of a bundle file or raises FileNotFoundError/KeyError."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{where}: not valid YAML ({e}).") from e
    entries = doc.get("large_files") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{where}: needs a non-empty 'large_files' list, got {doc!r}.")
    for entry in entries:
        missing = [k for k in ("path", "url", "hash_val", "hash_type") if not (isinstance(entry, dict) and k in entry)]
        if missing:
            raise ValueError(f"{where}: entry {entry!r} lacks {missing}.")
        path, hash_type = entry["path"], entry["hash_type"]
        if hash_type not in HASH_TYPES:
            raise ValueError(f"{where}: {path} has hash_type {hash_type!r}, expected one of {HASH_TYPES}.")
        try:
            data = read(path)
        except (FileNotFoundError, KeyError) as e:
            raise ValueError(f"{where}: lists {path}, which is not in the bundle.") from e
        actual = file_hash(data, hash_type)
        if actual != str(entry["hash_val"]).lower():
            raise ValueError(
                f"{where}: {hash_type} of {path} is {actual}, but the file lists {entry['hash_val']} "
                "(corrupted or replaced file, or a stale large_files.yml)."
            )
