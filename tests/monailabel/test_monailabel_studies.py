"""scripts.monailabel.studies: a data set as a MONAI Label studies folder (one 4-D channel-last file per case)."""

from __future__ import annotations

import filecmp
import os

import nibabel as nib
import numpy as np
import pytest

from scripts.data.synthetic_brats import make_synthetic_brats
from scripts.monailabel.studies import copy_as_nii_gz, stack_channels_last, write_studies

MODALITY_ORDER = ("flair", "t1", "t1ce", "t2")  # the order of channel_def in configs/metadata.json


def save(array, path, affine=None):
    nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), path)
    return str(path)


def test_write_studies_stacks_brats_modalities(tmp_path):
    brats = make_synthetic_brats(str(tmp_path / "brats"), num_cases=3, shape=(12, 11, 10))
    studies = tmp_path / "studies"
    cases = write_studies(brats, str(studies))
    assert cases == sorted(os.listdir(brats))
    for case in cases:
        files = [nib.load(os.path.join(brats, case, f"{case}_{m}.nii.gz")) for m in MODALITY_ORDER]
        expected = np.stack([np.asanyarray(f.dataobj) for f in files], axis=-1)
        written = nib.load(studies / f"{case}.nii.gz")
        assert written.shape == (12, 11, 10, 4)
        assert written.get_data_dtype() == expected.dtype
        np.testing.assert_array_equal(np.asanyarray(written.dataobj), expected)
        np.testing.assert_allclose(written.affine, files[0].affine)
        label = os.path.join(brats, case, f"{case}_seg.nii.gz")
        assert filecmp.cmp(studies / "labels" / "final" / f"{case}.nii.gz", label, shallow=False)
    with pytest.raises(FileExistsError, match=f"{cases[0]}.nii.gz exists"):
        write_studies(brats, str(studies))


def test_write_studies_without_labels(tmp_path):
    brats = make_synthetic_brats(str(tmp_path / "brats"), num_cases=1, shape=(8, 8, 8))
    write_studies(brats, str(tmp_path / "studies"), with_labels=False)
    assert not (tmp_path / "studies" / "labels").exists()


def test_stack_rejects_mismatched_modalities(tmp_path):
    a = save(np.zeros((4, 4, 4), np.int16), tmp_path / "a.nii.gz")
    b = save(np.zeros((4, 4, 5), np.int16), tmp_path / "b.nii.gz")
    shifted = np.eye(4)
    shifted[0, 3] = 2.0
    c = save(np.zeros((4, 4, 4), np.int16), tmp_path / "c.nii.gz", shifted)
    d = save(np.zeros((4, 4, 4, 2), np.int16), tmp_path / "d.nii.gz")
    with pytest.raises(ValueError, match=r"b.nii.gz \(shape \(4, 4, 5\)\) does not match"):
        stack_channels_last([a, b], str(tmp_path / "out.nii.gz"))
    with pytest.raises(ValueError, match=r"c.nii.gz .* in shape or affine"):
        stack_channels_last([a, c], str(tmp_path / "out.nii.gz"))
    with pytest.raises(ValueError, match=r"d.nii.gz has shape \(4, 4, 4, 2\); expected a 3-D modality"):
        stack_channels_last([a, d], str(tmp_path / "out.nii.gz"))
    with pytest.raises(FileNotFoundError, match="missing.nii.gz"):
        stack_channels_last([a, str(tmp_path / "missing.nii.gz")], str(tmp_path / "out.nii.gz"))
    assert not (tmp_path / "out.nii.gz").exists()


def test_copy_as_nii_gz_compresses_plain_nifti(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    source = save(data, tmp_path / "x.nii")
    target = copy_as_nii_gz(source, str(tmp_path / "out" / "x.nii.gz"))
    with open(target, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"  # gzip magic
    np.testing.assert_array_equal(np.asanyarray(nib.load(target).dataobj), data)
    with pytest.raises(FileNotFoundError, match="nope.nii"):
        copy_as_nii_gz(str(tmp_path / "nope.nii"), target)
