"""Synthetic thin structures: branching tubular trees 1-3 voxels wide, in 2D or 3D, with noise and distractors.

Each tree grows from a root near the border as a random walk with a smooth, slowly turning direction; a branch ends
after a drawn length and splits in two (up to ``generations`` levels), each child at most as wide as its parent
(vessels and airways taper). The centreline advances by half-voxel steps rounded to the grid, so consecutive
centreline voxels are neighbours (full connectivity: 26 in 3D, 8 in 2D) and every tree is one connected component.
A centreline voxel of width ``w`` is drawn with the footprint of ``w``: the voxel itself (1), the ``{0, 1}^n``
cube (2) or the cross of the voxel and its face neighbours (3). In 3D no tube is wider than 3 voxels: the distance
transform of the label is at most 2 (at most 1 for trees of width 1), forks included. In 2D a fork of two width-3
children can be thicker (distance up to 2.8 measured over 20 volumes of 64 x 64), the price of drawing in a plane.

A branch ends early where its next step would touch another branch (other than, at its first few steps, its
parent and sibling at the branch point) or leave the volume: trees never touch one another and branches never
cross, so the label has exactly ``n_trees`` components and no tube is thickened by a crossing.

Distractors are bright in the image, background in the label and at least one voxel away from every tree: small
blobs (balls of radius 1.5-2.5) and short straight segments one voxel wide, as bright as the tubes (isolated, so only
topology tells them from a tree). The image is a smooth random background plus Gaussian voxel noise plus the tubes'
and distractors' contrast.

Generated in memory (the thin-structure study, ``tools/study``); the bundle's workflows read BraTS / KiTS layouts.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter

TUBE_CONTRAST = 1.0
BLOB_CONTRAST = 1.0
SEGMENT_CONTRAST = 1.0
NOISE_STD = 0.3
FIELD_STD = 0.3
STEP = 0.5  # centreline step, voxels: below 1, so rounded consecutive points are grid neighbours
TURN_STD = 0.15  # change of direction per step (radians, about): gentle curves
GRACE = 8  # steps (4 voxels) in which a branch may touch its parent and siblings at the branch point


def footprint(width: int, ndim: int) -> np.ndarray:
    """Offsets (k, ndim) drawn around a centreline voxel for a tube ``width`` voxels wide (1, 2 or 3)."""
    if width == 1:
        return np.zeros((1, ndim), dtype=int)
    if width == 2:
        return np.array(list(itertools.product((0, 1), repeat=ndim)), dtype=int)
    if width == 3:
        return np.concatenate([np.zeros((1, ndim), int), np.eye(ndim, dtype=int), -np.eye(ndim, dtype=int)])
    raise ValueError(f"tube width must be 1, 2 or 3 voxels, got {width!r}.")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


class _Canvas:
    """The label being drawn, each voxel owned by the branch that drew it. A step is refused when its tube would
    leave the volume's margin or touch (full connectivity) a voxel of another branch: of another tree always, of
    its parent or a sibling only after the branch's first ``GRACE`` steps (where it leaves the branch point)."""

    def __init__(self, shape: tuple[int, ...], margin: int):
        self.shape = np.asarray(shape)
        self.owner = np.zeros(shape, dtype=np.int32)  # 0: background, else the branch id
        self.parent: dict[int, int] = {}
        self.margin = margin
        self.near = np.array(list(itertools.product((-1, 0, 1), repeat=len(shape))), dtype=int)

    def branch(self, parent: int) -> int:
        """A new branch id, child of ``parent`` (0 for a root)."""
        new = len(self.parent) + 1
        self.parent[new] = parent
        return new

    def _family(self, branch: int) -> set[int]:
        parent = self.parent[branch]
        if parent == 0:
            return {branch}
        return {branch, parent} | {b for b, p in self.parent.items() if p == parent}

    def draw(self, point: np.ndarray, width: int, branch: int, step: int) -> bool:
        voxels = np.round(point).astype(int) + footprint(width, len(self.shape))
        if np.any(voxels < self.margin) or np.any(voxels >= self.shape - self.margin):
            return False
        around = np.unique((voxels[:, None, :] + self.near[None]).reshape(-1, len(self.shape)), axis=0)
        around = around[np.all((around >= 0) & (around < self.shape), axis=1)]
        owners = set(np.unique(self.owner[tuple(around.T)]).tolist()) - {0, branch}
        allowed = self._family(branch) if step < GRACE else {branch}
        if owners - allowed:
            return False
        index = tuple(voxels.T)
        self.owner[index] = np.where(self.owner[index] == 0, branch, self.owner[index])
        return True


def _grow(canvas: _Canvas, rng, start, direction, width: int, generation: int, lengths, min_width: int,
          branch: int) -> None:  # fmt: skip
    """One branch from ``start`` (already drawn) along ``direction``, then its two children."""
    point, length = np.asarray(start, float), rng.uniform(*lengths)
    for step in range(int(length / STEP)):
        direction = _unit(direction + TURN_STD * rng.standard_normal(direction.size))
        nxt = point + STEP * direction
        if not canvas.draw(nxt, width, branch, step):
            return  # the branch ends where it would leave the volume or touch another branch
        point = nxt
    if generation <= 0:
        return
    children = [canvas.branch(branch) for _ in range(2)]
    for child in children:
        heading = _unit(direction + 0.9 * rng.standard_normal(direction.size))
        child_width = max(min_width, width - int(rng.integers(0, 2)))
        _grow(canvas, rng, point, heading, child_width, generation - 1, lengths, min_width, child)


def _root(rng, shape: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """A start point a few voxels inside a random face, heading inwards (towards a point near the centre)."""
    axis, side = int(rng.integers(len(shape))), int(rng.integers(2))
    start = rng.uniform(margin + 2, shape - margin - 3)
    start[axis] = margin + 2 if side == 0 else shape[axis] - margin - 3
    target = shape / 2 + rng.uniform(-0.25, 0.25, len(shape)) * shape
    return start, _unit(target - start)


def distractor_masks(rng, shape, label: np.ndarray, n_blobs: int, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Blob and segment masks, each at least one voxel away from the label and from each other."""
    ndim = len(shape)
    structure = np.ones((3,) * ndim, dtype=bool)
    blocked = binary_dilation(label, structure=structure, iterations=2)
    blobs, segments = np.zeros(shape, bool), np.zeros(shape, bool)
    grids = np.indices(shape)
    for kind in ["blob"] * n_blobs + ["segment"] * n_segments:
        for _attempt in range(50):
            centre = rng.uniform(3, np.asarray(shape) - 4)
            if kind == "blob":
                radius = rng.uniform(1.5, 2.5)
                mask = sum((g - c) ** 2 for g, c in zip(grids, centre)) <= radius**2
            else:
                d, n = _unit(rng.standard_normal(ndim)), int(rng.integers(4, 9))
                points = np.round(centre + np.arange(0, n, STEP)[:, None] * d).astype(int)
                if np.any(points < 1) or np.any(points >= np.asarray(shape) - 1):
                    continue
                mask = np.zeros(shape, bool)
                mask[tuple(points.T)] = True
            if not (mask & blocked).any():
                (blobs if kind == "blob" else segments)[mask] = True
                blocked |= binary_dilation(mask, structure=structure, iterations=2)
                break
    return blobs, segments


def make_tube_volume(
    rng: np.random.Generator,
    shape,
    n_trees: int = 2,
    generations: int = 3,
    widths: tuple[int, int] = (1, 3),
    branch_length: tuple[float, float] = (6.0, 14.0),
    n_blobs: int = 4,
    n_segments: int = 4,
    margin: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """One (image, label) pair of ``shape`` (2 or 3 axes): float32 image, uint8 label (module docstring).

    ``widths``: (thinnest, widest) tube in voxels, both in 1..3; roots get the widest, children taper to the
    thinnest. ``branch_length``: range of a branch's length in voxels. A tree that the volume has no room for is
    shorter (its branches end at the border or near another tree), never missing: each has at least its root voxel.

    Raises:
        ValueError: a shape that is not 2 or 3 axes of at least 16 voxels, widths outside 1..3 or decreasing,
            a non-positive tree count, negative generations or distractor counts.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 16:
        raise ValueError(f"shape must be 2 or 3 axes of at least 16 voxels, got {shape!r}.")
    lo, hi = (int(w) for w in widths)
    if not 1 <= lo <= hi <= 3:
        raise ValueError(f"widths must be (thinnest, widest) with 1 <= thinnest <= widest <= 3, got {widths!r}.")
    if n_trees < 1 or generations < 0 or n_blobs < 0 or n_segments < 0:
        raise ValueError(
            f"n_trees must be >= 1 and generations, n_blobs, n_segments >= 0, got {n_trees}, {generations}, "
            f"{n_blobs}, {n_segments}."
        )
    canvas = _Canvas(shape, margin)
    for tree in range(n_trees):
        for _attempt in range(100):
            start, direction = _root(rng, canvas.shape, margin)
            root = canvas.branch(0)
            if canvas.draw(start, hi, root, 0):
                _grow(canvas, rng, start, direction, hi, generations, branch_length, lo, root)
                break
        else:
            raise ValueError(f"no room for tree {tree + 1} of {n_trees} in a volume of {shape}.")
    label = canvas.owner > 0
    field = gaussian_filter(rng.standard_normal(shape), sigma=4.0)
    field *= FIELD_STD / (field.std() + 1e-8)
    image = field + NOISE_STD * rng.standard_normal(shape)
    # drawn last, so the same seed gives the same trees and background with or without distractors
    blobs, segments = distractor_masks(rng, shape, label, n_blobs, n_segments)
    image += TUBE_CONTRAST * label + BLOB_CONTRAST * blobs + SEGMENT_CONTRAST * segments
    return image.astype(np.float32), label.astype(np.uint8)


def make_tube_split(seed: int, count: int, shape, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``count`` volumes as arrays (count, 1, *shape): images float32, labels uint8, from ``seed`` alone."""
    rng = np.random.default_rng(seed)
    pairs = [make_tube_volume(rng, shape, **kwargs) for _ in range(count)]
    return np.stack([p[0] for p in pairs])[:, None], np.stack([p[1] for p in pairs])[:, None]
