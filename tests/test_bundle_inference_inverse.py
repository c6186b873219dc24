"""inference.json's pre/postprocessing invert exactly: a prediction equal to the reference regions is written
back as the original label file (values, shape, affine, file name) for every supported layout."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_runs import CONFIGS, META
from monai.bundle import ConfigParser
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Orientationd
from nifti_layouts import write_brats2021_case, write_brats2023_case, write_msd_task01

from scripts.data.label_conventions import CONVENTIONS

SHAPE = (12, 10, 8)  # anisotropic so that a wrong axis order cannot pass


def _labels(values, seed):
    """A random label map holding every value of ``values`` (not nested: the regions must still round-trip)."""
    rng = np.random.default_rng(seed)
    lab = rng.choice(np.array(values, np.uint8), size=SHAPE, p=[0.55] + [0.45 / (len(values) - 1)] * (len(values) - 1))
    return lab.astype(np.uint8)


def _brats2021(root):
    cases = [
        write_brats2021_case(root, f"BraTS2021_{i:05d}", shape=SHAPE, labels=_labels((0, 1, 2, 4), i)) for i in (0, 1)
    ]
    return root, "brats2021", {c["case"]: Path(c["label"]) for c in cases}


def _brats2023(root):
    cases = [
        write_brats2023_case(root, f"BraTS-GLI-{i:05d}-000", shape=SHAPE, labels=_labels((0, 1, 2, 3), i))
        for i in (0, 1)
    ]
    return root, "brats2023", {c["case"]: Path(c["label"]) for c in cases}


def _msd(root):
    out = write_msd_task01(
        root, shape=SHAPE, num_train=2, num_test=0, labels={1: _labels((0, 1, 2, 3), 1), 2: _labels((0, 1, 2, 3), 2)}
    )
    return Path(out["dir"]), "msd_task01", {Path(lab).name[: -len(".nii.gz")]: Path(lab) for _, lab in out["training"]}


@pytest.mark.parametrize("layout", [_brats2021, _brats2023, _msd], ids=["brats2021", "brats2023", "msd_task01"])
def test_reference_regions_are_written_back_as_the_original_label_file(tmp_path, layout):
    dataset_dir, convention, label_files = layout(tmp_path / "data")
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "inference.json"))
    parser.read_meta(META)
    parser.update({"bundle_root": str(tmp_path / "bundle"), "dataset_dir": str(dataset_dir)})
    preprocessing = parser.get_parsed_content("preprocessing")
    postprocessing = parser.get_parsed_content("postprocessing")
    output_dir = Path(parser.get_parsed_content("output_dir"))
    load_label = Compose(
        [
            LoadImaged("label", image_only=True),
            EnsureChannelFirstd("label"),
            Orientationd("label", axcodes="RAS", labels=None),
        ]
    )
    regions = CONVENTIONS[convention].regions
    datalist = parser.get_parsed_content("datalist")
    assert sorted(e["case"] for e in datalist) == sorted(label_files)
    for entry in datalist:
        item = preprocessing(dict(entry))
        label = load_label({"label": str(label_files[entry["case"]])})["label"][0]
        assert label.shape == item["image"].shape[1:]
        target = torch.stack([torch.isin(label, torch.tensor(regions[r])) for r in ("TC", "WT", "ET")])
        item["pred"] = torch.where(target, 8.0, -8.0)  # logits the network would give for the reference
        postprocessing(item)
        written = nib.load(output_dir / f"{entry['case']}.nii.gz")
        original = nib.load(label_files[entry["case"]])
        np.testing.assert_array_equal(np.asarray(written.dataobj), np.asarray(original.dataobj))
        np.testing.assert_allclose(written.affine, original.affine, atol=1e-5)
        assert written.get_data_dtype() == np.uint8
