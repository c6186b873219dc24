"""Synthetic BraTS prediction / reference pairs for the metric tests that compare with the official package: random
label maps, with the edge cases every comparison needs (a missed region, a false-positive region, a region empty in
both, an empty prediction)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def brats_metric_cases(
    rng: np.random.Generator, n: int, label_map: Callable, shape_range: tuple[int, int]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``n`` pairs ``(case name, prediction, reference)`` of ``label_map(rng, shape)`` with random shapes in
    ``shape_range``; cases 1-4 are the edge cases."""
    out = []
    for i in range(n):
        shape = tuple(int(s) for s in rng.integers(*shape_range, size=3))
        pred, ref = label_map(rng, shape), label_map(rng, shape)
        if i == 1:
            pred[pred == 3] = 0  # every enhancing lesion missed (region-wise Dice 0; lesion-wise Dice 0, HD95 inf)
        if i == 2:
            ref[ref == 3] = 0  # enhancing tumour predicted where the reference has none
        if i == 3:
            pred[pred == 3] = 0  # no enhancing tumour in either: NaN, left out of the means
            ref[ref == 3] = 0
        if i == 4:
            pred[:] = 0  # empty prediction
        out.append((f"BraTS-GLI-{i:05d}-000", pred, ref))
    return out
