"""scripts.files.atomic: every kind of file the bundle writes, atomically, mode 0644, previous file kept on failure."""

import errno
import json
import os
import signal
import stat
import textwrap

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch

from scripts.files import atomic_open, write_bytes, write_csv, write_json, write_nifti, write_text, write_torch
from tests.subprocesses import run_python


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _failing_torch_save(monkeypatch, err=None):
    """Make ``torch.save`` write half a checkpoint and then raise ``err`` (default: disk full)."""

    def save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise err or OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)


def test_json_round_trip_mode_and_parent_folder(tmp_path):
    content = {"training": ["a", "b"], "seed": 0, "fraction": 0.2}
    path = write_json(tmp_path / "new" / "split.json", content)
    assert path == str(tmp_path / "new" / "split.json")
    assert json.loads((tmp_path / "new" / "split.json").read_text()) == content
    assert _mode(path) == 0o644 and os.listdir(tmp_path / "new") == ["split.json"]


def test_json_passes_dumps_arguments(tmp_path):
    with pytest.raises(ValueError, match="Out of range float"):
        write_json(tmp_path / "x.json", {"v": float("nan")}, allow_nan=False)
    assert os.listdir(tmp_path) == []  # nothing half-written left
    write_json(tmp_path / "x.json", [1, 2], separators=(",", ":"), indent=None)
    assert (tmp_path / "x.json").read_text() == "[1,2]\n"


def test_csv_text_bytes_round_trip(tmp_path):
    frame = pd.DataFrame({"case": ["c1", "c2"], "dice": [0.5, 0.25]})
    write_csv(tmp_path / "m.csv", frame, float_format="%.6g")
    assert (tmp_path / "m.csv").read_text() == "case,dice\nc1,0.5\nc2,0.25\n"
    write_text(tmp_path / "t.md", "é\n")
    assert (tmp_path / "t.md").read_bytes() == "é\n".encode()
    write_bytes(tmp_path / "b.zip", b"\x00\x01")
    assert (tmp_path / "b.zip").read_bytes() == b"\x00\x01"
    assert {_mode(p) for p in tmp_path.iterdir()} == {0o644}


def test_atomic_open_for_the_csv_module_and_bad_mode(tmp_path):
    import csv

    with atomic_open(tmp_path / "rows.csv", "w", newline="") as f:
        csv.writer(f).writerows([["a", "b"], [1, 2]])
    assert (tmp_path / "rows.csv").read_bytes() == b"a,b\r\n1,2\r\n"  # newline="" kept csv's line ends
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"), atomic_open(tmp_path / "x", "a"):
        pass


def test_nifti_keeps_the_compression_of_the_name(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    for name in ("seg.nii.gz", "seg.nii"):
        path = write_nifti(tmp_path / name, nib.Nifti1Image(data, affine))
        loaded = nib.load(path)
        assert np.array_equal(np.asarray(loaded.dataobj), data) and np.allclose(loaded.affine, affine)
        assert _mode(path) == 0o644
    assert (tmp_path / "seg.nii.gz").read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
    assert (tmp_path / "seg.nii").read_bytes()[344:348] == b"n+1\x00"  # uncompressed single-file NIfTI-1 magic
    assert sorted(os.listdir(tmp_path)) == ["seg.nii", "seg.nii.gz"]


def test_torch_round_trip(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 3}
    path = write_torch(tmp_path / "ckpt.pt", state)
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["w"], state["w"]) and loaded["step"] == 3
    assert _mode(path) == 0o644 and os.listdir(tmp_path) == ["ckpt.pt"]


def test_failed_write_keeps_previous_file_and_names_it(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    write_torch(path, {"w": torch.ones(3)})
    before = path.read_bytes()
    _failing_torch_save(monkeypatch)
    with pytest.raises(OSError) as info:
        write_torch(path, {"w": torch.zeros(3)})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert "could not write checkpoint" in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.pt"]  # no partial file left


def test_interrupt_while_writing_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    write_torch(path, {"w": torch.ones(3)})
    before = path.read_bytes()
    _failing_torch_save(monkeypatch, err=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        write_torch(path, {"w": torch.zeros(3)})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.pt"]


def test_sigkill_while_writing_keeps_previous_file(tmp_path):
    """A real SIGKILL in the middle of writing version 2 (after half of its bytes reached the file)."""
    path = tmp_path / "ckpt.pt"
    child = textwrap.dedent(
        f"""
        import io, os, signal, torch
        from scripts.files import write_torch
        write_torch({str(path)!r}, {{"version": torch.tensor(1), "w": torch.ones(50_000)}})
        real_save = torch.save
        def save_half_then_die(obj, f, *a, **k):
            buf = io.BytesIO()
            real_save(obj, buf)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = save_half_then_die
        write_torch({str(path)!r}, {{"version": torch.tensor(2), "w": torch.zeros(50_000)}})
        """
    )
    proc = run_python(["-c", child])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    state = torch.load(path, weights_only=True)
    assert int(state["version"]) == 1 and torch.equal(state["w"], torch.ones(50_000))
    partials = [p.name for p in tmp_path.iterdir() if p.name != "ckpt.pt"]
    assert len(partials) == 1 and partials[0].startswith(".ckpt.pt.partial-") and partials[0].endswith(".pt")
    write_torch(path, {"version": torch.tensor(3)})  # the next write of that name removes it
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]
    assert int(torch.load(path, weights_only=True)["version"]) == 3


def test_save_imaged_with_the_atomic_writer(tmp_path):
    """MONAI's SaveImaged with AtomicNibabelWriter: the file of MONAI's own writer, mode 0644, nothing else left."""
    from monai.data import MetaTensor
    from monai.transforms import SaveImaged

    affine = torch.diag(torch.tensor([2.0, 3.0, 4.0, 1.0]))
    pred = MetaTensor(torch.arange(24, dtype=torch.float32).reshape(1, 2, 3, 4), affine=affine)
    pred.meta["filename_or_obj"] = "case_0.nii.gz"
    for folder, writer in (("ours", "scripts.files.AtomicNibabelWriter"), ("monai", "NibabelWriter")):
        save = SaveImaged(
            keys="pred", output_dir=str(tmp_path / folder), output_postfix="", separate_folder=False, writer=writer,
            output_dtype=np.uint8,
        )  # fmt: skip
        save({"pred": pred.clone()})
    ours, theirs = nib.load(tmp_path / "ours" / "case_0.nii.gz"), nib.load(tmp_path / "monai" / "case_0.nii.gz")
    assert np.array_equal(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
    assert np.array_equal(np.asarray(ours.dataobj), np.arange(24).reshape(2, 3, 4))
    assert np.allclose(ours.affine, theirs.affine) and ours.get_data_dtype() == np.uint8
    assert os.listdir(tmp_path / "ours") == ["case_0.nii.gz"] and _mode(tmp_path / "ours" / "case_0.nii.gz") == 0o644
