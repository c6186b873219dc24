"""LabelToRegionsd / RegionsToLabeld against regions and labels written out by hand for every BraTS convention."""

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from scripts.transforms import LabelToRegionsd, RegionsToLabeld

# One row of voxels holding every value; expected TC, WT, ET channels written by hand from the conventions.
HAND = {
    "brats2021": {
        "label": [0, 1, 2, 4, 0, 4],
        "TC": [0, 1, 0, 1, 0, 1],
        "WT": [0, 1, 1, 1, 0, 1],
        "ET": [0, 0, 0, 1, 0, 1],
    },
    "brats2023": {
        "label": [0, 1, 2, 3, 3, 2],
        "TC": [0, 1, 0, 1, 1, 0],
        "WT": [0, 1, 1, 1, 1, 1],
        "ET": [0, 0, 0, 1, 1, 0],
    },
    # MSD Task01: 1 oedema, 2 non-enhancing, 3 enhancing
    "msd_task01": {
        "label": [0, 1, 2, 3, 1, 0],
        "TC": [0, 0, 1, 1, 0, 0],
        "WT": [0, 1, 1, 1, 1, 0],
        "ET": [0, 0, 0, 1, 0, 0],
    },
}


@pytest.mark.parametrize("convention", sorted(HAND))
def test_label_to_regions_by_hand(convention):
    h = HAND[convention]
    label = torch.tensor(h["label"], dtype=torch.float32).reshape(1, 6, 1, 1)
    out = LabelToRegionsd(keys="label")({"label": label, "convention": convention})["label"]
    assert out.shape == (3, 6, 1, 1) and out.dtype == torch.float32
    expected = torch.tensor([h["TC"], h["WT"], h["ET"]], dtype=torch.float32).reshape(3, 6, 1, 1)
    assert torch.equal(out.as_tensor() if isinstance(out, MetaTensor) else out, expected)


@pytest.mark.parametrize("convention", sorted(HAND))
def test_regions_to_label_by_hand(convention):
    h = HAND[convention]
    regions = torch.tensor([h["TC"], h["WT"], h["ET"]], dtype=torch.float32).reshape(3, 6, 1, 1)
    out = RegionsToLabeld(keys="pred", convention=convention)({"pred": regions})["pred"]
    assert out.shape == (1, 6, 1, 1) and out.dtype == torch.uint8
    assert torch.as_tensor(out).flatten().tolist() == h["label"]


def test_numpy_and_channelless_input_and_dtype():
    label = np.array([[[0, 1], [2, 4]]], dtype=np.uint8)  # (2, 2) spatial, no channel... as (1, 2, 2)
    out = LabelToRegionsd(keys="label", convention="brats2021", dtype=torch.uint8)({"label": label[0]})["label"]
    assert out.shape == (3, 2, 2) and out.dtype == torch.uint8
    assert torch.as_tensor(out)[2].tolist() == [[0, 0], [0, 1]]  # ET only at the 4


def test_meta_data_kept():
    affine = torch.tensor([[-1.0, 0, 0, 0], [0, -1, 0, 239], [0, 0, 1, 0], [0, 0, 0, 1]])
    label = MetaTensor(torch.tensor([0.0, 1, 2, 4]).reshape(1, 4, 1, 1), affine=affine, meta={"filename": "x"})
    out = LabelToRegionsd(keys="label")({"label": label, "convention": "brats2021"})["label"]
    assert isinstance(out, MetaTensor) and torch.equal(out.affine, affine.double())
    back = RegionsToLabeld(keys="label")({"label": out})["label"]
    assert isinstance(back, MetaTensor) and torch.equal(back.affine, affine.double())
    assert torch.as_tensor(back).flatten().tolist() == [0, 1, 2, 4]


@pytest.mark.parametrize("convention, values", [("brats2021", [0, 1, 2, 4]), ("brats2023", [0, 1, 2, 3])])
def test_round_trip_random_labels(convention, values):
    rng = np.random.default_rng(0)
    label = torch.as_tensor(rng.choice(values, size=(1, 7, 6, 5)).astype(np.float32))
    regions = LabelToRegionsd(keys="x")({"x": label, "convention": convention})["x"]
    back = RegionsToLabeld(keys="x", convention=convention)({"x": regions})["x"]
    assert torch.equal(torch.as_tensor(back).float(), label)


def test_round_trip_msd():
    label = torch.as_tensor(np.random.default_rng(1).choice([0, 1, 2, 3], size=(1, 5, 5, 5)).astype(np.float32))
    regions = LabelToRegionsd(keys="x", convention_key=None, convention="msd_task01")({"x": label})["x"]
    back = RegionsToLabeld(keys="x", convention="msd_task01")({"x": regions})["x"]
    assert torch.equal(torch.as_tensor(back).float(), label)


def test_inconsistent_predictions_are_nested_by_union():
    # voxels: ET alone, TC alone, WT alone, ET+WT (no TC), nothing
    tc = [0, 1, 0, 0, 0]
    wt = [0, 0, 1, 1, 0]
    et = [1, 0, 0, 1, 0]
    regions = torch.tensor([tc, wt, et], dtype=torch.float32).reshape(3, 5, 1, 1)
    out = RegionsToLabeld(keys="p", convention="brats2021")({"p": regions})["p"]
    # ET wins wherever predicted; TC without ET is NCR (1) even without WT; WT alone is ED (2)
    assert torch.as_tensor(out).flatten().tolist() == [4, 1, 2, 4, 0]
    out23 = RegionsToLabeld(keys="p", convention="msd_task01")({"p": regions})["p"]
    assert torch.as_tensor(out23).flatten().tolist() == [3, 2, 1, 3, 0]


def test_probabilities_thresholded_and_logits_rejected():
    probs = torch.tensor([[0.2, 0.7], [0.9, 0.9], [0.4, 0.6]]).reshape(3, 2, 1, 1)
    out = RegionsToLabeld(keys="p")({"p": probs})["p"]
    assert torch.as_tensor(out).flatten().tolist() == [2, 4]
    with pytest.raises(ValueError, match=r"binary or probabilities in \[0, 1\] \(case 'c1'\).*\[-1, 6\]"):
        RegionsToLabeld(keys="p")({"p": probs * 10 - 3, "case": "c1"})
    with pytest.raises(ValueError, match=r"3 channels"):
        RegionsToLabeld(keys="p")({"p": torch.zeros(2, 4, 4, 4)})


def test_per_case_convention_key():
    regions = torch.tensor([[1.0], [1.0], [1.0]]).reshape(3, 1, 1, 1)
    t = RegionsToLabeld(keys="pred", convention="brats2021", convention_key="convention")
    assert torch.as_tensor(t({"pred": regions, "convention": "brats2023"})["pred"]).item() == 3
    assert torch.as_tensor(t({"pred": regions})["pred"]).item() == 4


def test_values_outside_convention_name_value_and_case():
    label = torch.tensor([0.0, 1, 3, 2]).reshape(1, 4, 1, 1)
    with pytest.raises(ValueError, match=r"\[3\] \(case 'BraTS2021_00042', key 'label'\) outside the brats2021"):
        LabelToRegionsd()({"label": label, "convention": "brats2021", "case": "BraTS2021_00042"})
    with pytest.raises(ValueError, match=r"\[4\].*outside the brats2023"):
        LabelToRegionsd()({"label": label + (label == 3) * 1.0, "convention": "brats2023"})
    with pytest.raises(ValueError, match=r"\[0.5\]"):
        LabelToRegionsd()({"label": torch.tensor([0.0, 0.5]).reshape(1, 2, 1, 1), "convention": "brats2021"})


def test_missing_or_wrong_convention():
    label = torch.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match=r"no label convention \(case 'c7'\)"):
        LabelToRegionsd()({"label": label, "case": "c7"})
    with pytest.raises(ValueError, match=r"convention 'kits19'.*not one of"):
        LabelToRegionsd()({"label": label, "convention": "kits19"})
    with pytest.raises(ValueError, match=r"unknown label convention 'brats2019'"):
        LabelToRegionsd()({"label": label, "convention": "brats2019"})
