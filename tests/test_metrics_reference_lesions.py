"""Per-reference-lesion outcomes of the official BraTS matching, against hand-computed cases."""

import numpy as np
import pytest

from scripts.metrics import reference_lesion_outcomes


def _cube(shape, lo, hi):
    m = np.zeros(shape, bool)
    m[tuple(slice(a, b) for a, b in zip(lo, hi))] = True
    return m


def test_matched_missed_and_false_positive_lesions():
    ref = _cube((12, 12, 12), (0, 0, 0), (3, 3, 3)) | _cube((12, 12, 12), (8, 8, 8), (10, 10, 10))
    # 18 of the 27-voxel cube: Dice 2*18/(27+18) = 0.8; two stray predicted voxels far from both lesions
    pred = _cube((12, 12, 12), (0, 0, 0), (3, 3, 2)) | _cube((12, 12, 12), (0, 10, 0), (1, 11, 1))
    pred[11, 0, 11] = True
    outcomes, fp = reference_lesion_outcomes(pred, ref)
    assert [(o.voxels, o.detected) for o in outcomes] == [(27, True), (8, False)]
    assert outcomes[0].dice == pytest.approx(0.8) and outcomes[1].dice == 0.0
    assert fp == 2


def test_one_predicted_lesion_over_two_reference_lesions_matches_one():
    ref = _cube((10, 10, 10), (0, 0, 0), (2, 2, 2)) | _cube((10, 10, 10), (0, 0, 4), (4, 4, 8))  # 8 and 64 voxels
    pred = _cube((10, 10, 10), (0, 0, 0), (2, 2, 8))  # 32 voxels: 8 on the small lesion, 16 on the large one
    outcomes, fp = reference_lesion_outcomes(pred, ref)
    # Dice with the small lesion 2*8/(8+32) = 0.4, with the large 2*16/(64+32) = 1/3: one-to-one keeps the small
    assert [(o.voxels, o.detected) for o in outcomes] == [(8, True), (64, False)]
    assert outcomes[0].dice == pytest.approx(0.4) and fp == 0


def test_empty_prediction_and_shape_mismatch():
    ref = _cube((6, 6, 6), (1, 1, 1), (3, 3, 3))
    outcomes, fp = reference_lesion_outcomes(np.zeros_like(ref), ref)
    assert [(o.voxels, o.detected, o.dice) for o in outcomes] == [(8, False, 0.0)] and fp == 0
    with pytest.raises(ValueError, match="same shape"):
        reference_lesion_outcomes(np.zeros((6, 6, 5), bool), ref)
