"""Synthetic BraTS-like cases in the BraTS 2021 file layout (the bundle's built-in data set).

Each case is a skull-stripped "brain" (ellipsoid with grey and white matter and two ventricles) holding one
glioma-like tumour: an irregular oedema (following the white matter a little further), a tumour core with a
necrotic centre and an enhancing rim. The four modalities give each tissue a different contrast, roughly as in
glioma MRI: oedema bright on FLAIR and T2, enhancing rim bright on T1ce only, necrosis dark on T1/T1ce and bright on
T2, CSF bright on T2 and dark on FLAIR. Noise, bias fields, texture, per-case intensity scales and a few
enhancing "vessels" on T1ce (so that thresholding T1ce alone is not the answer) keep the task from being trivial;
tumour position, size, shape and contrast vary between cases. The enhancing tumour is 0.1-0.45 % of the voxels
(tumour core 0.2-1 %, whole tumour 1.5-7 %), the imbalance this project is about.

Files: ``<out>/BraTS2021_00000/BraTS2021_00000_{flair,t1,t1ce,t2,seg}.nii.gz``; images int16 (every third case
float32, as both occur in real downloads), labels uint8 with values 0, 1 (NCR), 2 (ED), 4 (ET). The affine is the
one of real BraTS volumes: 1 mm isotropic, x and y flipped, ``[[-1,0,0,0],[0,-1,0,Y-1],[0,0,1,0]]``.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from .phantoms import (
    check_count,
    check_shape,
    ellipsoid_distance,
    random_rotation,
    save_nifti,
    smooth_field,
)

MODALITIES = ("flair", "t1", "t1ce", "t2")
# Mean intensity of each tissue for FLAIR, T1, T1ce, T2 (arbitrary MR units).
TISSUE = {
    "gm": (420.0, 380.0, 390.0, 560.0),
    "wm": (350.0, 480.0, 490.0, 430.0),
    "csf": (110.0, 150.0, 150.0, 1100.0),
    "ed": (700.0, 340.0, 350.0, 820.0),
    "ncr": (540.0, 220.0, 220.0, 960.0),
    "et": (620.0, 420.0, 1000.0, 660.0),
}
VESSEL_T1CE = 820.0
NUM_VESSELS = 5


def brats_affine(shape: tuple[int, int, int]) -> np.ndarray:
    return np.array([[-1.0, 0, 0, 0], [0, -1.0, 0, shape[1] - 1.0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])


def _draw_segment(mask: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> None:
    """Mark a thin tube (voxels 6-connected to the sampled axis) from ``p0`` to ``p1``, clipped to the volume."""
    steps = int(np.ceil(2 * np.linalg.norm(p1 - p0))) + 1
    points = np.round(p0[None] + np.linspace(0.0, 1.0, steps)[:, None] * (p1 - p0)[None]).astype(int)
    for offset in ((0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
        q = points + np.array(offset)
        keep = np.all((q >= 0) & (q < np.array(mask.shape)), axis=1)
        mask[tuple(q[keep].T)] = True


def _bias_field(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """Smooth multiplicative bias around 1 (+-12 %), separable in x, y, z so it costs one broadcast."""
    parts = [smooth_field(rng, (n,), 3) for n in shape]
    return 1 + 0.04 * (parts[0][:, None, None] + parts[1][None, :, None] + parts[2][None, None, :])


def brats_phantom(shape: tuple[int, int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(images (4, *shape) float32, label shape uint8)`` of one synthetic case."""
    shape = check_shape(shape)
    grid = np.ogrid[tuple(slice(0, s) for s in shape)]
    grid = [g.astype(np.float32) for g in grid]
    size = np.array(shape, dtype=np.float64)
    scale = min(shape[0] / 96, shape[1] / 96, shape[2] / 64)

    center = size / 2 + rng.uniform(-0.03, 0.03, 3) * size
    radii = np.array([0.40, 0.44, 0.40]) * size * rng.uniform(0.93, 1.05, 3)
    d_brain = ellipsoid_distance(grid, center, radii) * (1 + 0.05 * smooth_field(rng, shape, 4))
    brain = d_brain < 1.0
    wm = brain & (smooth_field(rng, shape, 8) > -0.1) & (d_brain < 0.85)
    csf = np.zeros(shape, dtype=bool)
    for side in (-1, 1):
        c = center + np.array([side * 0.06, 0.02, 0.03]) * size
        csf |= ellipsoid_distance(grid, c, np.array([0.04, 0.13, 0.07]) * size * rng.uniform(0.8, 1.2, 3)) < 1
    csf &= brain

    # Tumour: irregular, anisotropic, rotated; core radius rc, rim thickness t, oedema radius ro (voxels).
    direction = rng.standard_normal(3)
    direction /= np.linalg.norm(direction)
    t_center = center + direction * rng.uniform(0.05, 0.45) * radii
    rc = rng.uniform(7.0, 11.0) * scale
    rim = rng.uniform(2.0, 3.2) * scale
    ro = rc + rng.uniform(3.0, 7.0) * scale
    d = ellipsoid_distance(grid, t_center, rng.uniform(0.8, 1.2, 3), random_rotation(rng, np.pi))
    d_core = d * (1 + 0.15 * smooth_field(rng, shape, 5))
    d_oedema = d * (1 + 0.3 * smooth_field(rng, shape, 5))
    wt = ((d_oedema < ro) | ((d_oedema < 1.25 * ro) & wm)) & brain
    tc = (d_core < rc) & brain
    # Erosion nests the parts exactly: every neighbour of a necrotic voxel is tumour core, and every neighbour
    # of a core voxel is whole tumour.
    necrosis = ndimage.binary_erosion(tc, iterations=max(1, round(rim)))
    et = tc & ~necrosis
    wt |= ndimage.binary_dilation(tc)
    label = np.zeros(shape, dtype=np.uint8)
    label[wt] = 2
    label[necrosis] = 1
    label[et] = 4

    tissue = {
        "gm": brain & ~wm & ~csf,
        "wm": wm & ~csf,
        "csf": csf,
    }
    vessels = np.zeros(shape, dtype=bool)
    for _ in range(NUM_VESSELS):
        p0 = center + rng.uniform(-0.7, 0.7, 3) * radii
        _draw_segment(vessels, p0, p0 + rng.standard_normal(3) * 0.2 * size)
    vessels &= brain & ~wt

    et_gain = rng.uniform(0.85, 1.1)
    images = np.zeros((4, *shape), dtype=np.float32)
    texture = 1 + 0.05 * smooth_field(rng, shape, 12)
    heterogeneity = 1 + 0.1 * smooth_field(rng, shape, 10)
    for m in range(4):
        x = np.zeros(shape, dtype=np.float32)
        for name, mask in tissue.items():
            x[mask] = TISSUE[name][m]
        x[wt] = TISSUE["ed"][m]
        x[necrosis] = TISSUE["ncr"][m]
        x[et] = TISSUE["et"][m] * (et_gain if MODALITIES[m] == "t1ce" else 1.0)
        if MODALITIES[m] == "t1ce":
            x[vessels] = VESSEL_T1CE
        x *= texture
        x[wt] *= heterogeneity[wt]
        x = ndimage.gaussian_filter(x, 0.5)  # partial volume
        x *= _bias_field(rng, shape)
        x += rng.normal(0.0, 0.05 * TISSUE["wm"][m] * rng.uniform(0.8, 1.3), shape).astype(np.float32)
        x *= rng.uniform(0.7, 1.4)  # scanner scale
        x[~brain] = 0.0
        images[m] = np.clip(x, 0.0, None)
    return images, label


def make_synthetic_brats(
    out_dir: str, num_cases: int = 12, shape: tuple[int, int, int] = (96, 96, 64), seed: int = 0
) -> str:
    """Write ``num_cases`` synthetic cases in the BraTS 2021 layout to ``out_dir``; return its absolute path.

    Case ``i`` depends only on ``(seed, i)``. See the module docstring for what the cases hold.
    """
    shape = check_shape(shape)
    num_cases = check_count(num_cases, "num_cases")
    out_dir = os.path.abspath(str(out_dir))
    affine = brats_affine(shape)
    for i in range(num_cases):
        rng = np.random.default_rng([int(seed), i])
        images, label = brats_phantom(shape, rng)
        case = f"BraTS2021_{i:05d}"
        case_dir = os.path.join(out_dir, case)
        dtype = np.float32 if i % 3 == 2 else np.int16
        for m, name in enumerate(MODALITIES):
            data = images[m] if dtype == np.float32 else np.round(images[m]).astype(np.int16)
            save_nifti(data, affine, os.path.join(case_dir, f"{case}_{name}.nii.gz"))
        save_nifti(label, affine, os.path.join(case_dir, f"{case}_seg.nii.gz"))
    return out_dir
