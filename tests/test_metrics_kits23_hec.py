"""KiTS23 hierarchical evaluation classes: Dice and Surface Dice against counts and geometry worked out by hand.

(The Surface Dice, MONAI's ``compute_surface_dice(use_subvoxels=True)``, was also compared once with DeepMind's
``surface-distance`` package that the KiTS23 evaluation imports: 20 random 3-D pairs, isotropic and
3 x 0.78 x 0.78 mm, largest difference 1.2e-7.)
"""

import numpy as np
import pytest
import torch
from monai.transforms import LoadImage
from nifti_layouts import KITS_AFFINE, write_nifti

from scripts.metrics.kits23_hec_metric import KiTS23HECMetric
from scripts.metrics.kits23_hec_scores import kits23_hec_scores, surface_dice

ISO = (1.0, 1.0, 1.0)


def _case():
    ref = np.zeros((10, 12, 12), np.uint8)
    ref[2:8, 2:10, 2:10] = 1  # kidney: 6 * 8 * 8 = 384 voxels, 72 of them tumour or cyst below
    ref[3:5, 3:6, 3:6] = 2  # tumour: 18 voxels
    ref[6:8, 6:9, 6:9] = 3  # cyst: 18 voxels
    pred = ref.copy()
    pred[ref == 3] = 1  # the network has no cyst class: it predicts kidney there
    return pred, ref


def test_hec_dice_by_hand():
    pred, ref = _case()
    s = kits23_hec_scores(pred, ref, ISO)
    assert s["dice_kidney_and_masses"] == 1.0  # same union {1, 2, 3}
    assert s["dice_tumour"] == 1.0
    # masses: reference tumour + cyst = 36 voxels, predicted tumour 18 voxels, overlap 18
    assert s["dice_masses"] == pytest.approx(2 * 18 / (36 + 18))
    assert s["surface_dice_kidney_and_masses"] == pytest.approx(1.0) and s["surface_dice_tumour"] == pytest.approx(1.0)
    assert 0.0 < s["surface_dice_masses"] < 1.0  # the cyst's surface lies 1-3 voxels from the tumour's


def test_empty_classes_follow_the_challenge_rules():
    pred, ref = _case()
    ref[ref >= 2] = 1
    pred[pred >= 2] = 1
    s = kits23_hec_scores(pred, ref, ISO)  # no mass in either: 1 and 1
    assert (s["dice_masses"], s["surface_dice_masses"], s["dice_tumour"]) == (1.0, 1.0, 1.0)
    pred[4, 4, 4] = 2  # a tumour voxel where the reference has none: 0 and 0
    s = kits23_hec_scores(pred, ref, ISO)
    assert (s["dice_tumour"], s["surface_dice_tumour"]) == (0.0, 0.0)


def test_surface_dice_tolerance_and_spacing():
    a = np.zeros((12, 12, 12), bool)
    a[2:6, 2:6, 2:6] = True
    far = np.zeros_like(a)
    far[8:11, 8:11, 8:11] = True
    assert surface_dice(a, a, 1.0, ISO) == pytest.approx(1.0)
    assert surface_dice(a, far, 1.0, ISO) == pytest.approx(0.0)  # every surface element > 1 mm from the other
    shifted = np.roll(a, 1, axis=0)  # one voxel along axis 0
    assert surface_dice(a, shifted, 1.5, ISO) == pytest.approx(1.0)  # 1 mm <= tolerance everywhere
    assert surface_dice(a, shifted, 1.5, (3.0, 1.0, 1.0)) < 1.0  # 3 mm along axis 0 exceeds it


def test_metric_reads_the_cysts_from_the_reference_file(tmp_path):
    """The KiTS workflow maps cysts to kidney before scoring; the HEC metric reads the file and keeps them."""
    pred, ref = _case()
    path = write_nifti(str(tmp_path / "case_00000" / "segmentation.nii.gz"), ref, KITS_AFFINE)
    scored = LoadImage(image_only=True, ensure_channel_first=True)(path)
    scored = torch.where(scored == 3, torch.ones_like(scored), scored)[None]  # as KiTSLabelsd(cyst_as=1) leaves it
    metric = KiTS23HECMetric("dice", reduction="none")
    metric(torch.as_tensor(pred)[None, None].float(), scored)
    got = metric.aggregate().numpy()[0]
    np.testing.assert_allclose(got, [1.0, 2 * 18 / (36 + 18), 1.0])
