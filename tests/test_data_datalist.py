"""build_datalist: layout detection from the folder alone, entries, conventions, datalist files, errors."""

import json
import logging
import os

import pytest
from nifti_layouts import (
    write_brats2021_case,
    write_brats2023_case,
    write_decathlon_datalist,
    write_kits19_case,
    write_kits23_case,
    write_msd_task01,
    write_nifti,
)

from scripts.data import build_datalist
from scripts.data.label_conventions import CONVENTIONS


def test_brats2021_layout(tmp_path):
    written = [write_brats2021_case(tmp_path, f"BraTS2021_{i:05d}") for i in (2, 0, 1)]
    dl = build_datalist(str(tmp_path))
    assert [e["case"] for e in dl] == ["BraTS2021_00000", "BraTS2021_00001", "BraTS2021_00002"]
    by_case = {w["case"]: w for w in written}
    for e in dl:
        assert e["convention"] == "brats2021"
        assert e["image"] == by_case[e["case"]]["image"]  # FLAIR, T1, T1ce, T2
        assert e["label"] == by_case[e["case"]]["label"]
        assert all(os.path.isabs(p) for p in [*e["image"], e["label"]])
    first = dl[0]["image"]
    assert [os.path.basename(p) for p in first] == [
        "BraTS2021_00000_flair.nii.gz",
        "BraTS2021_00000_t1.nii.gz",
        "BraTS2021_00000_t1ce.nii.gz",
        "BraTS2021_00000_t2.nii.gz",
    ]


def test_brats2020_uncompressed_and_odd_label_name(tmp_path):
    write_brats2021_case(tmp_path, "BraTS20_Training_001", ext=".nii")
    odd = write_brats2021_case(tmp_path, "BraTS20_Training_355", ext=".nii", omit=("seg",))
    odd_label = write_nifti(os.path.join(odd["dir"], "W39_1998.09.19_Segm.nii"), [[[0, 1], [2, 4]]])
    with open(os.path.join(tmp_path, "name_mapping.csv"), "w") as f:  # real BraTS 2020 ships csv files beside
        f.write("x\n")
    dl = build_datalist(str(tmp_path))
    assert [e["case"] for e in dl] == ["BraTS20_Training_001", "BraTS20_Training_355"]
    assert dl[0]["image"][0].endswith("BraTS20_Training_001_flair.nii")
    assert dl[1]["label"] == odd_label
    assert {e["convention"] for e in dl} == {"brats2021"}


def test_brats2023_layout(tmp_path):
    w = write_brats2023_case(tmp_path, "BraTS-GLI-00000-000")
    write_brats2023_case(tmp_path, "BraTS-GLI-00002-000")
    dl = build_datalist(str(tmp_path))
    assert [e["case"] for e in dl] == ["BraTS-GLI-00000-000", "BraTS-GLI-00002-000"]
    assert dl[0]["convention"] == "brats2023"
    assert [os.path.basename(p)[-10:] for p in dl[0]["image"]] == [
        "000-t2f.nii.gz"[-10:],
        "000-t1n.nii.gz"[-10:],
        "000-t1c.nii.gz"[-10:],
        "000-t2w.nii.gz"[-10:],
    ]
    assert dl[0]["image"] == w["image"] and dl[0]["label"] == w["label"]


def test_brats_require_label(tmp_path, caplog):
    write_brats2021_case(tmp_path, "BraTS2021_00000")
    write_brats2021_case(tmp_path, "BraTS2021_00001", with_label=False)
    with caplog.at_level(logging.WARNING):
        train = build_datalist(str(tmp_path))
    assert [e["case"] for e in train] == ["BraTS2021_00000"]
    assert "1 case(s) without a label left out (inference only): BraTS2021_00001" in caplog.text
    everything = build_datalist(str(tmp_path), require_label=False)
    assert [e["case"] for e in everything] == ["BraTS2021_00000", "BraTS2021_00001"]
    assert "label" not in everything[1]


def test_msd_task01(tmp_path):
    msd = write_msd_task01(tmp_path, num_train=2, num_test=1)
    dl = build_datalist(msd["dir"])
    assert [e["case"] for e in dl] == ["BRATS_001", "BRATS_002"]
    for e, (img, lab) in zip(dl, msd["training"]):
        assert e["image"] == img and e["label"] == lab and e["convention"] == "msd_task01"
        assert os.path.isabs(e["image"])
    inference = build_datalist(msd["dir"], require_label=False)
    assert [e["case"] for e in inference] == ["BRATS_001", "BRATS_002", "BRATS_003"]
    assert inference[2]["image"] == msd["test"][0] and "label" not in inference[2]


@pytest.mark.parametrize("point_at_data", [False, True])
def test_kits19_layout(tmp_path, point_at_data):
    a = write_kits19_case(tmp_path, "case_00001")
    b = write_kits19_case(tmp_path, "case_00000")
    c = write_kits19_case(tmp_path, "case_00210", with_segmentation=False)
    root = os.path.join(tmp_path, "data") if point_at_data else str(tmp_path)
    dl = build_datalist(root)
    assert [e["case"] for e in dl] == ["case_00000", "case_00001"]
    assert dl[0] == {"case": "case_00000", "image": b["image"], "label": b["label"], "convention": "kits19"}
    assert dl[1]["label"] == a["label"]
    full = build_datalist(root, require_label=False)
    assert [e["case"] for e in full] == ["case_00000", "case_00001", "case_00210"]
    assert full[2] == {"case": "case_00210", "image": c["image"], "convention": "kits19"}


def test_kits_cases_directly_in_dataset_dir(tmp_path):
    write_kits19_case(tmp_path, "case_00000", folder="")
    assert build_datalist(str(tmp_path))[0]["convention"] == "kits19"


def test_kits23_and_kits21_layouts(tmp_path):
    k23 = write_kits23_case(tmp_path / "k23", "case_00000")
    dl = build_datalist(str(tmp_path / "k23"))
    assert dl == [{"case": "case_00000", "image": k23["image"], "label": k23["label"], "convention": "kits23"}]
    k21 = write_kits23_case(tmp_path / "k21", "case_00000", kits21=True)
    dl = build_datalist(str(tmp_path / "k21"))
    assert dl[0]["convention"] == "kits23"
    assert dl[0]["label"] == k21["label"] and k21["label"].endswith("aggregated_MAJ_seg.nii.gz")


def test_decathlon_datalist_file(tmp_path):
    a = write_brats2021_case(tmp_path, "BraTS2021_00000")
    b = write_brats2021_case(tmp_path, "BraTS2021_00001")
    rel = lambda p: os.path.relpath(p, tmp_path)  # noqa: E731
    path = write_decathlon_datalist(
        os.path.join(tmp_path, "lists", "mine.json"),
        training=[{"image": [rel(p) for p in b["image"]], "label": rel(b["label"])}],
        validation=[{"image": [rel(p) for p in a["image"]], "label": rel(a["label"])}],
        test=[{"image": [rel(p) for p in a["image"]], "case": "only_images"}],
    )
    dl = build_datalist(str(tmp_path), datalist_file=path)
    assert [e["case"] for e in dl] == ["BraTS2021_00000", "BraTS2021_00001"]
    assert dl[0]["image"] == a["image"] and dl[0]["label"] == a["label"]
    assert {e["convention"] for e in dl} == {"brats2021"}  # inferred from the _flair file names
    everything = build_datalist(str(tmp_path), datalist_file=path, require_label=False)
    assert [e["case"] for e in everything] == ["BraTS2021_00000", "BraTS2021_00001", "only_images"]
    # a relative datalist_file is also looked up inside dataset_dir
    assert build_datalist(str(tmp_path), datalist_file="lists/mine.json") == dl


def test_decathlon_datalist_conventions(tmp_path):
    k = write_kits19_case(tmp_path, "case_00000")
    item = {"image": k["image"], "label": k["label"]}
    top = write_decathlon_datalist(os.path.join(tmp_path, "top.json"), training=[item], convention="kits23")
    assert build_datalist(str(tmp_path), top)[0]["convention"] == "kits23"
    per_entry = write_decathlon_datalist(
        os.path.join(tmp_path, "entry.json"), training=[{**item, "convention": "kits23"}], convention="kits19"
    )
    assert build_datalist(str(tmp_path), per_entry)[0]["convention"] == "kits23"
    inferred = write_decathlon_datalist(os.path.join(tmp_path, "inferred.json"), training=[item])
    assert build_datalist(str(tmp_path), inferred)[0] == {"case": "case_00000", **item, "convention": "kits19"}


def test_decathlon_datalist_unknown_convention(tmp_path):
    img = write_nifti(os.path.join(tmp_path, "img", "scan_07.nii.gz"), [[[1, 2], [3, 4]]])
    path = write_decathlon_datalist(os.path.join(tmp_path, "d.json"), training=[{"image": img, "label": img}])
    with pytest.raises(ValueError, match=r"scan_07.*convention"):
        build_datalist(str(tmp_path), path)
    bad = write_decathlon_datalist(os.path.join(tmp_path, "b.json"), training=[{"image": img}], convention="brats")
    with pytest.raises(ValueError, match=r"unknown label convention 'brats'"):
        build_datalist(str(tmp_path), bad)


def test_entries_carry_known_conventions(tmp_path):
    write_brats2021_case(tmp_path / "a", "BraTS2021_00000")
    write_brats2023_case(tmp_path / "b", "BraTS-GLI-00000-000")
    write_kits19_case(tmp_path / "c", "case_00000")
    for sub in "abc":
        assert build_datalist(str(tmp_path / sub))[0]["convention"] in CONVENTIONS


# ---- errors ----------------------------------------------------------------------------------------------------


def test_missing_dataset_dir_names_path(tmp_path):
    missing = os.path.join(tmp_path, "no_such_folder")
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        build_datalist(missing)


def test_dataset_dir_is_a_file(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match=r"file\.txt is not a folder"):
        build_datalist(str(f))


def test_no_recognisable_cases_lists_what_was_looked_for(tmp_path):
    (tmp_path / "random_folder").mkdir()
    write_nifti(os.path.join(tmp_path, "random_folder", "scan.nii.gz"), [[[1, 2], [3, 4]]])
    with pytest.raises(ValueError) as e:
        build_datalist(str(tmp_path))
    message = str(e.value)
    assert str(tmp_path) in message
    for looked_for in ("dataset.json", "imaging.nii.gz", "_flair", "-t2f", "datalist_file"):
        assert looked_for in message


def test_no_cases_hints_at_subfolder(tmp_path):
    write_brats2021_case(tmp_path / "MICCAI_BraTS2020_TrainingData", "BraTS20_Training_001")
    with pytest.raises(ValueError, match="MICCAI_BraTS2020_TrainingData"):
        build_datalist(str(tmp_path))


@pytest.mark.parametrize(
    "writer, case, omit, missing_file",
    [
        (write_brats2021_case, "BraTS2021_00007", "t1ce", "BraTS2021_00007_t1ce.nii.gz"),
        (write_brats2023_case, "BraTS-GLI-00007-000", "t2f", "BraTS-GLI-00007-000-t2f.nii.gz"),
    ],
)
def test_missing_modality_names_case_and_file(tmp_path, writer, case, omit, missing_file):
    writer(tmp_path, case.replace("7", "1"))
    writer(tmp_path, case, omit=(omit,))
    with pytest.raises(ValueError) as e:
        build_datalist(str(tmp_path))
    assert case in str(e.value) and missing_file in str(e.value)
    assert case.replace("7", "1") + "'" not in str(e.value)  # the good case is not reported
    kept = build_datalist(str(tmp_path), allow_missing=True)
    bad = next(x for x in kept if x["case"] == case)
    assert any(p.endswith(missing_file) and not os.path.exists(p) for p in bad["image"])


def test_every_incomplete_case_is_listed(tmp_path):
    write_brats2021_case(tmp_path, "BraTS2021_00001", omit=("flair",))
    write_brats2021_case(tmp_path, "BraTS2021_00002", omit=("t2",))
    with pytest.raises(ValueError) as e:
        build_datalist(str(tmp_path))
    assert "BraTS2021_00001_flair.nii.gz" in str(e.value) and "BraTS2021_00002_t2.nii.gz" in str(e.value)


def test_kits_case_missing_imaging(tmp_path):
    write_kits19_case(tmp_path, "case_00000")
    (tmp_path / "data" / "case_00001").mkdir()
    write_nifti(os.path.join(tmp_path, "data", "case_00001", "segmentation.nii.gz"), [[[0, 1], [2, 0]]])
    with pytest.raises(ValueError, match=r"case_00001.*imaging\.nii\.gz"):
        build_datalist(str(tmp_path))


def test_no_labelled_case(tmp_path):
    write_kits19_case(tmp_path, "case_00210", with_segmentation=False)
    with pytest.raises(ValueError, match=r"none of the 1 case\(s\) has a label.*case_00210"):
        build_datalist(str(tmp_path))


def test_duplicate_case_ids(tmp_path):
    k = write_kits19_case(tmp_path, "case_00000")
    item = {"image": k["image"], "label": k["label"], "case": "same"}
    path = write_decathlon_datalist(os.path.join(tmp_path, "d.json"), training=[item], validation=[item])
    with pytest.raises(ValueError, match=r"more than once.*same"):
        build_datalist(str(tmp_path), path)


def test_datalist_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        build_datalist(str(tmp_path), "nope.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json is not valid JSON"):
        build_datalist(str(tmp_path), str(tmp_path / "broken.json"))
    (tmp_path / "empty.json").write_text(json.dumps({"training": []}))
    with pytest.raises(ValueError, match=r"empty\.json has no non-empty"):
        build_datalist(str(tmp_path), str(tmp_path / "empty.json"))
    (tmp_path / "three.json").write_text(json.dumps({"training": [{"image": ["a", "b", "c"], "label": "l"}]}))
    with pytest.raises(ValueError, match=r"three\.json, training\[0\].*4 modalities"):
        build_datalist(str(tmp_path), str(tmp_path / "three.json"))


def test_datalist_file_training_entry_without_label(tmp_path):
    k = write_kits19_case(tmp_path, "case_00000")
    path = write_decathlon_datalist(os.path.join(tmp_path, "d.json"), training=[{"image": k["image"]}])
    with pytest.raises(ValueError, match=r"training\[0\] \(case 'case_00000'\) has no 'label'"):
        build_datalist(str(tmp_path), path)
