"""Study metrics against values computed by hand on small arrays."""

import math

import numpy as np
import pytest

from tools.study.metrics import confusion_counts, rare_class_metrics


def test_counts_dice_precision_recall_by_hand():
    pred = np.array([1, 1, 0, 0, 1, 0], dtype=bool).reshape(1, 2, 3)
    ref = np.array([1, 0, 0, 1, 1, 0], dtype=bool).reshape(1, 2, 3)
    assert confusion_counts(pred, ref) == (2, 1, 1)  # TP, FP, FN
    m = rare_class_metrics(pred, ref)
    assert m["dice"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["empty_pred"] == 0.0


def test_over_segmentation_by_hand():
    pred = np.ones((2, 2, 1))
    ref = np.zeros((2, 2, 1))
    ref[0, 0, 0] = 1
    m = rare_class_metrics(pred, ref)  # TP 1, FP 3, FN 0
    assert m["dice"] == pytest.approx(2 / 5)
    assert m["precision"] == pytest.approx(1 / 4)
    assert m["recall"] == pytest.approx(1.0)


def test_hd95_by_hand():
    ref = np.zeros((5, 5, 8), dtype=bool)
    ref[2, 2, 2] = True
    pred = ref.copy()
    pred[2, 2, 6] = True
    # surface distances pred->ref: 0, 4; ref->pred: 0; pooled sorted [0, 0, 4], 95th percentile (linear) at
    # position 0.95 * 2 = 1.9: 0 + 0.9 * 4 = 3.6
    assert rare_class_metrics(pred, ref)["hd95"] == pytest.approx(3.6)


def test_missed_object_and_empty_masks():
    ref = np.zeros((5, 5, 8), dtype=bool)
    ref[1, 1, 1] = True
    missed = rare_class_metrics(np.zeros_like(ref), ref)
    assert missed["dice"] == 0.0 and missed["recall"] == 0.0
    assert math.isnan(missed["precision"]) and missed["empty_pred"] == 1.0
    assert missed["hd95"] == pytest.approx(math.sqrt(25 + 25 + 64))  # volume diagonal
    empty = rare_class_metrics(np.zeros_like(ref), np.zeros_like(ref))
    assert empty["dice"] == 1.0 and empty["hd95"] == 0.0
    assert math.isnan(empty["precision"]) and math.isnan(empty["recall"])


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"\(2, 2\) and \(2, 3\)"):
        rare_class_metrics(np.zeros((2, 2)), np.zeros((2, 3)))
