"""BraTS 2024 post-treatment glioma with the resection cavity as a fourth output channel (``configs/brats2024.json``):
train, evaluate and inference on a small copy of the 2024 layout (``BraTS2024-BraTS-GLI-TrainingData``, labels
1 NETC, 2 SNFH, 3 ET, 4 RC)."""

import csv
import json

import nibabel as nib
import numpy as np
import pytest
from bundle_runs import TINY_NET, TINY_TRAIN, run_bundle
from nifti_layouts import default_label, write_brats2023_case

SHAPE = (16, 16, 16)
REGIONS = ("tc", "wt", "et", "rc")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("brats2024")
    data = root / "BraTS2024-BraTS-GLI-TrainingData"
    for i in range(3):
        label = default_label(SHAPE, (2, 1, 3))
        label[1:4, 1:4, 1:4] = 4  # a resection cavity beside the tumour
        write_brats2023_case(data, f"BraTS-GLI-0{2000 + i}-100", shape=SHAPE, labels=label)
    common = {"bundle_root": str(root / "bundle"), "dataset_dir": str(data), "val_fraction": 0.4}
    configs = ["train.json", "brats2024.json"]
    run_bundle(configs, {**common, **TINY_TRAIN})
    run_bundle(["train.json", "evaluate.json", "brats2024.json"], {**common, **TINY_TRAIN})
    infer = {k: v for k, v in common.items() if k != "val_fraction"}
    run_bundle(["inference.json", "brats2024.json"], {**infer, **TINY_NET})
    return root / "bundle", data


def test_evaluate_scores_the_cavity_as_a_fourth_region(runs):
    bundle, _ = runs
    with open(bundle / "eval" / "metrics_per_case.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {f"dice_{r}" for r in REGIONS} <= set(rows[0]) and "lesion_dice_rc" in rows[0]
    summary = json.loads((bundle / "eval" / "metrics_summary.json").read_text())
    assert set(summary["lesion_detection"]) == set(REGIONS) and "rc" in summary["figures"]
    split = json.loads((bundle / "eval" / "datalist_split.json").read_text())
    assert {e["convention"] for e in split["training"] + split["validation"]} == {"brats2024_gli"}


def test_inference_writes_the_2024_label_values(runs):
    bundle, data = runs
    for case_dir in sorted(data.iterdir()):
        pred = nib.load(bundle / "eval" / "predictions" / f"{case_dir.name}.nii.gz")
        assert pred.shape == SHAPE
        assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= {0, 1, 2, 3, 4}
