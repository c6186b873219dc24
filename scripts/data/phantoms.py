"""Building blocks of the synthetic data sets: smooth random fields, shapes and NIfTI writing."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from scripts.files import write_nifti


def _smooth_basis(n: int, cells: int) -> np.ndarray:
    """(n, cells) weights of Gaussian bumps centred on ``cells`` evenly spaced nodes, rows summing to 1."""
    nodes = np.linspace(0.0, n - 1.0, cells)
    width = 0.6 * (n - 1.0) / max(cells - 1, 1)
    w = np.exp(-0.5 * ((np.arange(n)[:, None] - nodes[None, :]) / max(width, 1e-3)) ** 2)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cells: int = 6) -> np.ndarray:
    """A smooth random field of ``shape`` scaled to max |value| = 1: Gaussian values on a coarse grid of ``cells``
    nodes per axis, interpolated separably with Gaussian bumps (a few tensor contractions, fast)."""
    counts = [max(2, min(cells, s)) for s in shape]
    field = rng.standard_normal(counts).astype(np.float32)
    for axis, (n, c) in enumerate(zip(shape, counts)):
        field = np.moveaxis(np.tensordot(_smooth_basis(n, c), field, axes=([1], [axis])), 0, axis)
    return field / max(float(np.abs(field).max()), 1e-6)


def ellipsoid_distance(
    grid: tuple[np.ndarray, ...], center: np.ndarray, radii: np.ndarray, rotation: np.ndarray | None = None
) -> np.ndarray:
    """Normalised distance to ``center`` (1 on the surface of the ellipsoid with semi-axes ``radii``), in voxels;
    ``rotation`` (3 x 3) turns the ellipsoid's axes."""
    offsets = [g - c for g, c in zip(grid, center)]
    if rotation is not None:
        offsets = [sum(rotation[i, j] * offsets[j] for j in range(3)) for i in range(3)]
    return np.sqrt(sum((o / r) ** 2 for o, r in zip(offsets, radii)))


def random_rotation(rng: np.random.Generator, max_angle: float) -> np.ndarray:
    """A rotation matrix by angles drawn in ``[-max_angle, max_angle]`` (radians) about each axis."""
    a, b, c = rng.uniform(-max_angle, max_angle, 3)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def save_nifti(array: np.ndarray, affine: np.ndarray, path: str) -> str:
    """Write ``array`` with ``affine`` (stored as both qform and sform, code 'scanner') to ``path``."""
    img = nib.Nifti1Image(array, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    write_nifti(path, img)
    return path


def check_shape(shape: object, name: str = "shape", minimum: int = 8) -> tuple[int, int, int]:
    try:
        out = tuple(int(s) for s in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 integers, got {shape!r}.") from None
    if len(out) != 3 or min(out) < minimum:
        raise ValueError(f"{name} must be 3 integers >= {minimum}, got {shape!r}.")
    return out


def check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)
