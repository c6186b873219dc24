"""Copy this bundle into a MONAI Label ``monaibundle`` app as ``<app_dir>/model/<name>``.

MONAI Label (0.8.5) serves a local bundle only if ``<app_dir>/model/<name>/configs/inference.json`` and
``models/model.pt`` (or ``model.ts``) exist; without the checkpoint it skips the bundle with a log line only, and
without the folder it tries to download ``<name>`` from the model zoo. A name containing ``segmentation`` makes it
a segmentation model. Hence the checks here, which fail loudly instead.

Command line (``fire``)::

    python -m scripts.monailabel.app_bundle install --app_dir apps/monaibundle [--model_file models/model.pt]
    python -m scripts.monailabel.app_bundle initial_weights   # untrained models/model.pt, smoke tests only
"""

from __future__ import annotations

import os
import shutil

import fire

from scripts.files import atomic_path, write_torch

BUNDLE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_NAME = "imbalanced_segmentation"
# What the bundle needs at run time; data, outputs, caches and checkpoints other than model.pt stay behind.
COPIED = ("configs", "scripts", "docs", "LICENSE")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "monailabel_train.json")


def _check_app_dir(app_dir: str) -> str:
    app_dir = os.path.abspath(str(app_dir))
    if not os.path.isfile(os.path.join(app_dir, "main.py")):
        raise FileNotFoundError(
            f"{app_dir} is not a MONAI Label app (no main.py); create the sample app first with "
            f"`monailabel apps --download --name monaibundle --output {os.path.dirname(app_dir) or '.'}`."
        )
    return app_dir


def _check_name(name: str) -> str:
    name = str(name)
    if "segmentation" not in name or os.sep in name or name in (".", ".."):
        raise ValueError(
            f"model name {name!r} must be a plain folder name containing 'segmentation' "
            "(MONAI Label picks the task type from the bundle's folder name)."
        )
    return name


def write_initial_weights(bundle_dir: str = BUNDLE_ROOT, seed: int = 0, overwrite: bool = False) -> str:
    """Save a freshly initialised ``network_def`` of ``configs/inference.json`` as ``models/model.pt``.

    Untrained weights: only for checking that serving works (a trained ``models/model.pt`` is what to serve).
    """
    import torch
    from monai.bundle import ConfigParser

    bundle_dir = os.path.abspath(str(bundle_dir))
    config_file = os.path.join(bundle_dir, "configs", "inference.json")
    if not os.path.isfile(config_file):
        raise FileNotFoundError(f"no inference config: {config_file}")
    model_file = os.path.join(bundle_dir, "models", "model.pt")
    if os.path.exists(model_file) and not overwrite:
        raise FileExistsError(f"{model_file} exists; pass overwrite=True to replace it with untrained weights.")
    parser = ConfigParser()
    parser.read_config(config_file)
    parser["bundle_root"] = bundle_dir
    torch.manual_seed(int(seed))
    network = parser.get_parsed_content("network_def")
    return write_torch(model_file, network.state_dict())


def install_bundle(
    app_dir: str,
    name: str = DEFAULT_NAME,
    model_file: str | None = None,
    bundle_root: str = BUNDLE_ROOT,
    overwrite: bool = False,
) -> str:
    """Copy the bundle at ``bundle_root`` (configs, scripts, docs, LICENSE) and ``model_file`` (default
    ``<bundle_root>/models/model.pt``) to ``<app_dir>/model/<name>``; return that folder.

    Raises:
        FileNotFoundError: ``app_dir`` is not a MONAI Label app, the bundle has no ``configs/inference.json`` or
            ``configs/metadata.json``, or the checkpoint is missing.
        ValueError: ``name`` does not contain ``segmentation``.
        FileExistsError: the target exists and ``overwrite`` is False.
    """
    app_dir = _check_app_dir(app_dir)
    name = _check_name(name)
    bundle_root = os.path.abspath(str(bundle_root))
    for required in ("inference.json", "metadata.json"):
        path = os.path.join(bundle_root, "configs", required)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"MONAI Label needs {path}, which does not exist.")
    model_file = os.path.abspath(str(model_file or os.path.join(bundle_root, "models", "model.pt")))
    if not os.path.isfile(model_file):
        raise FileNotFoundError(
            f"checkpoint {model_file} does not exist (MONAI Label would silently skip the bundle): train the bundle "
            "first or pass model_file=<a state_dict of network_def>."
        )
    target = os.path.join(app_dir, "model", name)
    if os.path.exists(target):
        if not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True to replace it.")
        shutil.rmtree(target)
    os.makedirs(os.path.join(target, "models"))
    for part in COPIED:
        source = os.path.join(bundle_root, part)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(target, part), ignore=IGNORED)
        elif os.path.isfile(source):
            shutil.copy2(source, os.path.join(target, part))
    with atomic_path(os.path.join(target, "models", "model.pt")) as tmp:
        shutil.copy2(model_file, tmp)
    return target


if __name__ == "__main__":
    fire.Fire({"install": install_bundle, "initial_weights": write_initial_weights})
