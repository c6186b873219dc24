"""In-memory synthetic volumes with several lesions of known sizes plus distractors.

Each volume: a smooth random background (Gaussian-filtered noise) plus voxel noise; ``per_class`` lesions
(label 1) of every size class (tens, hundreds, thousands of voxels; the size drawn log-uniformly in the class's
range), each the set of free voxels nearest to a random centre (a discrete ball of exactly that many voxels);
and as many distractors (label 0) of the same sizes, half as bright. Lesions and distractors never touch
(a one-voxel margin), so every lesion is one connected component of the label.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter

from scripts.data.synthetic_tubes import make_tube_split

FOREGROUND_CONTRAST = 1.0
DISTRACTOR_CONTRAST = 0.5
NOISE_STD = 0.35
FIELD_STD = 0.3


def _ball(rng: np.random.Generator, grids, shape, count: int, blocked: np.ndarray) -> np.ndarray:
    """Flat indices of the ``count`` unblocked voxels nearest to a random centre away from the border."""
    radius = (3.0 * count / (4.0 * np.pi)) ** (1.0 / 3.0) + 1.0
    centre = [rng.uniform(min(radius, s / 2 - 1), max(s - 1 - radius, s / 2)) for s in shape]
    dist = sum((g - c) ** 2 for g, c in zip(grids, centre)).ravel().astype(np.float64)
    dist += rng.uniform(0, 1e-3, dist.shape)
    dist[blocked.ravel()] = np.inf
    return np.argpartition(dist, count)[:count]


def lesion_sizes(rng: np.random.Generator, size_classes, per_class: int) -> list[int]:
    """``per_class`` sizes per class, each log-uniform in the class's inclusive range."""
    return [
        int(round(np.exp(rng.uniform(np.log(lo), np.log(hi))))) for lo, hi in size_classes for _ in range(per_class)
    ]


def make_volume(rng: np.random.Generator, shape, size_classes, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """One (image, label) pair of ``shape``: float32 image, uint8 label (see the module docstring)."""
    shape = tuple(int(s) for s in shape)
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}.")
    sizes = lesion_sizes(rng, size_classes, per_class)
    if 2 * sum(sizes) * 3 > np.prod(shape):
        raise ValueError(f"volume {shape} too small for lesions and distractors of {sum(sizes)} voxels each.")
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    objects = np.zeros(shape, dtype=np.int16)  # 1..n lesions, -1 distractors
    structure = np.ones((3,) * len(shape), bool)
    for k, size in enumerate(sizes + lesion_sizes(rng, size_classes, per_class)):
        blocked = binary_dilation(objects != 0, structure=structure)
        objects.ravel()[_ball(rng, grids, shape, size, blocked)] = k + 1 if k < len(sizes) else -1
    label = objects > 0
    field = gaussian_filter(rng.standard_normal(shape), sigma=4.0)
    field *= FIELD_STD / (field.std() + 1e-8)
    image = field + NOISE_STD * rng.standard_normal(shape)
    image += FOREGROUND_CONTRAST * label + DISTRACTOR_CONTRAST * (objects < 0)
    return image.astype(np.float32), label.astype(np.uint8)


def make_split(seed: int, count: int, shape, size_classes, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` volumes as arrays (count, 1, *shape): images float32, labels uint8."""
    rng = np.random.default_rng(seed)
    pairs = [make_volume(rng, shape, size_classes, per_class) for _ in range(count)]
    return np.stack([p[0] for p in pairs])[:, None], np.stack([p[1] for p in pairs])[:, None]


def make_dataset(seed: int, level, size_classes, n_train: int, n_test: int, task: str = "lesions") -> dict:
    """Train and test splits of one (level, seed), each from its own deterministic stream; ``task="tubes"``: the
    tubular trees of ``scripts.data.synthetic_tubes``, ``level.per_class`` trees per volume."""
    splits = (("train", n_train), ("test", n_test))
    if task == "tubes":
        return {
            split: make_tube_split(seed * 1000 + k, n, level.shape, n_trees=level.per_class)
            for k, (split, n) in enumerate(splits)
        }
    return {
        split: make_split(seed * 1000 + k, n, level.shape, size_classes, level.per_class)
        for k, (split, n) in enumerate(splits)
    }
