"""check_datalist: each fault injected into tiny cases is reported with its case and file; skip_bad mode; CLI."""

import gzip
import json
import logging
import os

import nibabel as nib
import numpy as np
import pytest
from nifti_layouts import (
    BRATS_AFFINE,
    KITS_AFFINE,
    write_brats2021_case,
    write_kits19_case,
    write_msd_task01,
    write_nifti,
)
from subprocesses import run_python

from scripts.data import build_datalist, check_datalist
from scripts.data.validate import find_problems

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def brats(tmp_path, n=3):
    for i in range(n):
        write_brats2021_case(tmp_path, f"BraTS2021_{i:05d}")
    return build_datalist(str(tmp_path))


def only_error(datalist, **kwargs):
    with pytest.raises(ValueError) as e:
        check_datalist(datalist, **kwargs)
    return str(e.value)


def test_good_data_passes(tmp_path):
    dl = brats(tmp_path / "b")
    assert check_datalist(dl) == dl
    kits = [write_kits19_case(tmp_path / "k", f"case_{i:05d}") for i in range(2)]
    kdl = build_datalist(str(tmp_path / "k"))
    assert check_datalist(kdl) == kdl and len(kits) == 2
    msd = build_datalist(write_msd_task01(tmp_path / "m")["dir"], require_label=False)
    assert check_datalist(msd) == msd


def test_missing_file(tmp_path):
    dl = brats(tmp_path)
    os.remove(dl[1]["label"])
    message = only_error(dl)
    assert "BraTS2021_00001" in message and f"{dl[1]['label']}: missing file" in message
    assert "BraTS2021_00000'" not in message


def test_missing_modality_kept_by_allow_missing_is_reported(tmp_path):
    write_brats2021_case(tmp_path, "BraTS2021_00000")
    write_brats2021_case(tmp_path, "BraTS2021_00001", omit=("t2",))
    dl = build_datalist(str(tmp_path), allow_missing=True)
    message = only_error(dl)
    assert "BraTS2021_00001_t2.nii.gz: missing file" in message


def test_shape_mismatch(tmp_path):
    dl = brats(tmp_path)
    write_nifti(dl[0]["image"][1], np.ones((8, 8, 5), np.int16) * np.arange(5), BRATS_AFFINE)
    message = only_error(dl)
    assert f"{dl[0]['image'][1]}: spatial shape (8, 8, 5) differs from {dl[0]['image'][0]} (8, 8, 6)" in message


def test_affine_mismatch(tmp_path):
    w = [write_kits19_case(tmp_path, f"case_{i:05d}") for i in range(2)]
    seg = np.asanyarray(nib.load(w[1]["label"]).dataobj)
    shifted = KITS_AFFINE.copy()
    shifted[0, 3] = 5.0
    write_nifti(w[1]["label"], seg, shifted)
    message = only_error(build_datalist(str(tmp_path)))
    assert "case_00001" in message and f"{w[1]['label']}: affine differs from {w[1]['image']}" in message


def test_label_value_outside_convention(tmp_path):
    dl = brats(tmp_path)
    label = np.zeros((8, 8, 6), np.uint8)
    label[1, 1, 1] = 3  # BraTS 2023's ET value in a BraTS 2021 case
    label[2, 2, 2] = 4
    write_nifti(dl[2]["label"], label, BRATS_AFFINE)
    message = only_error(dl)
    assert f"{dl[2]['label']}: label values [3] outside the brats2021 convention {{0, 1, 2, 4}}" in message


def test_kits19_label_value_3(tmp_path):
    """In a KiTS19 clone (``starter_code/`` beside ``data/``) a 3 is not a class: the error says it is KiTS21/23's
    cyst and which convention to pass, and skip_bad does not quietly drop such cases (a biased rest)."""
    labels = np.zeros((6, 8, 8), np.uint8)
    labels[1, 1, 1] = 3
    w = write_kits19_case(tmp_path, "case_00000", labels=labels)
    write_kits19_case(tmp_path, "case_00001")
    os.makedirs(tmp_path / "starter_code")
    datalist = build_datalist(str(tmp_path))
    message = only_error(datalist)
    assert f"{w['label']}: label values [3] outside the kits19 convention" in message
    assert "3 is the cyst of KiTS21/23; pass label_convention=kits23" in message
    assert "biased rest" in only_error(datalist, skip_bad=True)


def test_unreadable_garbage_file(tmp_path):
    dl = brats(tmp_path)
    with open(dl[0]["image"][2], "wb") as f:
        f.write(gzip.compress(b"this is not a nifti file at all" * 20))
    message = only_error(dl)
    assert f"{dl[0]['image'][2]}: unreadable NIfTI" in message


def test_truncated_gz_file(tmp_path):
    write_brats2021_case(tmp_path, "BraTS2021_00000", shape=(16, 16, 12))
    dl = build_datalist(str(tmp_path))
    path = dl[0]["image"][0]
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    message = only_error(dl)
    assert f"{path}: unreadable NIfTI" in message


def test_truncated_uncompressed_file(tmp_path):
    write_brats2021_case(tmp_path, "BraTS20_Training_001", ext=".nii")
    dl = build_datalist(str(tmp_path))
    path = dl[0]["label"]
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:-40])
    assert f"{path}: unreadable NIfTI" in only_error(dl)


def test_non_finite_intensities(tmp_path):
    dl = brats(tmp_path)
    img = np.random.default_rng(0).random((8, 8, 6)).astype(np.float32)
    img[0, 0, 0] = np.nan
    img[1, 0, 0] = np.inf
    write_nifti(dl[1]["image"][3], img, BRATS_AFFINE)
    assert f"{dl[1]['image'][3]}: 2 non-finite intensities (NaN or inf)" in only_error(dl)


def test_empty_image(tmp_path):
    dl = brats(tmp_path)
    write_nifti(dl[0]["image"][0], np.zeros((8, 8, 6), np.int16), BRATS_AFFINE)
    assert f"{dl[0]['image'][0]}: empty image (every voxel equals 0)" in only_error(dl)


def test_msd_empty_channel_and_3d_image(tmp_path):
    msd = write_msd_task01(tmp_path, num_train=2, num_test=0)
    (img1, _), (img2, _) = msd["training"]
    data = np.asanyarray(nib.load(img1).dataobj).copy()
    data[..., 2] = 7.0
    write_nifti(img1, data, np.eye(4))
    write_nifti(img2, data[..., 0], np.eye(4))
    message = only_error(build_datalist(msd["dir"]))
    assert f"{img1} (channel 2): empty image (every voxel equals 7.0)" in message
    assert f"{img2}: MSD Task01 images are 4-D with 4 channels last" in message


def test_every_bad_case_is_listed(tmp_path):
    dl = brats(tmp_path, n=4)
    os.remove(dl[0]["image"][0])
    write_nifti(dl[2]["image"][0], np.zeros((8, 8, 6), np.int16), BRATS_AFFINE)
    write_nifti(dl[3]["label"], np.full((8, 8, 6), 9, np.uint8), BRATS_AFFINE)
    message = only_error(dl)
    assert "3 of 4 case(s) have problems" in message
    for case in ("BraTS2021_00000", "BraTS2021_00002", "BraTS2021_00003"):
        assert f"case '{case}'" in message
    assert "case 'BraTS2021_00001'" not in message


def test_skip_bad_warns_and_returns_the_rest(tmp_path, caplog):
    dl = brats(tmp_path, n=3)
    os.remove(dl[1]["image"][2])
    with caplog.at_level(logging.WARNING), pytest.warns(UserWarning, match=r"skipping 1 bad case.*BraTS2021_00001"):
        good = check_datalist(dl, skip_bad=True)
    assert [e["case"] for e in good] == ["BraTS2021_00000", "BraTS2021_00002"]
    assert dl[1]["image"][2] in caplog.text


def test_skip_bad_with_nothing_left(tmp_path):
    dl = brats(tmp_path, n=1)
    os.remove(dl[0]["label"])
    with pytest.raises(ValueError, match="every case"):
        check_datalist(dl, skip_bad=True)


def test_check_labels_and_check_values_switches(tmp_path):
    dl = brats(tmp_path, n=1)
    write_nifti(dl[0]["label"], np.full((8, 8, 6), 9, np.uint8), BRATS_AFFINE)
    assert check_datalist(dl, check_labels=False) == dl
    assert check_datalist(dl, check_values=False) == dl  # headers agree; values are not read
    write_nifti(dl[0]["label"], np.zeros((8, 8, 7), np.uint8), BRATS_AFFINE)
    assert "spatial shape (8, 8, 7)" in only_error(dl, check_values=False)


def test_entry_without_convention_or_image():
    problems = find_problems([{"case": "a", "image": "/nope/x.nii.gz", "label": "/nope/y.nii.gz"}, {"case": "b"}])
    assert any("unknown label convention None" in p for p in problems["a"])
    assert any("missing file" in p for p in problems["a"])
    assert problems["b"] == ["entry without an 'image' key: {'case': 'b'}"]


def run_cli(*args):
    return run_python(["-m", "scripts.data.validate", *args], timeout=120)


def test_cli_report(tmp_path):
    dl = brats(tmp_path, n=2)
    ok = run_cli(str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert "2 case(s) (2 labelled)" in ok.stdout and "all cases passed" in ok.stdout
    os.remove(dl[1]["image"][1])
    bad = run_cli(str(tmp_path))
    assert bad.returncode == 1
    assert "case 'BraTS2021_00001'" in bad.stdout and f"{dl[1]['image'][1]}: missing file" in bad.stdout


def test_cache_skips_unchanged_files_and_rereads_changed_ones(tmp_path):
    for i in range(2):  # uncompressed files: a rewrite with other values keeps the byte size
        write_brats2021_case(tmp_path / "d", f"BraTS20_Training_{i:03d}", ext=".nii")
    dl = build_datalist(str(tmp_path / "d"))
    cache = os.path.join(tmp_path, "run", "data_check_cache.json")
    assert check_datalist(dl, cache_file=cache) == dl
    with open(cache) as f:
        remembered = json.load(f)["files"]
    assert sorted(remembered) == sorted(p for e in dl for p in [*e["image"], e["label"]])
    # Same size and modification time: the cache vouches for the file and its values are not read again ...
    path = dl[0]["label"]
    st = os.stat(path)
    write_nifti(path, np.full((8, 8, 6), 9, np.uint8), BRATS_AFFINE)
    assert os.stat(path).st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert check_datalist(dl, cache_file=cache) == dl
    # ... a new modification time makes it read again
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert f"{path}: label values [9]" in only_error(dl, cache_file=cache)
    # headers are always checked, cache or not
    write_nifti(dl[1]["image"][1], np.ones((8, 8, 5), np.int16) * np.arange(5), BRATS_AFFINE)
    assert f"{dl[1]['image'][1]}: spatial shape (8, 8, 5)" in only_error(dl, cache_file=cache)


def test_cache_convention_is_part_of_the_key(tmp_path):
    dl = brats(tmp_path / "d", n=1)
    cache = os.path.join(tmp_path, "cache.json")
    check_datalist(dl, cache_file=cache)
    as_2023 = [{**dl[0], "convention": "brats2023"}]  # label value 4 is not a brats2023 value
    assert "label values [4] outside the brats2023" in only_error(as_2023, cache_file=cache)


def test_unreadable_cache_is_ignored(tmp_path, caplog):
    dl = brats(tmp_path / "d", n=1)
    cache = tmp_path / "cache.json"
    cache.write_text("{broken")
    with caplog.at_level(logging.WARNING):
        assert check_datalist(dl, cache_file=str(cache)) == dl
    assert "ignoring unreadable data check cache" in caplog.text
    assert json.loads(cache.read_text())["version"] == 1
