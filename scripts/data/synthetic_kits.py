"""Synthetic KiTS-like abdominal CT cases in the KiTS19 file layout and affine convention.

Each case is a contrast-enhanced abdomen in Hounsfield units: air (-1000) around an elliptic body with a
subcutaneous fat layer (-100), soft tissue (~45), a vertebra (~350) in front of the back, liver (~105) and spleen
(~115) as distractors of kidney-like brightness, and two kidneys (cortex ~190, medulla ~130), one of which carries
a small tumour (a sphere on the kidney surface, partly exophytic, hypo-enhancing ~85 with heterogeneity). Kidney
and tumour size and position, contrast and noise vary between cases. Labels: 0 background, 1 kidney, 2 tumour
(the tumour overrides the kidney); the tumour is typically 0.05-0.3 % of the voxels.

Files: ``<out>/case_00000/imaging.nii.gz`` (int16 HU) and ``segmentation.nii.gz`` (uint8). As in KiTS19 the
arrays are stored slice axis first, ``(z, y, x)``, with a permuted affine whose first column is the axial
direction: ``[[0, 0, -sx, 0], [0, -sy, 0, 0], [-sz, 0, 0, 0], [0, 0, 0, 1]]`` (nibabel axis codes I, P, L), so a
pipeline only gets the orientation right by reading the affine.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from .phantoms import check_count, check_shape, ellipsoid_distance, save_nifti, smooth_field

HU = {
    "air": -1000.0,
    "fat": -100.0,
    "soft": 45.0,
    "bone": 350.0,
    "liver": 105.0,
    "spleen": 115.0,
    "cortex": 190.0,
    "medulla": 130.0,
    "tumour": 85.0,
}


def kits_affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """Affine of a ``(z, y, x)`` array with voxel ``spacing`` ``(sz, sy, sx)`` mm, KiTS19 style."""
    sz, sy, sx = (float(s) for s in spacing)
    return np.array([[0.0, 0, -sx, 0], [0, -sy, 0, 0], [-sz, 0, 0, 0], [0, 0, 0, 1.0]])


def kits_phantom(
    shape: tuple[int, int, int], spacing: tuple[float, float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(ct (z, y, x) float32 HU, label uint8)`` of one synthetic case; ``y`` grows toward the back."""
    shape = check_shape(shape)
    grid = [g.astype(np.float32) for g in np.ogrid[tuple(slice(0, s) for s in shape)]]
    spacing_arr = np.array(spacing, dtype=np.float64)
    size = np.array(shape, dtype=np.float64)
    mm = 1.0 / spacing_arr  # voxels per mm along z, y, x
    centre = size / 2

    # Body: an elliptic cylinder along z (semi-axes ~ 40 % of the in-plane field of view), fat rim ~ 12 mm.
    body_r = np.array([1e6, 0.36 * size[1], 0.44 * size[2]]) * np.r_[1, rng.uniform(0.9, 1.05, 2)]
    d_body = ellipsoid_distance(grid, centre, body_r) * (1 + 0.03 * smooth_field(rng, shape, 4))
    body = d_body < 1.0
    inner = d_body < 1.0 - 12.0 * mm[1] / body_r[1]
    spine_c = centre + np.array([0, 0.5 * body_r[1], 0])
    spine = ellipsoid_distance(grid, spine_c, np.array([1e6, 16.0 * mm[1], 18.0 * mm[2]])) < 1.0

    # Organs in the upper abdomen: liver on the patient's right (low x index), spleen on the left.
    z_top = size[0] * 0.15
    liver = (
        ellipsoid_distance(
            grid,
            np.array([z_top, centre[1] - 0.1 * body_r[1], centre[2] - 0.45 * body_r[2]]),
            np.array([70.0, 55.0, 65.0]) * mm * rng.uniform(0.85, 1.1, 3),
        )
        < 1.0
    )
    spleen = (
        ellipsoid_distance(
            grid,
            np.array([z_top, centre[1] + 0.3 * body_r[1], centre[2] + 0.6 * body_r[2]]),
            np.array([45.0, 30.0, 25.0]) * mm * rng.uniform(0.85, 1.1, 3),
        )
        < 1.0
    )

    # Kidneys: ellipsoids beside the spine, long axis along z, with a medulla inside.
    kidney = np.zeros(shape, dtype=bool)
    medulla = np.zeros(shape, dtype=bool)
    kidney_geom = []
    for side in (-1, 1):
        c = np.array(
            [
                centre[0] + rng.uniform(-0.08, 0.08) * size[0],
                spine_c[1] - rng.uniform(12, 25) * mm[1],
                centre[2] + side * rng.uniform(55, 70) * mm[2],
            ]
        )
        r = np.array([55.0, 28.0, 25.0]) * mm * rng.uniform(0.85, 1.15, 3)
        d = ellipsoid_distance(grid, c, r)
        kidney |= d < 1.0
        medulla |= d < 0.55
        kidney_geom.append((c, r))
    kidney &= inner
    # Tumour: a sphere centred on the lateral or anterior surface of one kidney, radius 8-18 mm, inside the body.
    c, r = kidney_geom[int(rng.integers(2))]
    lateral = np.sign(c[2] - centre[2])
    tumour = np.zeros(shape, dtype=bool)
    for _ in range(20):  # redraw the rare tumour that would fall outside the abdomen
        angle = rng.uniform(-0.15 * np.pi, 0.5 * np.pi)
        direction = np.array([rng.uniform(-0.5, 0.5), -np.sin(angle), lateral * np.cos(angle)])
        on_surface = c + direction / np.linalg.norm(direction / r)
        radius = rng.uniform(8.0, 18.0) * mm
        d_tumour = ellipsoid_distance(grid, on_surface, radius) * (1 + 0.1 * smooth_field(rng, shape, 6))
        tumour = (d_tumour < 1.0) & inner
        if tumour.sum() >= 0.5 * (d_tumour < 1.0).sum() > 0:
            break
    ct = np.full(shape, HU["air"], dtype=np.float32)
    ct[body] = HU["fat"]
    for name, mask in (("soft", inner), ("liver", liver & inner), ("spleen", spleen & inner), ("bone", spine)):
        ct[mask] = HU[name]
    enhancement = rng.uniform(0.85, 1.15)
    ct[kidney] = HU["cortex"] * enhancement
    ct[kidney & medulla] = HU["medulla"] * enhancement
    ct[tumour] = HU["tumour"] * rng.uniform(0.85, 1.15) + 20.0 * smooth_field(rng, shape, 10)[tumour]
    ct += np.where(body, 10.0 * smooth_field(rng, shape, 12), 0.0).astype(np.float32)
    ct = ndimage.gaussian_filter(ct, (0.4, 0.7, 0.7))
    ct += rng.normal(0.0, rng.uniform(12.0, 20.0), shape).astype(np.float32)

    label = np.zeros(shape, dtype=np.uint8)
    label[kidney] = 1
    label[tumour] = 2
    return np.clip(ct, -1024.0, 3071.0), label


def make_synthetic_kits(
    out_dir: str,
    num_cases: int = 8,
    shape: tuple[int, int, int] = (48, 128, 128),
    seed: int = 0,
    spacing: tuple[float, float, float] = (3.0, 2.0, 2.0),
) -> str:
    """Write ``num_cases`` synthetic cases in the KiTS19 layout to ``out_dir``; return its absolute path.

    ``shape`` and ``spacing`` are ``(z, y, x)`` (slices first, as stored); the default field of view is
    144 x 256 x 256 mm. Case ``i`` depends only on ``(seed, i)``. See the module docstring for the content.
    """
    shape = check_shape(shape)
    num_cases = check_count(num_cases, "num_cases")
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f"spacing must be 3 positive numbers (z, y, x) in mm, got {spacing!r}.")
    out_dir = os.path.abspath(str(out_dir))
    affine = kits_affine(spacing)
    for i in range(num_cases):
        ct, label = kits_phantom(shape, spacing, np.random.default_rng([int(seed), i]))
        case_dir = os.path.join(out_dir, f"case_{i:05d}")
        save_nifti(np.round(ct).astype(np.int16), affine, os.path.join(case_dir, "imaging.nii.gz"))
        save_nifti(label, affine, os.path.join(case_dir, "segmentation.nii.gz"))
    return out_dir
