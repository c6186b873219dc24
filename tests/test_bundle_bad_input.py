"""Bad input stops the bundle before training or inference starts, with an error naming the case and file."""

import numpy as np
import pytest
import torch
from bundle_runs import TINY_NET, TINY_TRAIN, bundle_workflow, run_bundle, run_workflow
from monai.networks.nets import SegResNet
from nifti_layouts import BRATS_AFFINE, write_brats2021_case, write_nifti

SHAPE = (16, 16, 16)


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__
    return exc


def _run_until_error(tmp_path, dataset_dir, names=("train.json",), workflow_type="train", tiny=TINY_TRAIN):
    bundle = tmp_path / "bundle"
    before = sorted(bundle.rglob("*")) if bundle.exists() else []
    workflow = bundle_workflow(names, workflow_type, bundle_root=str(bundle), dataset_dir=str(dataset_dir), **tiny)
    with pytest.raises(Exception) as info:
        run_workflow(workflow)
    # nothing was trained, logged or predicted: the error came first
    assert sorted(bundle.rglob("*")) == before
    return _root_cause(info.value)


def _two_cases(root, **bad):
    good = write_brats2021_case(root, "BraTS2021_00000", shape=SHAPE)
    return good, write_brats2021_case(root, "BraTS2021_00001", shape=SHAPE, **bad)


def test_no_recognisable_case(tmp_path):
    data = tmp_path / "downloads"
    data.mkdir()
    (data / "readme.txt").write_text("not a data set")
    err = _run_until_error(tmp_path, data)
    assert isinstance(err, ValueError) and str(data) in str(err)


def test_missing_dataset_dir_is_not_replaced_by_synthetic_data(tmp_path):
    err = _run_until_error(tmp_path, tmp_path / "no_such_folder")
    assert isinstance(err, FileNotFoundError) and str(tmp_path / "no_such_folder") in str(err)
    assert not (tmp_path / "bundle" / "data").exists()


def test_case_missing_a_modality(tmp_path):
    _, bad = _two_cases(tmp_path / "data", omit=["t1ce"])
    err = _run_until_error(tmp_path, tmp_path / "data")
    assert isinstance(err, ValueError)
    assert "BraTS2021_00001" in str(err) and bad["image"][2] in str(err)


def test_images_whose_shapes_disagree(tmp_path):
    _, bad = _two_cases(tmp_path / "data")
    write_nifti(bad["image"][3], np.ones((16, 16, 12), np.int16), BRATS_AFFINE)
    err = _run_until_error(tmp_path, tmp_path / "data")
    assert isinstance(err, ValueError)
    assert "BraTS2021_00001" in str(err) and bad["image"][3] in str(err) and "shape" in str(err)


def test_label_value_outside_the_convention(tmp_path):
    label = np.zeros(SHAPE, np.uint8)
    label[4:8, 4:8, 4:8] = 3  # 3 is not a BraTS 2021 value (1, 2, 4)
    _, bad = _two_cases(tmp_path / "data", labels=label)
    err = _run_until_error(tmp_path, tmp_path / "data")
    assert isinstance(err, ValueError)
    assert "BraTS2021_00001" in str(err) and bad["label"] in str(err) and "3" in str(err)


def test_unreadable_nifti(tmp_path):
    _, bad = _two_cases(tmp_path / "data")
    with open(bad["image"][0], "wb") as f:
        f.write(b"this is not a NIfTI file")
    err = _run_until_error(tmp_path, tmp_path / "data")
    assert isinstance(err, ValueError)
    assert "BraTS2021_00001" in str(err) and bad["image"][0] in str(err)


def test_inference_checks_its_cases_before_inferring(tmp_path):
    _, bad = _two_cases(tmp_path / "data", with_label=False)
    with open(bad["image"][1], "wb") as f:
        f.write(b"\x1f\x8b truncated")
    models = tmp_path / "bundle" / "models"
    models.mkdir(parents=True)
    net = SegResNet(blocks_down=[1, 1, 1], blocks_up=[1, 1], init_filters=8, in_channels=4, out_channels=3)
    torch.save(net.state_dict(), models / "model.pt")
    err = _run_until_error(tmp_path, tmp_path / "data", ("inference.json",), "infer", TINY_NET)
    assert isinstance(err, ValueError)
    assert "BraTS2021_00001" in str(err) and bad["image"][1] in str(err)


@pytest.mark.parametrize(
    "names, workflow_type", [(("train.json", "evaluate.json"), "train"), (("inference.json",), "infer")]
)
def test_missing_checkpoint_fails_in_initialize(tmp_path, names, workflow_type):
    _two_cases(tmp_path / "data")
    err = _run_until_error(tmp_path, tmp_path / "data", names, workflow_type)
    assert isinstance(err, FileNotFoundError)
    assert str(tmp_path / "bundle" / "models" / "model.pt") in str(err)


def test_command_line_user_sees_case_and_file(tmp_path):
    label = np.zeros(SHAPE, np.uint8)
    label[2:5, 2:5, 2:5] = 7
    _, bad = _two_cases(tmp_path / "data", labels=label)
    proc = run_bundle(
        ["train.json"],
        {"bundle_root": str(tmp_path / "bundle"), "dataset_dir": str(tmp_path / "data"), **TINY_TRAIN},
        expect_ok=False,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "ValueError" in out and "BraTS2021_00001" in out and bad["label"] in out
    assert not (tmp_path / "bundle" / "models").exists()
