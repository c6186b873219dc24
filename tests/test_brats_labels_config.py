"""The BraTS label (softmax) mode, ``configs/brats_labels.json`` (train / evaluate) and
``configs/brats_labels_inference.json``: four softmax channels background, NCR, ED, ET; the generalised Wasserstein
Dice loss with the paper's label distances; every other catalogue loss in softmax mode; labels -> class indices ->
labels per convention; validation on the TC / WT / ET regions of the argmax; and a tiny train + evaluate +
inference run (slow)."""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_runs import TINY_NET, TINY_TRAIN, eager_config, run_bundle

from scripts.data.label_conventions import CONVENTIONS
from scripts.losses import BRATS_LABEL_DISTANCES, LOSSES, GeneralizedWassersteinDiceLoss, build_loss, takes_maps
from scripts.transforms import (
    BRATS_CLASSES,
    ClassesToLabeld,
    LabelToClassesd,
    RemoveMapsd,
    classes_to_label,
    label_to_classes,
)
from scripts.transforms.brats_labels import class_values

TRAIN = ("train.json", "brats_labels.json")
EVALUATE = ("train.json", "evaluate.json", "brats_labels.json")
INFERENCE = ("inference.json", "brats_labels_inference.json")
WASSERSTEIN = "generalized_wasserstein_dice"


def one_hot_logits(classes: torch.Tensor, n: int = 4, scale: float = 20.0) -> torch.Tensor:
    """``(*spatial)`` class indices -> ``(n, *spatial)`` logits whose softmax is (almost) that one-hot map."""
    return torch.nn.functional.one_hot(classes.long(), n).movedim(-1, 0).float() * scale


# ----------------------------------------------------------------------------------------------------------- ids


def test_the_overlays_set_four_softmax_channels_and_keep_the_region_metrics():
    train, infer = eager_config(*TRAIN), eager_config(*INFERENCE)
    assert train["out_channels"] == infer["out_channels"] == len(BRATS_CLASSES) == 4
    assert train["region_names"] == ["tc", "wt", "et"]
    assert train["key_metric_name"] == "val_mean_dice"
    net = infer.get_parsed_content("network_def")
    assert net(torch.zeros(1, 4, 16, 16, 16)).shape == (1, 4, 16, 16, 16)
    # the overlays only add ids to the configs they are merged over: nothing of the region mode is left behind
    for names in (TRAIN, EVALUATE):
        p = eager_config(*names)
        assert (
            p["train#deterministic_transforms"] == "$@load_transforms + @class_label_transforms + @intensity_transforms"
        )
        assert p["validate#preprocessing#transforms"] == "$@load_transforms + @label_transforms + @intensity_transforms"


def test_the_channels_are_the_rows_of_the_paper_matrix():
    """Channel c of the network is class c of ``BRATS_CLASSES``, the row c of ``BRATS_LABEL_DISTANCES`` (Fidon et
    al.'s order background, necrotic core, oedema, enhancing), in every convention."""
    assert BRATS_CLASSES == ("background", "NCR", "ED", "ET")
    assert len(BRATS_LABEL_DISTANCES) == len(BRATS_CLASSES)
    assert all(row[0] == 1.0 for row in BRATS_LABEL_DISTANCES[1:])  # background is farthest from every tumour class
    names = {
        "brats2021": ("background", "NCR/NET", "ED", "ET"),
        "brats2023": ("background", "NCR", "ED", "ET"),
        "brats2024_gli": ("background", "NETC", "SNFH", "ET"),
        "msd_task01": ("background", "non-enhancing", "oedema", "enhancing"),
    }
    for convention, expected in names.items():
        first_values = [values[0] for values in class_values(convention)]
        assert tuple(CONVENTIONS[convention].classes[v] for v in first_values) == expected, convention


# ---------------------------------------------------------------------------------------------------------- loss


def test_the_config_builds_the_wasserstein_dice_loss_with_the_paper_matrix_and_softmax():
    loss = eager_config(*TRAIN, loss_name=WASSERSTEIN).get_parsed_content("loss")
    assert isinstance(loss, GeneralizedWassersteinDiceLoss)
    assert loss.softmax and not loss.sigmoid and loss.to_onehot_y
    torch.testing.assert_close(loss.dist_matrix, torch.tensor(BRATS_LABEL_DISTANCES, dtype=torch.float64))
    x = torch.randn(2, 4, 8, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 4, (2, 1, 8, 8, 8), generator=torch.Generator().manual_seed(1)).float()
    reference = build_loss(
        WASSERSTEIN, dist_matrix=BRATS_LABEL_DISTANCES, softmax=True, to_onehot_y=True, compile=False
    )
    torch.testing.assert_close(loss(x, y), reference(x, y))


@pytest.mark.parametrize("predicted", [2, 3])
def test_a_confusion_costs_its_matrix_entry(predicted):
    """All N voxels NCR (class 1), half of them predicted as class ``predicted``: the Wasserstein error of those is
    ``M = M[1, predicted]``, 0 elsewhere, so TP = N/2 + N/2 (1 - M), sum W = N/2 M and the loss
    sum W / (2 TP + sum W) = M / (4 - M): the channels are read in the matrix's order."""
    loss = eager_config(*TRAIN, loss_name=WASSERSTEIN).get_parsed_content("loss")
    target = torch.ones(1, 1, 4, 4, 4)
    classes = torch.ones(4, 4, 4, dtype=torch.long)
    classes[:2] = predicted
    x = one_hot_logits(classes, scale=60.0)[None].double()
    m = BRATS_LABEL_DISTANCES[1][predicted]
    torch.testing.assert_close(loss(x, target.double()).item(), m / (4 - m), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_catalogue_loss_trains_in_label_mode(name):
    p = eager_config(*TRAIN, loss_name=name)
    loss = p.get_parsed_content("loss")
    assert getattr(loss, "softmax", True), name  # MONAI's FocalLoss keeps use_softmax instead
    assert getattr(loss, "use_softmax", True), name
    assert getattr(loss, "dist_matrix", None) is None or name == WASSERSTEIN
    maps = p.get_parsed_content("loss_map_transforms")
    n_maps = p.get_parsed_content("loss_map_channels")
    assert len(maps) == int(takes_maps(name)) and n_maps == (4 if maps else 0)
    classes = torch.zeros(1, 8, 8, 8)
    classes[0, 2:6, 2:6, 2:6], classes[0, 3:5, 3:5, 3:5], classes[0, 4, 4, 4] = 2, 1, 3
    label = classes
    for t in maps:
        assert t.num_classes == 4
        label = t({"label": label})["label"]
    assert label.shape[0] == 1 + n_maps
    x = torch.randn(1, 4, 8, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    value = loss(x, label[None])
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    post = p.get_parsed_content("train#postprocessing")
    assert isinstance(post.transforms[0], RemoveMapsd)
    out = post({"pred": x[0].detach(), "label": label})
    assert out["pred"].shape == out["label"].shape == (4, 8, 8, 8)
    torch.testing.assert_close(out["label"].argmax(0, keepdim=True).float(), classes)


# ----------------------------------------------------------------------------------------------- label <-> class

# hand-written: (label values of the data set, class indices of the network)
ROUND_TRIPS = {
    "brats2021": ([0, 1, 2, 4], [0, 1, 2, 3]),
    "brats2023": ([0, 1, 2, 3], [0, 1, 2, 3]),
    "msd_task01": ([0, 1, 2, 3], [0, 2, 1, 3]),  # 1 oedema, 2 non-enhancing, 3 enhancing
}


@pytest.mark.parametrize("convention", sorted(ROUND_TRIPS))
def test_labels_to_classes_and_back(convention):
    values, expected = ROUND_TRIPS[convention]
    label = torch.tensor(values * 2, dtype=torch.float32).reshape(1, 2, 2, 2)
    classes = LabelToClassesd(convention=convention)({"label": label, "convention": convention})["label"]
    assert classes.shape == label.shape and classes.dtype == label.dtype
    assert classes.flatten().tolist() == expected * 2
    back = ClassesToLabeld(convention="brats2021", convention_key="convention")(
        {"pred": classes, "convention": convention}
    )["pred"]
    assert back.dtype == torch.uint8 and back.flatten().tolist() == values * 2


def test_the_2024_conventions():
    # post-treatment glioma: the resection cavity (4) is background in the label mode, as in the region mode
    gli = torch.tensor([0, 1, 2, 3, 4]).reshape(1, 5, 1, 1)
    assert label_to_classes(gli, "brats2024_gli").flatten().tolist() == [0, 1, 2, 3, 0]
    assert classes_to_label(label_to_classes(gli, "brats2024_gli"), "brats2024_gli").flatten().tolist() == [
        0, 1, 2, 3, 0
    ]  # fmt: skip
    # paediatric: 1 ET, 2 NET, 3 CC, 4 ED; NET and CC are both core, written back as NET (as the region mode)
    ped = torch.tensor([0, 1, 2, 3, 4]).reshape(1, 5, 1, 1)
    assert label_to_classes(ped, "brats2024_ped").flatten().tolist() == [0, 3, 1, 1, 2]
    assert classes_to_label(torch.tensor([0, 1, 2, 3]), "brats2024_ped").tolist() == [0, 2, 4, 1]


def test_bad_labels_and_class_maps_are_errors_naming_them():
    with pytest.raises(ValueError, match=r"\[3\].*'BraTS2021_00007'.*brats2021"):
        LabelToClassesd()({"label": torch.tensor([[0.0, 3.0]]), "convention": "brats2021", "case": "BraTS2021_00007"})
    with pytest.raises(ValueError, match="not one of"):
        LabelToClassesd()({"label": torch.zeros(1, 2), "convention": "kits19"})
    with pytest.raises(ValueError, match=r"class map values \[4\]"):
        classes_to_label(torch.tensor([0, 4]), "brats2023")
    with pytest.raises(ValueError, match=r"class map values \[0.5\]"):
        classes_to_label(torch.tensor([0.5]), "brats2023")


# -------------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("convention", ["brats2021", "brats2023", "msd_task01"])
def test_validation_scores_the_regions_of_the_argmax(convention):
    """A hand-made 4-class prediction (a voxel of each class and one more of each tumour class) gives the regions
    TC = NCR + ET, WT = NCR + ED + ET, ET, whatever the data set's label values."""
    p = eager_config(*TRAIN)
    post = p.get_parsed_content("validate#postprocessing")
    classes = torch.tensor([0, 1, 2, 3, 1, 2, 3, 0]).reshape(2, 2, 2)
    label = torch.zeros(3, 2, 2, 2)
    out = post({"pred": one_hot_logits(classes), "label": label, "convention": convention})
    expected = {
        "tc": [0, 1, 0, 1, 1, 0, 1, 0],
        "wt": [0, 1, 1, 1, 1, 1, 1, 0],
        "et": [0, 0, 0, 1, 0, 0, 1, 0],
    }
    for region, voxels in expected.items():
        assert out[f"pred_{region}"].shape == (1, 2, 2, 2)
        assert out[f"pred_{region}"].flatten().tolist() == voxels, region
        assert f"label_{region}" in out


def test_validation_labels_stay_regions_and_training_labels_become_classes():
    p = eager_config(*TRAIN)
    val_labels = [t for t in p.get_parsed_content("label_transforms")]
    train_labels = p.get_parsed_content("class_label_transforms")
    label = torch.tensor([0.0, 1.0, 2.0, 4.0]).reshape(1, 4, 1, 1)
    data = {"label": label, "convention": "brats2021"}
    assert val_labels[0](data)["label"].shape == (3, 4, 1, 1)
    assert train_labels[0](data)["label"].flatten().tolist() == [0, 1, 2, 3]


# --------------------------------------------------------------------------------------------- tiny runs (slow)


@pytest.fixture(scope="module")
def label_mode_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("brats_labels")
    overrides = {
        "bundle_root": str(root),
        "synthetic_num_cases": 5,
        "synthetic_shape": [24, 24, 16],
        "val_fraction": 0.4,
        "loss_name": WASSERSTEIN,
        "loss_compile": False,
        **TINY_TRAIN,
    }
    run_bundle(list(TRAIN), overrides)
    run_bundle(list(EVALUATE), overrides)
    run_bundle(list(INFERENCE), {k: v for k, v in overrides.items() if k in ("bundle_root", *TINY_NET)})
    return root


def test_train_evaluate_and_inference_in_label_mode(label_mode_runs):
    root = label_mode_runs
    state = torch.load(root / "models" / "model.pt", weights_only=True)
    assert state["conv_final.2.conv.weight"].shape[0] == 4  # four softmax outputs
    with open(root / "eval" / "metrics_per_case.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    split = json.loads((root / "eval" / "datalist_split.json").read_text())
    assert [r["case"] for r in rows] == [e["case"] for e in split["validation"]]
    assert {f"dice_{r}" for r in ("tc", "wt", "et")} <= set(rows[0])
    assert all(0 <= float(r["dice_wt"]) <= 1 for r in rows)
    summary = json.loads((root / "eval" / "metrics_summary.json").read_text())
    assert set(summary["lesion_detection"]) == {"tc", "wt", "et"}
    cases = sorted(p.name for p in (root / "data" / "synthetic_brats").iterdir() if p.is_dir())
    for case in cases:
        image = nib.load(root / "data" / "synthetic_brats" / case / f"{case}_flair.nii.gz")
        pred = nib.load(root / "eval" / "predictions" / f"{case}.nii.gz")
        assert pred.shape == image.shape and np.allclose(pred.affine, image.affine)
        assert pred.get_data_dtype() == np.uint8
        assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= {0, 1, 2, 4}  # BraTS 2021 values, never 3
