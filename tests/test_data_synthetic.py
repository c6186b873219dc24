"""Synthetic BraTS / KiTS generators: layout, affine, label structure, contrast, imbalance; resolve_dataset_dir."""

import os
import threading
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from subprocesses import run_python

from scripts.data import build_datalist, check_datalist
from scripts.data.synthetic import make_synthetic_brats, make_synthetic_kits, resolve_dataset_dir
from scripts.data.synthetic_brats import brats_phantom
from scripts.data.synthetic_kits import kits_phantom

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_BRATS = (48, 48, 32)
SMALL_KITS = (24, 48, 48)
KITS_SPACING = (6.0, 5.0, 5.0)


@pytest.fixture(scope="module")
def brats_dir(tmp_path_factory):
    return make_synthetic_brats(str(tmp_path_factory.mktemp("brats")), num_cases=3, shape=SMALL_BRATS, seed=0)


@pytest.fixture(scope="module")
def kits_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("kits"))
    return make_synthetic_kits(out, num_cases=2, shape=SMALL_KITS, seed=0, spacing=KITS_SPACING)


def load(path):
    img = nib.load(path)
    return np.asanyarray(img.dataobj), img


def test_brats_layout_recognised_and_valid(brats_dir):
    dl = build_datalist(brats_dir)
    assert [e["case"] for e in dl] == ["BraTS2021_00000", "BraTS2021_00001", "BraTS2021_00002"]
    assert {e["convention"] for e in dl} == {"brats2021"}
    assert check_datalist(dl) == dl


def test_brats_affine_and_dtypes(brats_dir):
    dl = build_datalist(brats_dir)
    expected = np.array([[-1.0, 0, 0, 0], [0, -1, 0, SMALL_BRATS[1] - 1], [0, 0, 1, 0], [0, 0, 0, 1]])
    for i, e in enumerate(dl):
        for path in e["image"]:
            data, img = load(path)
            np.testing.assert_allclose(img.affine, expected)
            assert data.shape == SMALL_BRATS
            assert data.dtype == (np.float32 if i % 3 == 2 else np.int16)
        label, img = load(e["label"])
        assert label.dtype == np.uint8
        np.testing.assert_allclose(img.affine, expected)


def test_brats_labels_nested_and_imbalanced(brats_dir):
    for e in build_datalist(brats_dir):
        label, _ = load(e["label"])
        assert set(np.unique(label).tolist()) == {0, 1, 2, 4}
        ncr, ed, et = label == 1, label == 2, label == 4
        tc = ncr | et
        # necrotic core enclosed by the enhancing rim, tumour core enclosed by oedema (6-neighbourhood)
        assert not (ndimage.binary_dilation(ncr) & ~tc).any()
        assert not (ndimage.binary_dilation(tc) & ~(tc | ed)).any()
        assert 0 < et.mean() < 0.01
        assert et.sum() < ed.sum()


def test_brats_default_shape_imbalance():
    for i in range(2):
        images, label = brats_phantom((96, 96, 64), np.random.default_rng([0, i]))
        assert 0 < (label == 4).mean() < 0.01
        assert 0.005 < (label > 0).mean() < 0.15


def test_brats_modality_contrast(brats_dir):
    for e in build_datalist(brats_dir):
        flair, t1, t1ce, t2 = (load(p)[0].astype(np.float64) for p in e["image"])
        label, _ = load(e["label"])
        brain = flair > 0
        normal = brain & (label == 0)
        assert not (flair[~brain]).any() and not t1ce[~brain].any()  # skull-stripped: zero outside the brain
        assert t1ce[label == 4].mean() > 1.3 * t1ce[normal].mean()  # enhancing rim bright on T1ce
        assert flair[label == 2].mean() > 1.3 * flair[normal].mean()  # oedema bright on FLAIR
        assert t2[label == 2].mean() > 1.2 * t2[normal].mean()  # and on T2
        assert t1[label == 1].mean() < 0.8 * t1[normal].mean()  # necrosis dark on T1
        assert abs(t1[label == 4].mean() - t1[normal].mean()) < abs(t1ce[label == 4].mean() - t1ce[normal].mean())


def test_brats_cases_vary_and_are_reproducible():
    a_img, a_lab = brats_phantom(SMALL_BRATS, np.random.default_rng([0, 0]))
    b_img, b_lab = brats_phantom(SMALL_BRATS, np.random.default_rng([0, 0]))
    c_img, c_lab = brats_phantom(SMALL_BRATS, np.random.default_rng([0, 1]))
    assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    centroid = lambda lab: np.argwhere(lab > 0).mean(axis=0)  # noqa: E731
    assert np.linalg.norm(centroid(a_lab) - centroid(c_lab)) > 2.0
    assert (a_lab > 0).sum() != (c_lab > 0).sum()


def test_brats_case_depends_only_on_seed_and_index(tmp_path, brats_dir):
    one = make_synthetic_brats(str(tmp_path), num_cases=1, shape=SMALL_BRATS, seed=0)
    a = load(os.path.join(one, "BraTS2021_00000", "BraTS2021_00000_seg.nii.gz"))[0]
    b = load(os.path.join(brats_dir, "BraTS2021_00000", "BraTS2021_00000_seg.nii.gz"))[0]
    assert np.array_equal(a, b)


def test_kits_layout_and_affine_convention(kits_dir):
    dl = build_datalist(kits_dir)
    assert [e["case"] for e in dl] == ["case_00000", "case_00001"]
    assert {e["convention"] for e in dl} == {"kits19"}
    assert check_datalist(dl) == dl
    for e in dl:
        ct, img = load(e["image"])
        assert ct.shape == SMALL_KITS and ct.dtype == np.int16
        # slice axis first: the first array axis moves along the body's z axis only
        np.testing.assert_allclose(img.affine[:3, 0], [0, 0, -KITS_SPACING[0]])
        assert nib.aff2axcodes(img.affine) == ("I", "P", "L")
        np.testing.assert_allclose(img.header.get_zooms(), KITS_SPACING)


def test_kits_orientation_through_the_affine(kits_dir):
    from monai.transforms import LoadImaged, Orientationd

    e = build_datalist(kits_dir)[0]
    d = LoadImaged(["image", "label"], ensure_channel_first=True)(e)
    d = Orientationd(["image", "label"], axcodes="RAS")(d)
    assert tuple(d["image"].shape[1:]) == (SMALL_KITS[2], SMALL_KITS[1], SMALL_KITS[0])  # (x, y, z)
    np.testing.assert_allclose(np.abs(np.diag(d["image"].affine.numpy()))[:3], [5.0, 5.0, 6.0])


def test_kits_labels_and_hounsfield_units(kits_dir):
    for e in build_datalist(kits_dir):
        ct, _ = load(e["image"])
        label, _ = load(e["label"])
        assert label.dtype == np.uint8 and set(np.unique(label).tolist()) == {0, 1, 2}
        kidney, tumour = label == 1, label == 2
        assert 0 < tumour.mean() < 0.01 and tumour.sum() < kidney.sum()
        assert (ndimage.binary_dilation(tumour) & kidney).any()  # the tumour sits on a kidney
        assert ct[0, 0, 0] < -900  # air in the corner
        assert ct[kidney].mean() > ct[tumour].mean() + 40  # hypo-enhancing tumour
        assert -50 < ct[tumour].mean() < 150


def test_kits_cases_vary_and_are_reproducible():
    a = kits_phantom(SMALL_KITS, KITS_SPACING, np.random.default_rng([0, 3]))
    b = kits_phantom(SMALL_KITS, KITS_SPACING, np.random.default_rng([0, 3]))
    c = kits_phantom(SMALL_KITS, KITS_SPACING, np.random.default_rng([0, 4]))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1] == 2, c[1] == 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"shape": (4, 8, 8)}, "shape must be 3 integers >= 8"),
        ({"shape": (16, 16)}, "shape must be 3 integers"),
        ({"num_cases": 0}, "num_cases must be a positive integer"),
    ],
)
def test_generator_argument_errors(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_brats(str(tmp_path), **kwargs)
    with pytest.raises(ValueError, match=match):
        make_synthetic_kits(str(tmp_path), **kwargs)


def test_kits_spacing_error(tmp_path):
    with pytest.raises(ValueError, match=r"spacing must be 3 positive numbers"):
        make_synthetic_kits(str(tmp_path), spacing=(3.0, 0.0, 1.0))


# ---- resolve_dataset_dir ---------------------------------------------------------------------------------------


def test_resolve_generates_missing_synthetic_dir(tmp_path):
    target = os.path.join(tmp_path, "data", "synthetic_brats")
    out = resolve_dataset_dir(target, target, kind="brats", num_cases=2, shape=(32, 32, 24))
    assert out == target
    assert [e["case"] for e in build_datalist(out)] == ["BraTS2021_00000", "BraTS2021_00001"]
    assert not [n for n in os.listdir(os.path.dirname(target)) if n.startswith(".")]  # no temporary folder left
    stamp = os.path.getmtime(os.path.join(target, "BraTS2021_00000", "BraTS2021_00000_seg.nii.gz"))
    assert resolve_dataset_dir(target + "/", target, num_cases=5) == target  # present: used as is
    assert len(build_datalist(target)) == 2
    assert os.path.getmtime(os.path.join(target, "BraTS2021_00000", "BraTS2021_00000_seg.nii.gz")) == stamp


def test_resolve_fills_an_empty_synthetic_dir(tmp_path):
    target = tmp_path / "synthetic_kits"
    target.mkdir()
    out = resolve_dataset_dir(str(target), str(target), kind="kits", num_cases=1, shape=SMALL_KITS)
    assert build_datalist(out)[0]["convention"] == "kits19"


def test_resolve_other_missing_dir_is_an_error(tmp_path):
    synthetic = os.path.join(tmp_path, "synthetic_brats")
    missing = os.path.join(tmp_path, "my_brats_download")
    with pytest.raises(FileNotFoundError, match="my_brats_download"):
        resolve_dataset_dir(missing, synthetic)
    assert not os.path.exists(synthetic)  # never a silent fallback
    assert resolve_dataset_dir(str(tmp_path), synthetic) == str(tmp_path)
    with pytest.raises(ValueError, match="kind must be one of"):
        resolve_dataset_dir(str(tmp_path), synthetic, kind="lits")


def test_resolve_concurrent_first_use(tmp_path):
    target = os.path.join(tmp_path, "synthetic_brats")
    results, errors = [], []

    def call():
        try:
            results.append(resolve_dataset_dir(target, target, num_cases=1, shape=(32, 32, 24)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [target] * 3
    assert len(build_datalist(target)) == 1
    assert sorted(os.listdir(tmp_path)) == ["synthetic_brats"]


def test_cli(tmp_path):
    out = os.path.join(tmp_path, "cli_brats")
    run = run_python(
        ["-m", "scripts.data.synthetic", "brats", out, "--num_cases", "1", "--shape", "(32,32,24)"], timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert build_datalist(out)[0]["case"] == "BraTS2021_00000"


def test_built_in_data_set_files_are_readable_by_others(tmp_path):
    built_in = resolve_dataset_dir(
        str(tmp_path / "synthetic"), str(tmp_path / "synthetic"), kind="kits", num_cases=1, shape=(8, 16, 16)
    )
    modes = {p.relative_to(built_in).as_posix(): p.stat().st_mode & 0o777 for p in Path(built_in).rglob("*")}
    assert Path(built_in).stat().st_mode & 0o777 == 0o755
    assert {m for n, m in modes.items() if (Path(built_in) / n).is_file()} == {0o644}
