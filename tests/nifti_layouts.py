"""Write tiny cases in each real data set layout with nibabel, for tests.

Every ``write_*`` function returns what it wrote (paths, absolute). Images are non-constant random intensities
(deterministic per case id); labels default to a small nested tumour holding every class of the convention
(see :func:`default_label`). Use ``labels=`` for your own array, ``omit=`` to leave files out.

    from nifti_layouts import write_brats2021_case, write_kits19_case
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable, Sequence

import nibabel as nib
import numpy as np

BRATS2021_MODALITIES = ("flair", "t1", "t1ce", "t2")
BRATS2023_MODALITIES = ("t2f", "t1n", "t1c", "t2w")  # same channel order: FLAIR, T1, T1ce, T2
BRATS_AFFINE = np.array([[-1.0, 0, 0, 0], [0, -1.0, 0, 239.0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
MSD_AFFINE = np.eye(4)
# KiTS19: arrays (z, y, x), first column axial.
KITS_AFFINE = np.array([[0.0, 0, -0.8, 0], [0, -0.8, 0, 0], [-3.0, 0, 0, 0], [0, 0, 0, 1.0]])


def write_nifti(path: str, array: np.ndarray, affine: np.ndarray | None = None) -> str:
    """Save ``array`` to ``path`` (folders created) with ``affine`` (identity by default); return the path.
    int64 / float64 arrays (e.g. from Python lists) are stored as int16 / float32."""
    path = os.path.abspath(str(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.asarray(array)
    arr = arr.astype({"i": np.int16, "f": np.float32}[arr.dtype.kind]) if arr.dtype.itemsize == 8 else arr
    nib.save(nib.Nifti1Image(arr, np.eye(4) if affine is None else np.asarray(affine)), path)
    return path


def random_image(case_id: str, shape: Sequence[int], salt: str = "", dtype=np.int16) -> np.ndarray:
    """Positive, non-constant intensities, the same for the same ``(case_id, salt)``."""
    rng = np.random.default_rng(zlib.crc32(f"{case_id}/{salt}".encode()))
    return rng.integers(1, 1000, size=tuple(shape)).astype(dtype)


def default_label(shape: Sequence[int], values: Sequence[int] = (2, 1, 4)) -> np.ndarray:
    """Zeros with a nested tumour: a box of ``values[0]`` (outer), inside it a box of ``values[1]``, and one voxel
    of ``values[2]`` (inner). Needs every dim >= 4. ``values=(1, 2)`` gives a KiTS kidney with a tumour voxel."""
    shape = tuple(int(s) for s in shape)
    if min(shape) < 4:
        raise ValueError(f"default_label needs every dim >= 4, got {shape}")
    label = np.zeros(shape, dtype=np.uint8)
    lo = [s // 4 for s in shape]
    hi = [max(s - s // 4, lo_ + 2) for s, lo_ in zip(shape, lo)]
    label[tuple(slice(a, b) for a, b in zip(lo, hi))] = values[0]
    if len(values) > 1:
        label[tuple(slice(a + 1, b) for a, b in zip(lo, hi))] = values[1]
    if len(values) > 2:
        label[tuple(a + 1 for a in lo)] = values[2]
    return label


def _write_brats(
    root: str,
    case_id: str,
    modalities: Sequence[str],
    sep: str,
    shape: Sequence[int],
    labels: np.ndarray | None,
    default_values: Sequence[int],
    omit: Iterable[str],
    with_label: bool,
    ext: str,
    affine: np.ndarray,
) -> dict:
    omit = set(omit)
    case_dir = os.path.join(os.path.abspath(str(root)), case_id)
    out: dict = {"case": case_id, "dir": case_dir, "image": []}
    for m in modalities:
        path = os.path.join(case_dir, f"{case_id}{sep}{m}{ext}")
        out["image"].append(path)
        if m not in omit:
            write_nifti(path, random_image(case_id, shape, m), affine)
    if with_label and "seg" not in omit:
        lab = default_label(shape, default_values) if labels is None else labels
        out["label"] = write_nifti(os.path.join(case_dir, f"{case_id}{sep}seg{ext}"), lab, affine)
    return out


def write_brats2021_case(
    root: str,
    case_id: str = "BraTS2021_00000",
    shape: Sequence[int] = (8, 8, 6),
    labels: np.ndarray | None = None,
    omit: Iterable[str] = (),
    with_label: bool = True,
    ext: str = ".nii.gz",
    affine: np.ndarray = BRATS_AFFINE,
) -> dict:
    """``root/<case>/<case>_{flair,t1,t1ce,t2,seg}<ext>`` (BraTS 2020 uses ``ext=".nii"`` and
    ``BraTS20_Training_001`` ids). ``omit`` names modalities (or ``"seg"``) not to write. Labels 0/1/2/4."""
    return _write_brats(
        root, case_id, BRATS2021_MODALITIES, "_", shape, labels, (2, 1, 4), omit, with_label, ext, affine
    )


def write_brats2023_case(
    root: str,
    case_id: str = "BraTS-GLI-00000-000",
    shape: Sequence[int] = (8, 8, 6),
    labels: np.ndarray | None = None,
    omit: Iterable[str] = (),
    with_label: bool = True,
    affine: np.ndarray = BRATS_AFFINE,
) -> dict:
    """``root/<case>/<case>-{t2f,t1n,t1c,t2w,seg}.nii.gz``; labels 0/1/2/3 (ET 3)."""
    return _write_brats(
        root, case_id, BRATS2023_MODALITIES, "-", shape, labels, (2, 1, 3), omit, with_label, ".nii.gz", affine
    )


def write_msd_task01(
    root: str,
    shape: Sequence[int] = (8, 8, 6),
    num_train: int = 2,
    num_test: int = 1,
    labels: dict[int, np.ndarray] | None = None,
    affine: np.ndarray = MSD_AFFINE,
    resource_forks: bool = True,
) -> dict:
    """``root/Task01_BrainTumour/`` with ``dataset.json``, ``imagesTr/BRATS_00i.nii.gz`` (4-D, channels last:
    FLAIR, T1w, t1gd, T2w), ``labelsTr/`` (labels 1 oedema, 2 non-enhancing, 3 enhancing) and ``imagesTs/``.
    ``resource_forks`` also writes the ``._BRATS_001.nii.gz`` junk files of the real archive.
    Returns ``{"dir", "training": [(image, label)], "test": [image]}``."""
    task = os.path.join(os.path.abspath(str(root)), "Task01_BrainTumour")
    training, test = [], []
    for i in range(1, num_train + num_test + 1):
        name = f"BRATS_{i:03d}.nii.gz"
        image4d = np.stack([random_image(name, shape, str(c)) for c in range(4)], axis=-1).astype(np.float32)
        if i <= num_train:
            img = write_nifti(os.path.join(task, "imagesTr", name), image4d, affine)
            lab = (labels or {}).get(i)
            lab = default_label(shape, (1, 2, 3)) if lab is None else lab
            training.append((img, write_nifti(os.path.join(task, "labelsTr", name), lab, affine)))
            if resource_forks:
                with open(os.path.join(task, "imagesTr", "._" + name), "wb") as f:
                    f.write(b"\x00\x05\x16\x07junk")
        else:
            test.append(write_nifti(os.path.join(task, "imagesTs", name), image4d, affine))
    content = {
        "name": "BRATS",
        "tensorImageSize": "4D",
        "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
        "labels": {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
        "numTraining": num_train,
        "numTest": num_test,
        "training": [
            {"image": "./imagesTr/" + os.path.basename(i), "label": "./labelsTr/" + os.path.basename(lb)}
            for i, lb in training
        ],
        "test": ["./imagesTs/" + os.path.basename(t) for t in test],
    }
    with open(os.path.join(task, "dataset.json"), "w") as f:
        json.dump(content, f, indent=2)
    return {"dir": task, "training": training, "test": test}


def _write_kits(
    root: str,
    case_id: str,
    folder: str,
    shape: Sequence[int],
    labels: np.ndarray | None,
    with_segmentation: bool,
    affine: np.ndarray,
    label_name: str = "segmentation",
) -> dict:
    case_dir = os.path.join(os.path.abspath(str(root)), folder, case_id) if folder else os.path.join(root, case_id)
    case_dir = os.path.abspath(case_dir)
    ct = random_image(case_id, shape, "ct").astype(np.int16) - 500
    out = {"case": case_id, "dir": case_dir, "image": write_nifti(os.path.join(case_dir, "imaging.nii.gz"), ct, affine)}
    if with_segmentation:
        lab = default_label(shape, (1, 2)) if labels is None else labels
        out["label"] = write_nifti(os.path.join(case_dir, f"{label_name}.nii.gz"), lab, affine)
    return out


def write_kits19_case(
    root: str,
    case_id: str = "case_00000",
    shape: Sequence[int] = (6, 8, 8),
    labels: np.ndarray | None = None,
    with_segmentation: bool = True,
    folder: str = "data",
    affine: np.ndarray = KITS_AFFINE,
) -> dict:
    """``root/<folder>/<case>/imaging.nii.gz`` (int16 HU) and ``segmentation.nii.gz`` (0/1/2), arrays stored
    ``(z, y, x)`` with the KiTS19 permuted affine. ``folder=""`` writes the case directly into ``root``."""
    return _write_kits(root, case_id, folder, shape, labels, with_segmentation, affine)


def write_kits23_case(
    root: str,
    case_id: str = "case_00000",
    shape: Sequence[int] = (6, 8, 8),
    labels: np.ndarray | None = None,
    with_segmentation: bool = True,
    folder: str = "dataset",
    affine: np.ndarray = KITS_AFFINE,
    kits21: bool = False,
) -> dict:
    """KiTS23: ``root/dataset/<case>/imaging.nii.gz``, ``segmentation.nii.gz`` (0/1/2/3, 3 cyst) and an
    ``instances/`` folder. ``kits21=True`` writes the KiTS21 variant: ``root/data/<case>/`` with
    ``aggregated_MAJ_seg.nii.gz`` and a ``segmentations/`` folder."""
    if labels is None:
        labels = default_label(shape, (1, 2))
        labels[tuple(s - 2 for s in labels.shape)] = 3
    folder = "data" if kits21 and folder == "dataset" else folder
    label_name = "aggregated_MAJ_seg" if kits21 else "segmentation"
    out = _write_kits(root, case_id, folder, shape, labels, with_segmentation, affine, label_name)
    os.makedirs(os.path.join(out["dir"], "segmentations" if kits21 else "instances"), exist_ok=True)
    return out


def write_decathlon_datalist(
    path: str,
    training: Sequence[dict] = (),
    validation: Sequence[dict] = (),
    test: Sequence[dict | str] = (),
    **top_level,
) -> str:
    """Write a decathlon-style datalist JSON (extra top-level keys such as ``convention=`` go in as given)."""
    content = {**top_level, "training": list(training), "validation": list(validation), "test": list(test)}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(content, f, indent=2)
    return os.path.abspath(path)
