"""In-memory synthetic volumes whose rare foreground covers an exact number of voxels.

Each volume: a smooth random background (Gaussian-filtered noise) plus voxel noise, a few larger "distractor"
blobs a little brighter than the background (label 0), and ``blobs`` compact foreground objects (label 1) of
exactly ``round(fraction * voxels)`` voxels in total: each object is the set of voxels nearest to a random
centre (a discrete ball, ties broken by a tiny random jitter), so the rare-class fraction is controlled to
the voxel instead of only approximately through a radius.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

FOREGROUND_CONTRAST = 1.0
DISTRACTOR_CONTRAST = 0.5
NOISE_STD = 0.35
FIELD_STD = 0.3


def foreground_voxels(fraction: float, shape: tuple[int, ...], blobs: int = 1) -> int:
    """Foreground voxel count of one volume: ``round(fraction * prod(shape))``, at least one voxel per object."""
    return max(blobs, int(round(fraction * int(np.prod(shape)))))


def _ball_indices(rng: np.random.Generator, shape: tuple[int, ...], count: int, taken: np.ndarray) -> np.ndarray:
    """Flat indices of the ``count`` free voxels nearest to a random centre away from the border."""
    radius = (3.0 * count / (4.0 * np.pi)) ** (1.0 / 3.0) + 1.0
    centre = np.array([rng.uniform(min(radius, s / 2 - 1), max(s - 1 - radius, s / 2)) for s in shape])
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    dist = sum((g - c) ** 2 for g, c in zip(grids, centre)).ravel().astype(np.float64)
    dist += rng.uniform(0, 1e-3, dist.shape)
    dist[taken.ravel()] = np.inf
    return np.argsort(dist, kind="stable")[:count]


def make_volume(
    rng: np.random.Generator, shape: tuple[int, int, int], fraction: float, blobs: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """One (image, label) pair, float32 and uint8 arrays of ``shape``; see the module docstring."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}.")
    if blobs < 1:
        raise ValueError(f"blobs must be >= 1, got {blobs}.")
    n_fg = foreground_voxels(fraction, shape, blobs)
    label = np.zeros(shape, dtype=bool)
    sizes = [n_fg // blobs + (1 if i < n_fg % blobs else 0) for i in range(blobs)]
    for size in sizes:
        label.ravel()[_ball_indices(rng, shape, size, label)] = True
    distractors = np.zeros(shape, dtype=bool)
    for _ in range(3):
        size = int(rng.integers(max(8, n_fg // 2), max(16, 2 * n_fg) + 1))
        distractors.ravel()[_ball_indices(rng, shape, size, label | distractors)] = True
    field = gaussian_filter(rng.standard_normal(shape), sigma=4.0)
    field *= FIELD_STD / (field.std() + 1e-8)
    image = field + NOISE_STD * rng.standard_normal(shape)
    image += FOREGROUND_CONTRAST * label + DISTRACTOR_CONTRAST * distractors
    return image.astype(np.float32), label.astype(np.uint8)


def make_split(seed: int, count: int, shape: tuple[int, int, int], fraction: float, blobs: int = 1):
    """``count`` volumes as arrays of shape (count, 1, *shape): images float32, labels uint8."""
    rng = np.random.default_rng(seed)
    pairs = [make_volume(rng, shape, fraction, blobs) for _ in range(count)]
    images = np.stack([p[0] for p in pairs])[:, None]
    labels = np.stack([p[1] for p in pairs])[:, None]
    return images, labels


def make_dataset(seed: int, level: float, shape, blobs: int, n_train: int, n_val: int, n_test: int) -> dict:
    """Train/val/test splits for one (level, seed), each from its own deterministic stream."""
    shape = tuple(int(s) for s in shape)
    return {
        split: make_split(seed * 1000 + k, n, shape, level, blobs)
        for k, (split, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test)))
    }
