"""The bundles this repository is packaged as: a name (containing ``segmentation``), overlays, metadata overlay.

A flavour's configs are the repository's configs with its overlays merged in, so that the packaged
``train.json`` / ``inference.json`` default to that data set without any overlay on the command line.
For each workflow config ``W`` the overlays are ``configs/<overlay>_common.json`` (the ids training and inference
share, when that file exists), then ``configs/<overlay>_<W>`` when that file exists (e.g. ``kits19_inference.json``),
else ``configs/<overlay>.json`` (training, evaluation, multi-GPU).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flavour:
    name: str
    overlay: str | None = None  # configs/<overlay>[_common|_<workflow>].json merged after each workflow config
    metadata_overlay: str | None = None  # configs/<file> merged over configs/metadata.json


FLAVOURS = {
    "brats": Flavour(name="brats_imbalance_segmentation"),
    "kits19": Flavour(name="kits19_imbalance_segmentation", overlay="kits19", metadata_overlay="metadata_kits19.json"),
}

# Workflow configs: train/inference are full configs; evaluate/multi_gpu_train are overlays of train.json.
FULL_CONFIGS = ("train.json", "inference.json")
TRAIN_OVERLAYS = ("evaluate.json", "multi_gpu_train.json")
# Copied unchanged into every flavour.
SHARED_CONFIG_FILES = ("logging.conf", "mlflow_tracking.json")


def get_flavour(flavour: str) -> Flavour:
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; choose one of {sorted(FLAVOURS)}.")
    return FLAVOURS[flavour]
