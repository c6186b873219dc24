"""MONAI Label's BundleInferTask / BundleTrainTask driven in-process on the bundle laid out as a monaibundle model."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from bundle_app import (
    CASE_SHAPE,
    MODEL_NAME,
    constant_output_state_dict,
    expected_labels,
    load_label,
    make_app,
)
from monailabel.datastore.local import LocalDatastore
from monailabel.tasks.infer.bundle import BundleInferTask
from monailabel.tasks.train.bundle import BundleTrainTask

BIG = 8.0  # sigmoid(8) = 0.99966, sigmoid(-8) = 0.00034: far from the 0.5 threshold


@pytest.fixture(scope="module")
def app_and_bundle(sample_app, random_model_file, tmp_path_factory):
    return make_app(sample_app, random_model_file, tmp_path_factory.mktemp("inproc"))


def infer(task: BundleInferTask, image) -> tuple[np.ndarray, np.ndarray, dict]:
    label_file, params = task({"image": str(image), "device": "cpu"})
    try:
        label, affine = load_label(label_file)
    finally:
        os.remove(label_file)
    return label, affine, params


def test_infer_task_reads_bundle(app_and_bundle):
    _, bundle = app_and_bundle
    task = BundleInferTask(str(bundle), {})
    assert task.is_valid()
    assert task.type == "segmentation"
    assert task.dimension == 3
    assert task.labels == expected_labels()
    # BraTS 2021 values (Menze et al. 2015; Baid et al. 2021): NCR/NET 1, oedema 2, enhancing tumour 4
    assert sorted(task.labels.values()) == [1, 2, 4]


def test_infer_task_matches_bundle_inference(app_and_bundle, studies, own_predictions):
    """Random weights: MONAI Label's pipeline (its loader, 4-D channel-last file, SaveImaged dropped, Restored)
    gives the bundle's own ``monai.bundle run`` prediction voxel for voxel, in the image's orientation."""
    _, bundle = app_and_bundle
    task = BundleInferTask(str(bundle), {})
    for case, own in own_predictions.items():
        label, affine, params = infer(task, studies / f"{case}.nii.gz")
        assert label.shape == CASE_SHAPE
        assert np.allclose(affine, own.affine), (affine, own.affine)
        assert np.array_equal(label, np.asarray(own.dataobj)), f"{case}: MONAI Label differs from the bundle"
        assert set(np.unique(label)) <= {0, 1, 2, 4}
        assert params["label_names"] == expected_labels()
    assert len(set(np.unique(label))) > 1, "random weights gave a constant map: the comparison proves little"


@pytest.mark.parametrize(
    "logits, value",
    [
        ((-BIG, BIG, -BIG), 2),  # WT only -> oedema
        ((BIG, BIG, -BIG), 1),  # TC, WT, no ET -> necrotic / non-enhancing core
        ((BIG, BIG, BIG), 4),  # all regions -> enhancing tumour
        ((-BIG, -BIG, -BIG), 0),  # nothing -> background
    ],
)
def test_infer_task_writes_label_values(logits, value, sample_app, studies, tmp_path):
    """Constant region logits: every voxel of the returned map must hold the BraTS 2021 value of that region."""
    model_file = tmp_path / "model.pt"
    torch.save(constant_output_state_dict(logits), model_file)
    _, bundle = make_app(sample_app, model_file, tmp_path)
    image = sorted(studies.glob("*.nii.gz"))[0]
    label, affine, _ = infer(BundleInferTask(str(bundle), {}), image)
    assert label.shape == CASE_SHAPE
    assert np.allclose(affine, load_label(image)[1])
    assert np.unique(label).tolist() == [value]


def test_train_task_one_epoch(app_and_bundle, studies, random_model_file):
    """One epoch from the datastore's final labels: starts from models/model.pt (MONAI Label's CheckpointLoader),
    writes the final checkpoint, and the weights have moved."""
    _, bundle = app_and_bundle
    task = BundleTrainTask(str(bundle), {})
    assert task.is_valid()
    datastore = LocalDatastore(str(studies), extensions=["*.nii.gz"], auto_reload=False)
    assert len(datastore.datalist()) == 3
    request = {"model": MODEL_NAME, "max_epochs": 1, "device": "cpu", "multi_gpu": False, "val_split": 0.34}
    assert task(request, datastore) == {}
    final = bundle / "models" / "model_last.pt"
    assert final.is_file()
    trained = torch.load(final, map_location="cpu", weights_only=True)
    initial = torch.load(random_model_file, map_location="cpu", weights_only=True)
    assert trained.keys() == initial.keys()
    moved = [k for k in initial if initial[k].is_floating_point() and not torch.equal(initial[k], trained[k])]
    assert len(moved) > len(initial) // 2, f"only {len(moved)} of {len(initial)} tensors changed"
