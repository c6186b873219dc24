"""Class-frequency report against voxel counts chosen by hand."""

import csv
import os

import numpy as np
import pytest
from nifti_layouts import write_brats2021_case, write_kits19_case
from subprocesses import run_python

from scripts.data import build_datalist
from scripts.data.class_frequency import class_frequency, inverse_frequency_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kits_label(kidney, tumour, shape=(4, 5, 5)):
    """A 100-voxel label with the given numbers of kidney and tumour voxels."""
    flat = np.zeros(int(np.prod(shape)), np.uint8)
    flat[:kidney] = 1
    flat[kidney : kidney + tumour] = 2
    return flat.reshape(shape)


@pytest.fixture
def kits_dir(tmp_path):
    write_kits19_case(tmp_path, "case_00000", shape=(4, 5, 5), labels=kits_label(10, 5))
    write_kits19_case(tmp_path, "case_00001", shape=(4, 5, 5), labels=kits_label(20, 0))
    write_kits19_case(tmp_path, "case_00210", shape=(4, 5, 5), with_segmentation=False)
    return str(tmp_path)


def test_fractions_by_hand(kits_dir):
    rows = class_frequency(build_datalist(kits_dir, require_label=False))
    by_case = {r["case"]: r for r in rows}
    assert [r["case"] for r in rows] == ["case_00000", "case_00001", "ALL", "MEAN"]  # unlabelled case skipped
    a = by_case["case_00000"]
    assert a["voxels"] == 100
    assert a["background"] == pytest.approx(0.85) and a["kidney"] == pytest.approx(0.10)
    assert a["tumour"] == pytest.approx(0.05)
    assert a["region:kidney_and_tumour"] == pytest.approx(0.15) and a["region:tumour"] == pytest.approx(0.05)
    pooled = by_case["ALL"]
    assert pooled["voxels"] == 200
    assert pooled["background"] == pytest.approx(165 / 200) and pooled["kidney"] == pytest.approx(30 / 200)
    assert pooled["tumour"] == pytest.approx(5 / 200)
    mean = by_case["MEAN"]
    assert mean["kidney"] == pytest.approx((0.10 + 0.20) / 2) and mean["tumour"] == pytest.approx(0.025)


def test_inverse_frequency_weights_by_hand(kits_dir):
    pooled = next(r for r in class_frequency(build_datalist(kits_dir)) if r["case"] == "ALL")
    inv = np.array([200 / 165, 200 / 30, 200 / 5])
    expected = inv / inv.sum()
    weights = inverse_frequency_weights(pooled)
    assert list(weights) == ["background", "kidney", "tumour"]
    np.testing.assert_allclose(list(weights.values()), expected)


def test_mixed_conventions_get_their_own_summaries(tmp_path):
    label = np.zeros((8, 8, 6), np.uint8)
    label[0, 0, :4] = 4
    label[1, 0, :2] = 1
    write_brats2021_case(tmp_path / "b", "BraTS2021_00000", labels=label)
    k = write_kits19_case(tmp_path / "k", "case_00000", shape=(4, 5, 5), labels=kits_label(10, 5))
    datalist = build_datalist(str(tmp_path / "b")) + [{"case": "case_00000", **k, "convention": "kits19"}]
    rows = class_frequency(datalist)
    summaries = [(r["case"], r["convention"]) for r in rows if r["case"] in ("ALL", "MEAN")]
    assert summaries == [("ALL", "brats2021"), ("MEAN", "brats2021"), ("ALL", "kits19"), ("MEAN", "kits19")]
    brats = rows[0]
    assert brats["ET"] == pytest.approx(4 / 384) and brats["NCR/NET"] == pytest.approx(2 / 384)
    assert brats["region:TC"] == pytest.approx(6 / 384) and brats["region:WT"] == pytest.approx(6 / 384)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="needs labelled cases"):
        class_frequency([{"case": "a", "image": "x"}])
    with pytest.raises(FileNotFoundError, match=r"case 'a'.*nowhere\.nii\.gz"):
        class_frequency([{"case": "a", "image": "x", "label": "/nowhere.nii.gz", "convention": "kits19"}])
    w = write_kits19_case(tmp_path, "case_00000", labels=np.full((6, 8, 8), 3, np.uint8))
    with pytest.raises(ValueError, match=r"case_00000.*\[3\] outside the kits19"):
        class_frequency([{**w, "convention": "kits19"}])


def test_cli_table_and_csv(kits_dir, tmp_path):
    out_csv = os.path.join(tmp_path, "freq.csv")
    run = run_python(["-m", "scripts.data.class_frequency", kits_dir, "--csv", out_csv], timeout=120)
    assert run.returncode == 0, run.stderr
    assert "case_00000" in run.stdout and "ALL" in run.stdout and "inverse-frequency class weights" in run.stdout
    assert "5.0000%" in run.stdout  # tumour fraction of case_00000
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    assert [r["case"] for r in rows] == ["case_00000", "case_00001", "ALL", "MEAN"]
    assert float(rows[0]["tumour"]) == pytest.approx(0.05)
