"""One-epoch train, evaluate and inference runs of the bundle, as a user runs them (``python -m monai.bundle``).

The BraTS 2021 run uses the built-in synthetic data (generated on first use into ``bundle_root/data``); BraTS 2023
and MSD Task01 cases are written with nibabel in their real layouts. Evaluate's per-case Dice/HD95 are compared
with the official BraTS package (``brats-evaluation``) on the label maps inference writes for the same cases.
"""

import csv
import json
import math
from importlib.resources import files
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_runs import TINY_NET, TINY_TRAIN, run_bundle
from nifti_layouts import write_brats2023_case, write_msd_task01

from scripts.data.label_conventions import CONVENTIONS

REGIONS = ("tc", "wt", "et")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    overrides = {
        "bundle_root": str(root),
        "synthetic_num_cases": 5,
        "synthetic_shape": [24, 24, 16],
        "val_fraction": 0.4,
        **TINY_TRAIN,
    }
    run_bundle(["train.json"], overrides)
    return root, overrides


@pytest.fixture(scope="module")
def evaluated(trained):
    root, overrides = trained
    run_bundle(["train.json", "evaluate.json"], overrides)
    return root


@pytest.fixture(scope="module")
def inferred(trained):
    root, overrides = trained
    run_bundle(["inference.json"], {k: v for k, v in overrides.items() if k in ("bundle_root", *TINY_NET)})
    return root


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_generates_data_and_writes_checkpoints_split_and_logs(trained):
    root, _ = trained
    cases = sorted(p.name for p in (root / "data" / "synthetic_brats").iterdir() if p.is_dir())
    assert cases == [f"BraTS2021_{i:05d}" for i in range(5)]
    split = json.loads((root / "eval" / "datalist_split.json").read_text())
    assert len(split["training"]) == 3 and len(split["validation"]) == 2
    assert not {e["case"] for e in split["training"]} & {e["case"] for e in split["validation"]}
    assert list((root / "eval").glob("tensorboard/*/events.out.tfevents.*")), "no TensorBoard log"
    for name in ("model.pt", "model_last.pt"):  # best key metric and last epoch, plain state_dicts
        state = torch.load(root / "models" / name, weights_only=True)
        assert "convInit.conv.weight" in state


def test_evaluate_writes_per_case_csv_and_summary(evaluated):
    split = json.loads((evaluated / "eval" / "datalist_split.json").read_text())
    rows = _read_csv(evaluated / "eval" / "metrics_per_case.csv")
    assert [r["case"] for r in rows] == [e["case"] for e in split["validation"]]
    columns = [f"{m}_{r}" for m in ("dice", "hd95") for r in REGIONS]
    lesion_kinds = ("dice", "hd95", "nsd", "tp", "fn", "fp", "sensitivity", "precision")
    assert list(rows[0]) == ["case", *columns, *(f"lesion_{k}_{r}" for k in lesion_kinds for r in REGIONS)]
    values = np.array([[float(r[c]) for c in columns] for r in rows])
    summary = {r["statistic"]: r for r in _read_csv(evaluated / "eval" / "metrics_summary.csv")}
    for j, col in enumerate(columns):
        v = values[:, j][~np.isnan(values[:, j])]
        assert float(summary["count"][col]) == v.size
        if v.size:
            assert float(summary["mean"][col]) == pytest.approx(v.mean())
            assert float(summary["median"][col]) == pytest.approx(np.median(v))
    summary_json = json.loads((evaluated / "eval" / "metrics_summary.json").read_text())
    for region in REGIONS:  # detection totals are the sums of the per-case lesion counts
        totals = [sum(int(float(r[f"lesion_{k}_{region}"])) for r in rows) for k in ("tp", "fn", "fp")]
        got = summary_json["lesion_detection"][region]
        assert [got["matched"], got["missed"], got["false_positive"]] == totals
        figure = evaluated / "eval" / summary_json["figures"][region]
        assert figure.is_file() and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    overall = summary_json["overall"]["val_mean_dice"]
    per_case = [np.nanmean(row[:3]) for row in values if not np.isnan(row[:3]).all()]
    assert overall == pytest.approx(np.mean(per_case), rel=1e-6)


def test_inference_writes_one_label_map_per_case_in_input_space(inferred):
    data = inferred / "data" / "synthetic_brats"
    cases = sorted(p.name for p in data.iterdir() if p.is_dir())
    written = sorted(p.name for p in (inferred / "eval" / "predictions").iterdir())
    assert written == [f"{c}.nii.gz" for c in cases]
    for case in cases:
        ref = nib.load(data / case / f"{case}_flair.nii.gz")
        pred = nib.load(inferred / "eval" / "predictions" / f"{case}.nii.gz")
        assert pred.shape == ref.shape
        np.testing.assert_allclose(pred.affine, ref.affine, atol=1e-5)
        assert pred.get_data_dtype() == np.uint8
        assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= {0, 1, 2, 4}


def test_evaluate_agrees_with_official_brats_package_on_written_predictions(evaluated, inferred, tmp_path):
    """The metrics evaluate reports, region-wise and lesion-wise, equal the official package's on the files inference
    wrote for those cases."""
    # imported here so that only this test needs the official package (requirements-dev.txt)
    from brats_evaluation.evaluation import evaluate_single_exam
    from brats_evaluation.metrics_parser import parse_seg_results
    from panoptica import Panoptica_Evaluator

    data = inferred / "data" / "synthetic_brats"
    evaluator = Panoptica_Evaluator.load_from_config(
        str(files("brats_evaluation").joinpath("configs", "config_gli.yaml"))
    )
    rows = _read_csv(evaluated / "eval" / "metrics_per_case.csv")
    results = []
    for row in rows:
        case = row["case"]
        # the official glioma config uses BraTS 2023 values: enhancing tumour 3 instead of 4
        for src, dst in (
            (inferred / "eval" / "predictions" / f"{case}.nii.gz", tmp_path / f"{case}-pred.nii.gz"),
            (data / case / f"{case}_seg.nii.gz", tmp_path / f"{case}.nii.gz"),
        ):
            img = nib.load(src)
            arr = np.asarray(img.dataobj).astype(np.uint8)
            arr[arr == 4] = 3
            nib.save(nib.Nifti1Image(arr, img.affine), str(dst))
        result = evaluate_single_exam(
            str(tmp_path / f"{case}-pred.nii.gz"), str(tmp_path / f"{case}.nii.gz"), f"{case}.nii.gz", evaluator
        )
        assert "error" not in result, result
        results.append(result)
    (tmp_path / "summary.json").write_text(json.dumps({"metrics": results, "missings": []}, default=float))
    parse_seg_results(str(tmp_path / "summary.json"), str(tmp_path / "official.csv"))
    official = {r["subject_id"]: r for r in _read_csv(tmp_path / "official.csv")}
    for row in rows:
        want = official[f"{row['case']}.nii.gz"]
        for region in REGIONS:
            for ours, theirs in (
                ("dice", "global_dsc"),
                ("hd95", "global_hd95"),
                ("lesion_dice", "lesionwise_dsc_mean"),
                ("lesion_hd95", "lesionwise_hd95_mean"),
                ("lesion_nsd", "lesionwise_nsd_mean"),
                ("lesion_tp", "all_instance_tp"),
                ("lesion_fn", "all_instance_fn"),
                ("lesion_fp", "all_instance_fp"),
            ):
                a = float(row[f"{ours}_{region}"])
                b = float(want[f"{theirs}_{region}"] or "nan")
                assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-6), (row["case"], ours, region)


def _layout_brats2023(root):
    for i in range(3):
        write_brats2023_case(root, case_id=f"BraTS-GLI-{i:05d}-000", shape=(16, 16, 16))
    return root, [f"BraTS-GLI-{i:05d}-000" for i in range(3)], "brats2023"


def _layout_msd(root):
    out = write_msd_task01(root, shape=(16, 16, 16), num_train=2, num_test=1)
    return Path(out["dir"]), ["BRATS_001", "BRATS_002", "BRATS_003"], "msd_task01"


@pytest.mark.parametrize("make_layout", [_layout_brats2023, _layout_msd], ids=["brats2023", "msd_task01"])
def test_same_configs_train_and_infer_on_each_real_layout(tmp_path, make_layout):
    dataset_dir, cases, convention = make_layout(tmp_path / "data")
    bundle = {"bundle_root": str(tmp_path / "bundle"), "dataset_dir": str(dataset_dir)}
    run_bundle(["train.json"], {**bundle, **TINY_TRAIN})
    assert (tmp_path / "bundle" / "models" / "model.pt").is_file()
    run_bundle(["inference.json"], {**bundle, **TINY_NET})
    predictions = tmp_path / "bundle" / "eval" / "predictions"
    assert sorted(p.name for p in predictions.iterdir()) == sorted(f"{c}.nii.gz" for c in cases)
    allowed = set(CONVENTIONS[convention].classes)
    for case in cases:
        pred = nib.load(predictions / f"{case}.nii.gz")
        if convention == "msd_task01":
            folder = "imagesTs" if case == "BRATS_003" else "imagesTr"
            ref = nib.load(dataset_dir / folder / f"{case}.nii.gz")
        else:
            ref = nib.load(dataset_dir / case / f"{case}-t1c.nii.gz")
        assert pred.shape == ref.shape[:3]
        np.testing.assert_allclose(pred.affine, ref.affine, atol=1e-5)
        assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= allowed
