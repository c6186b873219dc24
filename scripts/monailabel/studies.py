"""Write a data set as a MONAI Label studies folder: one NIfTI per case, labels in ``labels/final``.

MONAI Label hands a model one image file per case. BraTS ships four 3-D files per case (FLAIR, T1, T1ce, T2), so
they are stacked into one 4-D channel-last file ``(H, W, D, 4)`` in that order (the bundle's ``LoadImaged`` with
``ensure_channel_first`` reads it as 4 channels); MSD Task01 4-D images and KiTS CTs are copied as they are.
Labels are copied unchanged: they must follow the bundle's ``label_convention`` (when unset,
``default_label_convention``, BraTS 2021: 1, 2, 4).

Command line (``fire``)::

    python -m scripts.monailabel.studies --dataset_dir /data/BraTS2021 --studies_dir studies
"""

from __future__ import annotations

import os
import shutil

import fire
import nibabel as nib
import numpy as np

from scripts.data import build_datalist
from scripts.files import atomic_path, write_nifti


def stack_channels_last(files: list[str], target: str) -> str:
    """Stack co-registered 3-D NIfTI ``files`` into one ``(H, W, D, len(files))`` NIfTI at ``target``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a file is not 3-D, or shapes or affines differ (the offending file is named).
    """
    images = []
    for path in files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"image file not found: {path}")
        images.append(nib.load(path))
    first = images[0]
    for path, image in zip(files, images):
        if len(image.shape) != 3:
            raise ValueError(f"{path} has shape {image.shape}; expected a 3-D modality.")
        if image.shape != first.shape or not np.allclose(image.affine, first.affine, atol=1e-4):
            raise ValueError(
                f"{path} (shape {image.shape}) does not match {files[0]} (shape {first.shape}) in shape or affine: "
                "the modalities of a case must be co-registered on one grid."
            )
    data = np.stack([np.asanyarray(image.dataobj) for image in images], axis=-1)
    out = nib.Nifti1Image(data, first.affine)
    out.set_qform(first.affine, code=1)
    out.set_sform(first.affine, code=1)
    write_nifti(target, out)
    return target


def copy_as_nii_gz(source: str, target: str) -> str:
    """Copy a ``.nii.gz`` file; re-save any other NIfTI (``.nii``) compressed, as ``target``."""
    if not os.path.isfile(source):
        raise FileNotFoundError(f"file not found: {source}")
    if str(source).endswith(".nii.gz"):
        with atomic_path(target) as tmp:
            shutil.copy2(source, tmp)
    else:
        write_nifti(target, nib.load(source))
    return target


def write_studies(
    dataset_dir: str, studies_dir: str, datalist_file: str | None = None, with_labels: bool = True
) -> list[str]:
    """Write every case of ``dataset_dir`` (any layout ``scripts.data.build_datalist`` recognises) to
    ``<studies_dir>/<case>.nii.gz`` and, when ``with_labels`` and labelled, ``labels/final/<case>.nii.gz``.

    Returns the case ids. Raises FileExistsError if a case's image already exists in ``studies_dir``.
    """
    entries = build_datalist(str(dataset_dir), datalist_file, require_label=False)
    studies_dir = os.path.abspath(str(studies_dir))
    cases = []
    for entry in entries:
        case = entry["case"]
        target = os.path.join(studies_dir, f"{case}.nii.gz")
        if os.path.exists(target):
            raise FileExistsError(f"{target} exists; write the studies to an empty folder.")
        image = entry["image"]
        if isinstance(image, list | tuple):
            stack_channels_last(list(image), target)
        else:
            copy_as_nii_gz(image, target)
        if with_labels and entry.get("label"):
            copy_as_nii_gz(entry["label"], os.path.join(studies_dir, "labels", "final", f"{case}.nii.gz"))
        cases.append(case)
    return cases


if __name__ == "__main__":
    fire.Fire(write_studies)
