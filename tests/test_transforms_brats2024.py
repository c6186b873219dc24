"""BraTS 2024 conventions in the region transforms: regions and labels written out by hand for every value."""

import pytest
import torch

from scripts.data.label_conventions import CONVENTIONS
from scripts.transforms import LabelToRegionsd, RegionsToLabeld, label_to_regions, regions_to_label

GLI = CONVENTIONS["brats2024_gli"]
PED = CONVENTIONS["brats2024_ped"]


def test_gli_label_to_four_regions():
    label = torch.tensor([[0, 1, 2, 3, 4]])  # (1, 5): the leading 1 is the channel
    regions = label_to_regions(label, GLI, regions=("TC", "WT", "ET", "RC"))
    expected = torch.tensor(
        [
            [0, 1, 0, 1, 0],  # TC = NETC, ET
            [0, 1, 1, 1, 0],  # WT = NETC, SNFH, ET
            [0, 0, 0, 1, 0],  # ET
            [0, 0, 0, 0, 1],  # RC
        ],
        dtype=torch.float32,
    )
    assert torch.equal(torch.as_tensor(regions).clone(), expected)
    three = label_to_regions(label, GLI)  # three channels: the cavity is background
    assert torch.equal(torch.as_tensor(three).clone(), expected[:3])


def test_four_regions_to_gli_label():
    # voxels: background, RC only, RC inside the predicted tumour (tumour wins), ET, SNFH
    regions = torch.tensor(
        [
            [[0, 0, 1, 1, 0]],
            [[0, 0, 1, 1, 1]],
            [[0, 0, 0, 1, 0]],
            [[0, 1, 1, 0, 0]],
        ]
    )
    assert regions_to_label(regions, GLI).tolist() == [[[0, 4, 1, 3, 2]]]


def test_cavity_channel_needs_a_convention_with_a_cavity():
    with pytest.raises(ValueError, match="cannot be written in the brats2023 convention"):
        regions_to_label(torch.zeros(4, 1, 3), CONVENTIONS["brats2023"])


def test_ped_labels():
    label = torch.tensor([[0, 1, 2, 3, 4]])
    regions = label_to_regions(label, PED)
    assert regions.tolist() == [[0, 1, 1, 1, 0], [0, 1, 1, 1, 1], [0, 1, 0, 0, 0]]  # TC, WT, ET
    # back: ET -> 1, TC without ET -> 2 (non-enhancing), WT without TC -> 4 (oedema)
    assert regions_to_label(regions, PED).tolist() == [[0, 1, 2, 2, 4]]


def test_dictionary_transforms_take_the_regions_of_the_config():
    d = {"label": torch.tensor([[[0, 4]]]), "convention": "brats2024_gli", "case": "BraTS-GLI-02000-100"}
    out = LabelToRegionsd("label", regions=["TC", "WT", "ET", "RC"])(d)
    assert out["label"].shape[0] == 4 and out["label"][3].tolist() == [[0.0, 1.0]]
    back = RegionsToLabeld("pred", convention=None, convention_key="convention")({**d, "pred": out["label"]})
    assert back["pred"].tolist() == [[[0, 4]]]
    with pytest.raises(ValueError, match="regions must be"):
        LabelToRegionsd("label", regions=["TC", "RC"])
