"""Issue 14: real downloads without surprises. Each test builds a small copy of a real layout (exact file and folder
names, written with nibabel) in which the bundle used to lose data without a word or train on the wrong input.

Expected values are written by hand from the layouts (which case, which file, which channel order), never taken
from the code's own output.
"""

import json
import os
import stat

import numpy as np
import pytest
from nifti_layouts import (
    default_label,
    write_brats2021_case,
    write_brats2023_case,
    write_decathlon_datalist,
    write_kits19_case,
    write_kits23_case,
    write_nifti,
)

from scripts.data import build_datalist, check_datalist, train_val_datalists
from scripts.data.validate import main as validate_main

FLAIR_T1_T1CE_T2 = ("flair", "t1", "t1ce", "t2")


def _validate(capsys, *argv):
    code = validate_main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _suffixes(image_paths):
    return tuple(os.path.basename(p).split("_")[-1].split(".")[0] for p in image_paths)


# -- cases vanish silently ------------------------------------------------------------------------------------


@pytest.fixture
def brats_with_broken_folders(tmp_path):
    root = tmp_path / "BraTS2021_Training_Data"
    write_brats2021_case(root, "BraTS2021_00000")
    write_brats2021_case(root, "BraTS2021_00001")
    (root / "BraTS2021_00002").mkdir()  # empty: a failed extraction
    write_brats2021_case(root / "BraTS2021_00495", "BraTS2021_00495")  # double-nested
    os.symlink(tmp_path / "elsewhere" / "BraTS2021_00777", root / "BraTS2021_00777")  # broken folder link
    seg = root / "BraTS2021_00001" / "BraTS2021_00001_seg.nii.gz"
    os.remove(seg)
    os.symlink(tmp_path / "gone_seg.nii.gz", seg)  # broken label link
    return root


def test_empty_and_broken_folders_are_errors_naming_them(brats_with_broken_folders):
    root = brats_with_broken_folders
    with pytest.raises(ValueError) as e:
        build_datalist(str(root))
    message = str(e.value)
    assert f"case 'BraTS2021_00002': folder {root / 'BraTS2021_00002'} is empty" in message
    assert f"case 'BraTS2021_00777': {root / 'BraTS2021_00777'} is a broken symbolic link" in message
    assert f"{root / 'BraTS2021_00001' / 'BraTS2021_00001_seg.nii.gz'} is a broken symbolic link" in message


def test_nested_case_folder_is_found(brats_with_broken_folders):
    root = brats_with_broken_folders
    with pytest.warns(UserWarning, match="BraTS2021_00002"):
        entries = build_datalist(str(root), allow_missing=True, skip_bad=True)
    nested = [e for e in entries if e["case"] == "BraTS2021_00495"]
    assert nested and nested[0]["label"] == str(
        root / "BraTS2021_00495" / "BraTS2021_00495" / "BraTS2021_00495_seg.nii.gz"
    )


def test_validate_cli_lists_every_lost_folder_and_exits_1(brats_with_broken_folders, capsys):
    root = brats_with_broken_folders
    code, out, err = _validate(capsys, root)
    assert code == 1 and "all cases passed" not in out
    assert "BraTS2021_00002" in out and "BraTS2021_00777" in out
    assert "BraTS2021_00001_seg.nii.gz: broken symbolic link" in out  # the label link, not an unlabelled case
    assert "Traceback" not in out + err


def test_skip_bad_warns_naming_lost_folders_and_broken_label(brats_with_broken_folders):
    root = brats_with_broken_folders
    with pytest.warns(UserWarning) as record:
        split = train_val_datalists(str(root), check=True, skip_bad=True, val_fraction=0.4)
    warned = " ".join(str(w.message) for w in record)
    assert "BraTS2021_00002" in warned and "BraTS2021_00777" in warned and "BraTS2021_00001" in warned
    kept = sorted(e["case"] for e in split["training"] + split["validation"])
    assert kept == ["BraTS2021_00000", "BraTS2021_00495"]


def test_unreadable_case_folder_names_case_and_path(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    write_brats2021_case(root, "BraTS2021_00000")
    locked = write_brats2021_case(root, "BraTS2021_00001")["dir"]
    listdir = os.listdir

    def refuse(path="."):  # mode 000 is readable by root, so refuse as the kernel would for another user
        if os.path.abspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", refuse)
    with pytest.raises(ValueError, match=rf"case 'BraTS2021_00001': folder {locked} cannot be read \(PermissionError"):
        build_datalist(str(root))
    code, out, err = _validate(capsys, root)
    assert code == 1 and "BraTS2021_00001" in out and "Traceback" not in out + err


# -- duplicate files -------------------------------------------------------------------------------------------


def test_duplicate_label_files_name_both(tmp_path):
    case = write_brats2021_case(tmp_path, "BraTS2021_00000")
    other = write_nifti(case["label"][: -len(".gz")], default_label((8, 8, 6)))  # X_seg.nii next to X_seg.nii.gz
    with pytest.raises(ValueError) as e:
        build_datalist(str(tmp_path))
    assert case["label"] in str(e.value) and other in str(e.value) and "two files for one role" in str(e.value)


def test_duplicate_kits_imaging_names_both(tmp_path):
    case = write_kits19_case(tmp_path, "case_00000")
    other = write_nifti(case["image"][: -len(".gz")], np.ones((6, 8, 8), np.int16))
    with pytest.raises(ValueError) as e:
        build_datalist(str(tmp_path))
    assert case["image"] in str(e.value) and other in str(e.value)


# -- channels by modality ----------------------------------------------------------------------------------------


def _datalist_in_order(root, order, section="training", name="datalist.json", **extra):
    case = write_brats2021_case(root, "BraTS2021_01146")
    by_mod = dict(zip(FLAIR_T1_T1CE_T2, case["image"]))
    item = {"fold": 0, "image": [os.path.relpath(by_mod[m], root) for m in order]}
    if section == "training":
        item["label"] = os.path.relpath(case["label"], root)
    content = {section: [item], **extra}
    path = os.path.join(root, name)
    with open(path, "w") as f:
        json.dump(content, f)
    return path, case


@pytest.mark.parametrize(
    "order",
    [("flair", "t1ce", "t1", "t2"), ("t1ce", "t1", "t2", "flair")],
    ids=["brats21_folds.json", "model_zoo_datalist"],
)
def test_datalist_file_channels_follow_modality_not_position(tmp_path, order):
    path, case = _datalist_in_order(tmp_path, order)
    (entry,) = build_datalist(str(tmp_path), path)
    assert _suffixes(entry["image"]) == FLAIR_T1_T1CE_T2
    assert entry["image"] == case["image"]


def test_modality_keyed_image(tmp_path):
    case = write_brats2023_case(tmp_path, "BraTS-GLI-00000-000")
    t2f, t1n, t1c, t2w = case["image"]
    item = {"image": {"T2": t2w, "t1ce": t1c, "FLAIR": t2f, "t1": t1n}, "label": case["label"]}
    path = write_decathlon_datalist(os.path.join(tmp_path, "d.json"), training=[item])
    (entry,) = build_datalist(str(tmp_path), path)
    assert entry["image"] == [t2f, t1n, t1c, t2w] and entry["convention"] == "brats2023"


def test_unidentifiable_modality_names_the_entry(tmp_path):
    case = write_brats2021_case(tmp_path, "BraTS2021_00000")
    renamed = [p.replace("_t1ce", "_post") for p in case["image"]]
    os.rename(case["image"][2], renamed[2])
    path = write_decathlon_datalist(
        os.path.join(tmp_path, "d.json"), training=[{"image": renamed, "label": case["label"]}], convention="brats2021"
    )
    with pytest.raises(ValueError, match=r"training\[0\]: cannot tell the modality of image file .*_post\.nii\.gz"):
        build_datalist(str(tmp_path), path)


def test_zoo_testing_section_is_used_for_inference(tmp_path):
    path, case = _datalist_in_order(tmp_path, ("t1ce", "t1", "t2", "flair"), section="testing")
    entries = build_datalist(str(tmp_path), path, require_label=False)
    assert [e["case"] for e in entries] == ["BraTS2021_01146"] and entries[0]["image"] == case["image"]


# -- layouts ----------------------------------------------------------------------------------------------------


def _gli2024_label(shape=(8, 8, 6)):
    label = default_label(shape, (2, 1, 3))
    label[0, 0, :2] = 4  # resection cavity
    return label


def test_brats2024_gli_download_is_its_own_convention(tmp_path):
    root = tmp_path / "BraTS2024-BraTS-GLI-TrainingData"
    write_brats2023_case(root, "BraTS-GLI-02000-100", labels=_gli2024_label())
    write_brats2023_case(root, "BraTS-GLI-02001-100")
    entries = build_datalist(str(root))
    assert {e["convention"] for e in entries} == {"brats2024_gli"}
    assert check_datalist(entries) == entries  # the cavity is a class, not a bad value


def test_brats2024_ped_cases_use_the_paediatric_labels(tmp_path):
    root = tmp_path / "BraTS2024-PED-Challenge-TrainingData"
    write_brats2023_case(root, "BraTS-PED-00001-000", labels=default_label((8, 8, 6), (4, 2, 1)))
    (entry,) = build_datalist(str(root))
    assert entry["convention"] == "brats2024_ped" and check_datalist([entry]) == [entry]


def test_cavity_in_a_2023_folder_is_not_skipped_quietly(tmp_path):
    root = tmp_path / "some_copy"
    write_brats2023_case(root, "BraTS-GLI-02000-100", labels=_gli2024_label())
    write_brats2023_case(root, "BraTS-GLI-02001-100")
    write_brats2023_case(root, "BraTS-GLI-02002-100")
    with pytest.raises(ValueError) as e:
        train_val_datalists(str(root), check=True, skip_bad=True)
    assert "4 is the resection cavity of BraTS 2024 glioma; pass label_convention=brats2024_gli" in str(e.value)
    split = train_val_datalists(str(root), check=True, label_convention="brats2024_gli", val_fraction=0.4)
    assert len(split["training"]) + len(split["validation"]) == 3


def test_kits23_without_dataset_folder_is_recognised_by_its_labels(tmp_path):
    write_kits23_case(tmp_path, "case_00000", folder="")  # no dataset/, no kits23.json
    write_kits19_case(tmp_path, "case_00001", folder="")
    for path in (tmp_path / "case_00000" / "instances",):
        os.rmdir(path)  # no instances/ either
    entries = build_datalist(str(tmp_path))
    assert {e["convention"] for e in entries} == {"kits23"}
    assert check_datalist(entries) == entries


def test_label_convention_overrides_detection_for_any_layout(tmp_path):
    write_kits19_case(tmp_path, "case_00000")
    (tmp_path / "starter_code").mkdir()  # a KiTS19 clone
    (entry,) = build_datalist(str(tmp_path), label_convention="kits23")
    assert entry["convention"] == "kits23"
    with pytest.raises(ValueError, match="unknown label convention 'kits99'"):
        build_datalist(str(tmp_path), label_convention="kits99")


def test_kits21_clone_root_is_recognised(tmp_path):
    clone = tmp_path / "kits21"
    case = write_kits23_case(clone / "kits21", "case_00000", kits21=True)  # kits21/kits21/data/case_00000/
    (entry,) = build_datalist(str(clone))
    assert entry["label"] == case["label"] and entry["convention"] == "kits23"


def test_kits19_clone_without_imaging_names_the_download_step(tmp_path):
    clone = tmp_path / "kits19"
    case = write_kits19_case(clone, "case_00000")
    os.remove(case["image"])
    (clone / "starter_code").mkdir()
    with pytest.raises(ValueError) as e:
        build_datalist(str(clone))
    assert "no imaging.nii.gz" in str(e.value) and f"python -m starter_code.get_imaging` in {clone}" in str(e.value)


# -- CLI manners and file modes ----------------------------------------------------------------------------------


def test_validate_cli_accepts_a_folder_named_2021(tmp_path, capsys, monkeypatch):
    write_brats2021_case(tmp_path / "2021", "BraTS2021_00000")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _validate(capsys, "2021")
    assert code == 0 and out.startswith("2021: 1 case(s) (1 labelled)") and "all cases passed" in out


def test_validate_cli_layout_error_without_traceback(tmp_path, capsys):
    (tmp_path / "nothing_here").mkdir()
    code, out, err = _validate(capsys, tmp_path / "nothing_here")
    assert code == 1 and err.startswith("error: no recognisable cases") and "Traceback" not in out + err


def test_validate_cli_help_explains_options(capsys):
    with pytest.raises(SystemExit) as e:
        validate_main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for option in ("--datalist_file", "--label_convention", "--check_labels", "--check_values", "--cache_file"):
        assert option in out


def test_split_and_check_cache_are_mode_0644(tmp_path):
    for i in range(3):
        write_kits19_case(tmp_path / "data", f"case_{i:05d}")
    split_file, cache_file = tmp_path / "eval" / "datalist_split.json", tmp_path / "eval" / "checks.json"
    old = os.umask(0o077)
    try:
        train_val_datalists(
            str(tmp_path / "data"), save_to=str(split_file), check=True, check_cache_file=str(cache_file)
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(split_file).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(cache_file).st_mode) == 0o644


def test_channel_order_is_the_one_metadata_states():
    from bundle_runs import META

    from scripts.data.modalities import CHANNELS

    channel_def = json.load(open(META))["network_data_format"]["inputs"]["image"]["channel_def"]
    assert [channel_def[str(i)] for i in range(len(channel_def))] == list(CHANNELS) == ["FLAIR", "T1", "T1ce", "T2"]
