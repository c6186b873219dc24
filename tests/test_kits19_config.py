"""The KiTS19 overlays: MONAI's property checks of the merged configs, how they merge with the other overlays, and
what their preprocessing does to a case stored the KiTS19 way (slice axis first, permuted affine)."""

import json

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_runs import CONFIGS, LOGGING, META, config_files
from monai.bundle import ConfigParser, ConfigWorkflow
from nifti_layouts import write_kits19_case, write_nifti

from scripts.losses import AsymmetricUnifiedFocalLoss

TINY_NET = {
    "filters": [4, 8, 16],
    "strides": [[1, 1, 1], [2, 2, 2], [2, 2, 2]],
    "infer_roi_size": [8, 16, 16],
    "num_workers": 0,
}
TINY_DATA = {"synthetic_num_cases": 3, "synthetic_shape": [12, 24, 24], "synthetic_spacing": [6.0, 10.0, 10.0]}
TINY_TRAIN = {
    **TINY_NET,
    "epochs": 1,
    "val_interval": 1,
    "patch_size": [8, 16, 16],
    "num_samples": 1,
    "val_fraction": 0.34,
}
SX, SY, SZ = 0.8, 0.7, 3.0


def _workflow(names, workflow_type="train", **overrides):
    return ConfigWorkflow(
        config_file=config_files(*names),
        meta_file=META,
        logging_file=LOGGING,
        workflow_type=workflow_type,
        **overrides,
    )


def _overlay(name):
    return json.loads((CONFIGS / name).read_text())


@pytest.fixture(scope="module")
def bundle_root(tmp_path_factory):
    return tmp_path_factory.mktemp("kits19_properties")


@pytest.mark.parametrize(
    "names, workflow_type, tiny",
    [
        (("train.json", "kits19.json"), "train", TINY_TRAIN),
        (("train.json", "evaluate.json", "kits19.json"), "train", TINY_TRAIN),
        (("inference.json", "kits19_inference.json"), "infer", TINY_NET),
    ],
    ids=["train", "train+evaluate", "inference"],
)
def test_check_properties_is_empty(bundle_root, names, workflow_type, tiny):
    workflow = _workflow(names, workflow_type, bundle_root=str(bundle_root), **TINY_DATA, **tiny)
    if names[-2:] != ("train.json", "kits19.json"):
        # initialize checks the checkpoint exists; an untrained one is enough for the properties
        (bundle_root / "models").mkdir(exist_ok=True)
        torch.save(workflow.parser.get_parsed_content("network_def").state_dict(), bundle_root / "models" / "model.pt")
    workflow.initialize()
    assert workflow.check_properties() == []
    # the built-in data set was generated in the KiTS19 layout, and the properties resolve to real objects
    cases = sorted(p.name for p in (bundle_root / "data" / "synthetic_kits19").iterdir() if p.is_dir())
    assert cases == ["case_00000", "case_00001", "case_00002"]
    if workflow_type == "train":
        assert workflow.max_epochs == 1
        assert len(workflow.train_dataset_data) == 2 and len(workflow.val_dataset_data) == 1
        assert all(e["convention"] == "kits19" for e in workflow.train_dataset_data)
        loss = workflow.parser.get_parsed_content("loss")
        assert isinstance(loss, AsymmetricUnifiedFocalLoss)
        # softmax over 3 channels against an integer label map (one-hot inside the loss)
        logits = torch.randn(1, 3, 8, 16, 16, requires_grad=True)
        value = loss(logits, torch.randint(0, 3, (1, 1, 8, 16, 16)).float())
        value.backward()
        assert torch.isfinite(value) and logits.grad.abs().sum() > 0
    else:
        assert len(workflow.dataset_data) == 3
    net = workflow.parser.get_parsed_content("network_def")
    assert net(torch.zeros(1, 1, 8, 16, 16)).shape == (1, 3, 8, 16, 16)
    # the built-in data use the synthetic spacing; any other dataset_dir the KiTS19 median spacing
    assert workflow.parser.get_parsed_content("spacing") == TINY_DATA["synthetic_spacing"]


def test_real_data_default_spacing_is_the_kits19_median(tmp_path):
    write_kits19_case(tmp_path, "case_00000")
    for names in (("train.json", "kits19.json"), ("inference.json", "kits19_inference.json")):
        parser = _workflow(names, bundle_root=str(tmp_path / "b"), dataset_dir=str(tmp_path)).parser
        assert parser.get_parsed_content("spacing") == [3.0, 0.78, 0.78]


def test_overlay_ids_exist_where_they_are_merged():
    train = ConfigParser(ConfigParser.load_config_file(CONFIGS / "train.json"))
    for key in _overlay("kits19.json"):
        parent = key.rsplit("#", 1)[0]
        assert "#" not in key or parent in train, f"kits19.json: {key} has no parent {parent} in train.json"
    inference = ConfigParser(ConfigParser.load_config_file(CONFIGS / "inference.json"))
    for key in _overlay("kits19_inference.json"):
        parent = key.rsplit("#", 1)[0]
        assert "#" not in key or parent in inference, f"kits19_inference.json: {key} has no parent in inference.json"


def test_shared_settings_of_the_two_overlays_agree():
    train_side, infer_side = _overlay("kits19.json"), _overlay("kits19_inference.json")
    shared = set(train_side) & set(infer_side)
    assert {"network_def", "spacing", "orientation", "hu_window", "hu_mean", "hu_std", "strides", "filters"} <= shared
    for key in shared:
        assert train_side[key] == infer_side[key], f"{key} differs between kits19.json and kits19_inference.json"
    # the image transforms of inference are those of validation (same orientation, spacing, intensities)
    val = [t for t in train_side["validate#preprocessing"]["transforms"] if isinstance(t, dict)]
    inf = [t for t in infer_side["preprocessing"]["transforms"] if isinstance(t, dict)]
    for target in ("Orientationd", "Spacingd"):
        assert [t for t in val if t["_target_"] == target] == [t for t in inf if t["_target_"] == target]


@pytest.mark.parametrize("order", ["kits19 last", "multi_gpu last"])
def test_merges_with_multi_gpu_train_in_either_order(order):
    names = ["train.json", "multi_gpu_train.json", "kits19.json"]
    if order == "multi_gpu last":
        names = ["train.json", "kits19.json", "multi_gpu_train.json"]
    merged = ConfigParser(ConfigParser.load_config_files(config_files(*names)))
    assert merged["train#dataloader#sampler"] == "@train#sampler"
    assert merged["validate#dataloader#sampler"] == "@validate#sampler"
    assert merged["network#_target_"] == "torch.nn.parallel.DistributedDataParallel"
    assert merged["network_def#_target_"] == "DynUNet" and merged["loss#softmax"] is True
    assert merged["train#random_transforms#1#_target_"] == "RandCropByLabelClassesd"


def _two_storages(root, shape=(6, 10, 12)):
    """The same physical CT stored the KiTS19 way ((z, y, x), permuted affine) and as (x, y, z) with a diagonal
    affine; both with a label. Returns the two folders and the KiTS19-stored arrays."""
    nz, ny, nx = shape
    rng = np.random.default_rng(0)
    ct = rng.integers(-300, 500, size=shape).astype(np.int16)
    label = np.zeros(shape, dtype=np.uint8)
    label[1:5, 2:8, 3:9] = 1
    label[2:4, 4:6, 5:7] = 2
    kits = np.array([[0.0, 0, -SX, 0], [0, -SY, 0, 0], [-SZ, 0, 0, 0], [0, 0, 0, 1]])
    # voxel (i, j, k) of the KiTS19 array is at (-SX k, -SY j, -SZ i); in the other storage at index
    # (nx-1-k, ny-1-j, nz-1-i) with affine diag(SX, SY, SZ) shifted by -(n-1) * spacing
    ras = np.diag([SX, SY, SZ, 1.0])
    ras[:3, 3] = [-SX * (nx - 1), -SY * (ny - 1), -SZ * (nz - 1)]
    other = lambda a: np.ascontiguousarray(a.transpose(2, 1, 0)[::-1, ::-1, ::-1])  # noqa: E731
    out = {}
    for name, affine, f in (("kits", kits, lambda a: a), ("ras", ras, other)):
        case_dir = root / name / "case_00000"
        write_nifti(case_dir / "imaging.nii.gz", f(ct), affine)
        write_nifti(case_dir / "segmentation.nii.gz", f(label), affine)
        out[name] = root / name
    voxel = np.array([4, 7, 2])  # (i, j, k) of the KiTS19 array and the same voxel in the other storage
    twin = np.array([nx - 1 - voxel[2], ny - 1 - voxel[1], nz - 1 - voxel[0]])
    np.testing.assert_allclose(nib.affines.apply_affine(kits, voxel), nib.affines.apply_affine(ras, twin))
    return out, ct, label


def test_preprocessing_orients_by_the_affine_and_windows_hu(tmp_path):
    folders, ct, label = _two_storages(tmp_path)
    expected = (np.clip(ct.astype(np.float64), -79.0, 304.0) - 101.0) / 76.9
    results = {}
    for name, folder in folders.items():
        parser = _workflow(
            ("train.json", "kits19.json"),
            bundle_root=str(tmp_path / "b"),
            dataset_dir=str(folder),
            spacing=[SZ, SY, SX],
        ).parser
        entry = {
            "case": "case_00000",
            "convention": "kits19",
            "image": str(folder / "case_00000" / "imaging.nii.gz"),
            "label": str(folder / "case_00000" / "segmentation.nii.gz"),
        }
        train_out = parser.get_parsed_content("train#deterministic_transforms")
        val_out = parser.get_parsed_content("validate#preprocessing")(dict(entry))
        d = dict(entry)
        for t in train_out:
            d = t(d)
        results[name] = (d, val_out)
    for name, (train_d, val_d) in results.items():
        # IPL orientation: axis 0 toward the feet (slices), axis 1 toward the back, axis 2 toward the left
        assert nib.aff2axcodes(train_d["image"].affine.numpy()) == ("I", "P", "L"), name
        assert tuple(train_d["image"].shape) == (1, *ct.shape), name
        np.testing.assert_allclose(train_d["image"][0].numpy(), expected, atol=2e-5, err_msg=name)
        np.testing.assert_array_equal(train_d["label"][0].numpy(), label, err_msg=name)
        np.testing.assert_allclose(val_d["image"][0].numpy(), expected, atol=2e-5, err_msg=name)
    # validation keeps the reference label as stored (metrics in the original space)
    np.testing.assert_array_equal(results["kits"][1]["label"][0].numpy(), label)
    np.testing.assert_array_equal(results["ras"][1]["label"][0].numpy(), label.transpose(2, 1, 0)[::-1, ::-1, ::-1])


def test_resampling_to_the_spacing_id(tmp_path):
    # spacing (3.0, 0.8, 0.8), (z, y, x); the extent between the outer voxel centres is kept:
    # z (9 - 1) * 3.0 = 24 mm = (5 - 1) * 6.0, y and x (11 - 1) * 0.8 = 8 mm = (6 - 1) * 1.6
    case = write_kits19_case(tmp_path, "case_00000", shape=(9, 11, 11))
    parser = _workflow(
        ("train.json", "kits19.json"),
        bundle_root=str(tmp_path / "b"),
        dataset_dir=str(tmp_path),
        spacing=[6.0, 1.6, 1.6],
    ).parser
    d = {"case": "case_00000", "convention": "kits19", "image": case["image"], "label": case["label"]}
    for t in parser.get_parsed_content("train#deterministic_transforms"):
        d = t(d)
    assert tuple(d["image"].shape) == (1, 5, 6, 6) and tuple(d["label"].shape) == (1, 5, 6, 6)
    np.testing.assert_allclose(np.asarray(d["image"].pixdim), [6.0, 1.6, 1.6])
    assert set(np.unique(d["label"].numpy())) <= {0.0, 1.0, 2.0}


def test_crop_ratios_id_controls_class_balanced_sampling(tmp_path):
    label = np.zeros((8, 24, 24), dtype=np.uint8)
    label[2:6, 4:12, 4:12] = 1
    label[4, 8, 8] = 2  # one tumour voxel: a random 4x6x6 patch holds it with probability 0.08, eight of them 2e-9
    case = write_kits19_case(tmp_path, "case_00000", shape=label.shape, labels=label)
    parser = _workflow(
        ("train.json", "kits19.json"),
        bundle_root=str(tmp_path / "b"),
        dataset_dir=str(tmp_path),
        spacing=[3.0, 0.8, 0.8],
        crop_ratios=[0, 0, 1],
        patch_size=[4, 6, 6],
        num_samples=8,
    ).parser
    patches = parser.get_parsed_content("train#preprocessing")(
        {"case": "case_00000", "convention": "kits19", "image": case["image"], "label": case["label"]}
    )
    assert len(patches) == 8
    for p in patches:
        assert tuple(p["label"].shape) == (1, 4, 6, 6)
        assert (p["label"] == 2).sum() == 1
