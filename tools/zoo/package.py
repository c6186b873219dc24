"""Build the model-zoo archive ``<name>_v<version>.zip`` of one flavour of this repository.

The archive holds the top folder ``<name>/`` with ``configs/`` (the flavour's overlays merged in, its own
``metadata.json``), ``scripts/`` (what a bundle run imports; the tooling lives in ``tools/`` and is not
packaged), ``docs/``, ``LICENSE``, ``models/`` (its README and the given ``model.pt``) and a ``large_files.yml``
entry (sha256 of the packaged model.pt). Members are sorted and dated 1980-01-01, so the same inputs give the same
bytes. The archive is checked (``checks.check_archive``) before this returns.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from monai.bundle import ConfigParser

from scripts.files import write_bytes

from .checks import check_archive, check_metadata
from .flavours import FULL_CONFIGS, SHARED_CONFIG_FILES, TRAIN_OVERLAYS, Flavour, get_flavour
from .large_files import MODEL_PATH, URL_PLACEHOLDER, large_files_yaml
from .merge import merge_configs, top_level_overlay

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGED_DIRS = ("scripts", "docs", "models")
SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache"}
WEIGHT_SUFFIXES = {".pt", ".pth", ".ts", ".onnx"}  # models/: only the given checkpoint is packaged, as model.pt
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _overlays(root: Path, flavour: Flavour, workflow: str) -> list[str]:
    if flavour.overlay is None:
        return []
    main = root / "configs" / f"{flavour.overlay}.json"
    if not main.is_file():
        raise FileNotFoundError(f"overlay of flavour {flavour.name} not found: {main}")
    common = root / "configs" / f"{flavour.overlay}_common.json"  # ids shared by training and inference
    specific = root / "configs" / f"{flavour.overlay}_{workflow}"  # e.g. kits19_inference.json replaces kits19.json
    return [str(common)] * common.is_file() + [str(specific if specific.is_file() else main)]


def flavour_configs(root: Path, flavour: Flavour) -> dict[str, dict]:
    """configs/<file> -> content of the flavour: full train/inference configs, evaluate/multi-GPU as overlays of
    the flavour's train.json (their top-level ids that differ from it)."""
    cfg = root / "configs"
    out = {n: merge_configs([str(cfg / n), *_overlays(root, flavour, n)]) for n in FULL_CONFIGS}
    for n in TRAIN_OVERLAYS:
        full = merge_configs([str(cfg / "train.json"), str(cfg / n), *_overlays(root, flavour, n)])
        out[n] = top_level_overlay(out["train.json"], full)
    return out


def flavour_metadata(root: Path, flavour: Flavour, configs: Mapping[str, dict]) -> dict:
    files = [str(root / "configs" / "metadata.json")]
    if flavour.metadata_overlay:
        files.append(str(root / "configs" / flavour.metadata_overlay))
    meta = merge_configs(files)
    meta["name"] = flavour.name
    fmt = meta["network_data_format"]
    for config_name in FULL_CONFIGS:
        config = configs[config_name]
        for key, section, tensor in (("in_channels", "inputs", "image"), ("out_channels", "outputs", "pred")):
            declared = fmt[section][tensor]["num_channels"]
            if key in config and config[key] != declared:
                raise ValueError(
                    f"flavour {flavour.name}: configs/{config_name} has {key}={config[key]} but the metadata "
                    f"{section}.{tensor}.num_channels is {declared} ({', '.join(files)})."
                )
    return meta


def load_model(model: str | os.PathLike, inference_config: dict, flavour: Flavour) -> bytes:
    """The checkpoint's bytes, after checking it is a plain state_dict of the flavour's ``network_def``."""
    path = Path(model).resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"trained model not found: {path}. Train the {flavour.name} bundle first (its checkpoint is written to "
            "models/model.pt) or pass --model PATH."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path} is not a loadable PyTorch checkpoint: {e}") from e
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} must hold a plain state_dict, got {type(state).__name__}.")
    net = ConfigParser(config=inference_config).get_parsed_content("network_def")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path} does not fit network_def of flavour {flavour.name}: {e}") from e
    return path.read_bytes()


def _bundle_files(root: Path) -> dict[str, bytes]:
    files = {"LICENSE": (root / "LICENSE").read_bytes()}
    for top in PACKAGED_DIRS:
        for p in sorted((root / top).rglob("*")):
            rel = p.relative_to(root)
            if (
                p.is_file()
                and not SKIPPED.intersection(rel.parts)
                and p.suffix != ".pyc"
                and not (rel.parts[0] == "models" and p.suffix in WEIGHT_SUFFIXES)
            ):
                files[rel.as_posix()] = p.read_bytes()
    return files


def _as_json(content: dict) -> bytes:
    return (json.dumps(content, indent=4, ensure_ascii=False) + "\n").encode()


def package(
    flavour: str = "brats",
    out: str = "dist",
    model: str | None = None,
    model_url: str | None = None,
    schema: str | None = None,
    root: str | None = None,
) -> str:
    """Build ``<out>/<name>_v<version>.zip`` for ``flavour`` (brats | kits19) and return its path.

    Args:
        flavour: which bundle to build.
        out: output folder (created).
        model: the trained checkpoint (plain state_dict); default ``<root>/models/model.pt``.
        model_url: where the released model.pt will be downloadable (``large_files.yml`` url); default: a
            placeholder to replace before publishing.
        schema: the MONAI metadata schema file; default :func:`~tools.zoo.meta_schema.meta_schema`
            (``MONAI_META_SCHEMA``, ``../shared/``, the user cache, else downloaded).
        root: the repository root; default this repository.
    """
    fl = get_flavour(flavour)
    src = Path(root).resolve() if root else REPO_ROOT
    configs = flavour_configs(src, fl)
    meta = flavour_metadata(src, fl, configs)
    check_metadata(_as_json(meta), f"metadata of flavour {fl.name}", schema)
    model_bytes = load_model(model or src / MODEL_PATH, configs["inference.json"], fl)
    url = model_url or URL_PLACEHOLDER.format(name=fl.name, version=meta["version"])

    files = _bundle_files(src)
    files.update({f"configs/{n}": _as_json(c) for n, c in configs.items()})
    files["configs/metadata.json"] = _as_json(meta)
    for n in SHARED_CONFIG_FILES:
        if (src / "configs" / n).is_file():
            files[f"configs/{n}"] = (src / "configs" / n).read_bytes()
    files[MODEL_PATH] = model_bytes
    files["large_files.yml"] = large_files_yaml(model_bytes, url).encode()
    for rel, data in files.items():
        if rel != MODEL_PATH and str(src).encode() in data:
            raise ValueError(f"{src / rel}: holds the absolute path {src}; a bundle must be relocatable.")

    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{fl.name}_v{meta['version']}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(files):
            info = zipfile.ZipInfo(f"{fl.name}/{rel}", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[rel])
    write_bytes(target, buffer.getvalue())
    check_archive(str(target), schema)
    return str(target)
