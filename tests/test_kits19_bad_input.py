"""Bad KiTS input stops the KiTS19 overlay before training, with an error naming the case (and the file).

Each test writes a tiny KiTS19 (or KiTS23) layout with nibabel and builds the merged train + kits19 workflow as
``python -m monai.bundle run`` does; the error must come before any checkpoint, log or report is written.
"""

import nibabel as nib
import numpy as np
import pytest
from bundle_runs import bundle_workflow, run_workflow
from nifti_layouts import KITS_AFFINE, default_label, write_decathlon_datalist, write_kits19_case, write_kits23_case
from test_kits19_config import TINY_TRAIN

SHAPE = (8, 16, 16)


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__
    return exc


def _workflow(tmp_path, dataset_dir, **overrides):
    return bundle_workflow(
        ("train.json", "kits19_common.json", "kits19.json"),
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=str(dataset_dir),
        spacing=[3.0, 0.8, 0.8],
        **{**TINY_TRAIN, **overrides},
    )


def _error(tmp_path, dataset_dir, **overrides) -> str:
    workflow = _workflow(tmp_path, dataset_dir, **overrides)
    with pytest.raises(Exception) as info:
        run_workflow(workflow)
    written = [p for p in (tmp_path / "bundle").rglob("*") if p.is_file()] if (tmp_path / "bundle").exists() else []
    assert written == [], f"files written before the error: {written}"
    cause = _root_cause(info.value)
    assert isinstance(cause, ValueError), repr(cause)
    return str(cause)


def test_no_case_has_a_segmentation(tmp_path):
    for i in range(2):
        write_kits19_case(tmp_path, f"case_0000{i}", shape=SHAPE, with_segmentation=False)
    message = _error(tmp_path, tmp_path)
    assert "none of the 2 case(s) has a label" in message and "case_00000" in message


def test_datalist_file_training_entry_without_segmentation(tmp_path):
    good = write_kits19_case(tmp_path, "case_00000", shape=SHAPE)
    bad = write_kits19_case(tmp_path, "case_00001", shape=SHAPE, with_segmentation=False)
    datalist = write_decathlon_datalist(
        tmp_path / "datalist.json",
        training=[
            {"image": good["image"], "label": good["label"]},
            {"image": bad["image"]},
        ],
        convention="kits19",
    )
    message = _error(tmp_path, tmp_path, datalist_file=datalist)
    assert "case_00001" in message or bad["image"] in message
    assert "label" in message


def test_cases_without_segmentation_are_left_out_of_training_with_a_warning(tmp_path, capsys):
    for i in range(3):
        write_kits19_case(tmp_path, f"case_0000{i}", shape=SHAPE)
    write_kits19_case(tmp_path, "case_00003", shape=SHAPE, with_segmentation=False)
    workflow = _workflow(tmp_path, tmp_path)
    datalists = workflow.parser.get_parsed_content("datalists")
    cases = sorted(e["case"] for e in datalists["training"] + datalists["validation"])
    assert cases == ["case_00000", "case_00001", "case_00002"]
    warning = [line for line in capsys.readouterr().out.splitlines() if "WARNING" in line and "case_00003" in line]
    assert warning and "without a label" in warning[0]  # logged through configs/logging.conf (stdout)


def test_label_value_outside_kits19(tmp_path):
    write_kits19_case(tmp_path, "case_00000", shape=SHAPE)
    label = default_label(SHAPE, (1, 2))
    label[0, 0, 0] = 3  # a KiTS21/23 cyst value in KiTS19 data
    bad = write_kits19_case(tmp_path, "case_00001", shape=SHAPE, labels=label)
    (tmp_path / "starter_code").mkdir()  # the neheller/kits19 clone: KiTS19 by its layout
    message = _error(tmp_path, tmp_path)
    assert "case_00001" in message and bad["label"] in message
    assert "[3]" in message and "kits19" in message


def test_label_value_outside_kits23(tmp_path):
    write_kits23_case(tmp_path, "case_00000", shape=SHAPE)
    label = default_label(SHAPE, (1, 2))
    label[0, 0, 0] = 4
    bad = write_kits23_case(tmp_path, "case_00001", shape=SHAPE, labels=label)
    message = _error(tmp_path, tmp_path)
    assert "case_00001" in message and bad["label"] in message
    assert "[4]" in message and "kits23" in message


@pytest.mark.parametrize("cyst_as", [1, 2])
def test_kits23_cyst_is_mapped_to_the_documented_class(tmp_path, cyst_as):
    label = default_label(SHAPE, (1, 2))
    label[0, 0, 0] = 3  # one cyst voxel in the background corner
    case = write_kits23_case(tmp_path, "case_00000", shape=SHAPE, labels=label)
    parser = _workflow(tmp_path, tmp_path, cyst_as=cyst_as).parser
    d = {"case": "case_00000", "convention": "kits23", "image": case["image"], "label": case["label"]}
    for t in parser.get_parsed_content("train#deterministic_transforms"):
        d = t(d)
    expected = label.copy()
    expected[0, 0, 0] = cyst_as
    np.testing.assert_array_equal(d["label"][0].numpy(), expected)


def test_segmentation_shape_differs_from_the_image(tmp_path):
    write_kits19_case(tmp_path, "case_00000", shape=SHAPE)
    bad = write_kits19_case(tmp_path, "case_00001", shape=SHAPE)
    nib.save(nib.Nifti1Image(default_label((8, 16, 12), (1, 2)), KITS_AFFINE), bad["label"])
    message = _error(tmp_path, tmp_path)
    assert "case_00001" in message and bad["label"] in message and "shape" in message


def test_segmentation_affine_differs_from_the_image(tmp_path):
    write_kits19_case(tmp_path, "case_00000", shape=SHAPE)
    # the segmentation stored with a diagonal (RAS) affine while the image has the KiTS19 permuted one
    bad = write_kits19_case(tmp_path, "case_00001", shape=SHAPE)
    nib.save(nib.Nifti1Image(default_label(SHAPE, (1, 2)), np.diag([3.0, 0.8, 0.8, 1.0])), bad["label"])
    message = _error(tmp_path, tmp_path)
    assert "case_00001" in message and bad["label"] in message and "affine" in message
