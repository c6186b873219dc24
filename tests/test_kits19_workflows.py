"""One-epoch KiTS19 train, evaluate and inference runs, as a user runs them (``python -m monai.bundle``), on tiny
synthetic cases in the KiTS19 layout and affine convention (slice axis first, permuted affine), resampled to a
coarser spacing so that predictions must be brought back to the original space.

Evaluate's per-case numbers are recomputed here from the label maps inference writes for the same cases, with the
KiTS19 challenge code's Dice and a brute-force HD95 (``test_kits19_metrics``).
"""

import csv
import json
import math
import os

import nibabel as nib
import numpy as np
import pytest
from bundle_runs import run_bundle
from test_kits19_config import TINY_NET, TINY_TRAIN
from test_kits19_metrics import brute_hd95, official_kits19_dice

from scripts.data.synthetic import make_synthetic_kits

SHAPE, SPACING = (12, 24, 24), (6.0, 10.0, 10.0)  # stored (z, y, x) and mm
TARGET = [9.0, 15.0, 15.0]  # resampled: (12-1)*6/9+1 = 8.3 -> 8 slices, (24-1)*10/15+1 = 16.3 -> 16 rows/columns
COLUMNS = ["dice_kidney_and_tumour", "dice_tumour", "hd95_kidney_and_tumour", "hd95_tumour"]
HECS = {"kidney_and_masses": (1, 2, 3), "masses": (2, 3), "tumour": (2,)}
KITS23_COLUMNS = [f"kits23_{k}_{h}" for k in ("dice", "surface_dice") for h in HECS]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("kits19_bundle")
    data = make_synthetic_kits(str(root / "kits19" / "data"), num_cases=4, shape=SHAPE, spacing=SPACING, seed=3)
    os.remove(os.path.join(data, "case_00003", "segmentation.nii.gz"))  # inference only, as KiTS19's test cases
    common = {"bundle_root": str(root / "bundle"), "dataset_dir": str(root / "kits19"), "spacing": TARGET}
    train = run_bundle(["train.json", "kits19_common.json", "kits19.json"], {**common, **TINY_TRAIN})
    run_bundle(["train.json", "evaluate.json", "kits19_common.json", "kits19.json"], {**common, **TINY_TRAIN})
    run_bundle(["inference.json", "kits19_common.json", "kits19_inference.json"], {**common, **TINY_NET})
    return root / "bundle", data, train.stdout + train.stderr


@pytest.fixture(scope="module")
def kits23_runs(runs):
    """The trained model evaluated and run on a KiTS23 copy of the data (``dataset/``, a cyst in every case)."""
    bundle, data, _ = runs
    root = bundle.parent / "kits23"
    for case in sorted(os.listdir(data)):
        for name in os.listdir(os.path.join(data, case)):
            img = nib.load(os.path.join(data, case, name))
            arr = np.asarray(img.dataobj)
            if name.startswith("segmentation"):
                arr = arr.copy()
                kidney = np.argwhere(arr == 1)
                arr[tuple(kidney[: len(kidney) // 5].T)] = 3  # a fifth of the kidney becomes cyst
            os.makedirs(root / "dataset" / case, exist_ok=True)
            nib.save(nib.Nifti1Image(arr, img.affine), str(root / "dataset" / case / name))
    common = {"bundle_root": str(bundle), "dataset_dir": str(root), "spacing": TARGET, "output_dir": str(root / "eval")}
    run_bundle(["train.json", "evaluate.json", "kits19_common.json", "kits19.json"], {**common, **TINY_TRAIN})
    common["output_dir"] = str(root / "eval" / "predictions")
    run_bundle(["inference.json", "kits19_common.json", "kits19_inference.json"], {**common, **TINY_NET})
    return root


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_splits_labelled_cases_and_leaves_out_the_unlabelled_one(runs):
    bundle, _, output = runs
    split = json.loads((bundle / "eval" / "datalist_split.json").read_text())
    cases = sorted(e["case"] for e in split["training"] + split["validation"])
    assert cases == ["case_00000", "case_00001", "case_00002"] and len(split["validation"]) == 1
    assert "case_00003" in output and "without a label" in output
    assert (bundle / "models" / "model.pt").is_file() and (bundle / "models" / "model_last.pt").is_file()


def test_inference_writes_label_maps_in_the_original_space(runs):
    bundle, data, _ = runs
    written = sorted(p.name for p in (bundle / "eval" / "predictions").glob("*.nii.gz"))
    assert written == [f"case_0000{i}.nii.gz" for i in range(4)]  # the unlabelled case too
    for name in written:
        source = nib.load(os.path.join(data, name[: -len(".nii.gz")], "imaging.nii.gz"))
        pred = nib.load(bundle / "eval" / "predictions" / name)
        assert pred.shape == source.shape == SHAPE
        np.testing.assert_allclose(pred.affine, source.affine, atol=1e-4)
        assert nib.aff2axcodes(pred.affine) == ("I", "P", "L")
        assert pred.get_data_dtype() == np.uint8
        assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= {0, 1, 2}


def test_evaluate_equals_the_challenge_metrics_of_the_written_predictions(runs):
    bundle, data, _ = runs
    split = json.loads((bundle / "eval" / "datalist_split.json").read_text())
    rows = _read_csv(bundle / "eval" / "metrics_per_case.csv")
    assert [r["case"] for r in rows] == [e["case"] for e in split["validation"]]
    assert list(rows[0]) == ["case", *COLUMNS, *KITS23_COLUMNS]
    assert all(math.isnan(float(r[c])) for r in rows for c in KITS23_COLUMNS)  # KiTS19 data: KiTS19 metrics
    for row in rows:
        ref_img = nib.load(os.path.join(data, row["case"], "segmentation.nii.gz"))
        ref = np.asarray(ref_img.dataobj)
        pred = np.asarray(nib.load(bundle / "eval" / "predictions" / f"{row['case']}.nii.gz").dataobj)
        spacing = np.sqrt((ref_img.affine[:3, :3] ** 2).sum(0))  # (6, 10, 10) from the permuted affine
        np.testing.assert_allclose(spacing, SPACING)
        tk, tu = official_kits19_dice(pred, ref)
        expected = {"dice_kidney_and_tumour": tk, "dice_tumour": tu}
        for column, threshold in (("hd95_kidney_and_tumour", 0), ("hd95_tumour", 1)):
            p, r = pred > threshold, ref > threshold
            if p.any() and r.any():
                expected[column] = brute_hd95(p, r, spacing)
            elif p.any() or r.any():  # one empty: the image diagonal in mm
                expected[column] = math.sqrt(sum(((n - 1) * s) ** 2 for n, s in zip(SHAPE, SPACING)))
            else:
                expected[column] = math.nan
        for column in COLUMNS:
            value = float(row[column])
            if math.isnan(expected[column]):
                assert math.isnan(value), (row["case"], column)
            else:
                assert value == pytest.approx(expected[column], rel=1e-5, abs=1e-9), (row["case"], column)
    summary = json.loads((bundle / "eval" / "metrics_summary.json").read_text())
    dice = [float(r[c]) for r in rows for c in COLUMNS[:2] if not math.isnan(float(r[c]))]
    assert summary["overall"]["val_mean_dice"] == pytest.approx(np.mean(dice) if dice else None)


def test_evaluate_reports_the_kits23_classes_on_kits23_data(kits23_runs):
    """Dice of the KiTS23 HECs recomputed with numpy from the written predictions and the references with their
    cysts; the Surface Dice lies in [0, 1] and is 1 where the Dice is 1."""
    root = kits23_runs
    rows = _read_csv(root / "eval" / "metrics_per_case.csv")
    assert rows and list(rows[0]) == ["case", *COLUMNS, *KITS23_COLUMNS]
    for row in rows:
        ref = np.asarray(nib.load(root / "dataset" / row["case"] / "segmentation.nii.gz").dataobj)
        pred = np.asarray(nib.load(root / "eval" / "predictions" / f"{row['case']}.nii.gz").dataobj)
        assert (ref == 3).any()
        for hec, labels in HECS.items():
            p, r = np.isin(pred, labels), np.isin(ref, labels)
            want = 1.0 if not p.any() and not r.any() else 2 * np.sum(p & r) / (p.sum() + r.sum())
            assert float(row[f"kits23_dice_{hec}"]) == pytest.approx(want, abs=1e-9), (row["case"], hec)
            sd = float(row[f"kits23_surface_dice_{hec}"])
            assert 0.0 <= sd <= 1.0 and (sd == pytest.approx(1.0) if want == 1.0 else True)
