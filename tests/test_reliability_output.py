"""An output folder that cannot be written (read-only, no permission, disk full, quota, a file in the way) stops
train, evaluate and inference before anything runs, with a ValueError naming the folder and the reason."""

import errno
import os
import shutil
import tempfile
from collections import namedtuple

import pytest
import torch
from bundle_runs import TINY_NET, TINY_TRAIN, bundle_workflow, initialize_workflow, run_bundle, run_workflow
from monai.networks.nets import SegResNet

import scripts.files.writable_folders as writable_folders
from scripts.files.writable_folders import PROBE_BYTES, require_writable_dirs

NOBODY = 65534


def _first_error(exc):
    while exc is not None and not isinstance(exc, ValueError):
        exc = exc.__cause__ or exc.__context__
    return exc


def _check_in_child(path) -> str:
    """``require_writable_dirs([path])`` in a forked child that is not root (root ignores permission bits)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: plain os/tempfile calls only, then _exit
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            try:
                require_writable_dirs([path], min_free_mb=0)
                message = "no error"
            except ValueError as err:
                message = f"ValueError: {err}"
            os.write(write_end, message.encode())
        except BaseException as err:  # report anything else to the parent instead of dying silently
            os.write(write_end, f"child failed: {err!r}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.fixture
def read_only_dir():
    base = tempfile.mkdtemp()
    os.chmod(base, 0o755)  # others may enter it (the child runs as nobody when the tests run as root)
    folder = os.path.join(base, "read_only")
    os.mkdir(folder, 0o555)
    os.chmod(folder, 0o555)
    yield folder
    os.chmod(folder, 0o755)
    shutil.rmtree(base)


def test_writable_folders_pass_and_nothing_is_created(tmp_path):
    (tmp_path / "eval").mkdir()
    paths = [str(tmp_path / "eval"), str(tmp_path / "new" / "models"), None]
    assert require_writable_dirs(paths, min_free_mb=1) == paths[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"] and not list((tmp_path / "eval").iterdir())


@pytest.mark.parametrize("sub", ["", "models/run1"])
def test_real_read_only_folder(read_only_dir, sub):
    path = os.path.join(read_only_dir, sub) if sub else read_only_dir
    message = _check_in_child(path)
    assert message.startswith("ValueError: "), message
    assert f"output folder {path} cannot be written: no write permission (EACCES" in message
    assert f"in {read_only_dir};" in message
    assert os.listdir(read_only_dir) == []


def test_a_file_in_the_way(tmp_path):
    (tmp_path / "models").write_text("not a folder")
    with pytest.raises(ValueError, match=r"is a file, not a folder") as info:
        require_writable_dirs([str(tmp_path / "models")])
    assert str(tmp_path / "models") in str(info.value)
    with pytest.raises(ValueError, match=rf"cannot be created: {tmp_path / 'models'} is a file") as info:
        require_writable_dirs([str(tmp_path / "models" / "run1")])
    assert str(tmp_path / "models" / "run1") in str(info.value)


@pytest.mark.parametrize(
    "code, reason", [(errno.ENOSPC, "the disk is full"), (errno.EDQUOT, "the disk quota is used up")]
)
def test_disk_full_while_writing(tmp_path, monkeypatch, code, reason):
    written = []

    def fsync(fd):  # the probe's bytes reach the disk here: a full disk fails now
        written.append(os.fstat(fd).st_size)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(writable_folders.os, "fsync", fsync)
    with pytest.raises(ValueError) as info:
        require_writable_dirs([str(tmp_path)])
    assert f"output folder {tmp_path} cannot be written: {reason} ({errno.errorcode[code]}" in str(info.value)
    assert written == [PROBE_BYTES]
    assert list(tmp_path.iterdir()) == []  # the probe is removed even then


def test_read_only_file_system(tmp_path, monkeypatch):
    def mkstemp(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(writable_folders.tempfile, "mkstemp", mkstemp)
    with pytest.raises(ValueError, match="the file system is read-only") as info:
        require_writable_dirs([str(tmp_path / "models")])
    assert str(tmp_path / "models") in str(info.value)


def test_too_little_free_space(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(writable_folders.shutil, "disk_usage", lambda p: usage(2**40, 2**40 - 10 * 2**20, 10 * 2**20))
    with pytest.raises(ValueError, match="has 10.0 MiB free, less than min_free_mb=100 MiB") as info:
        require_writable_dirs([str(tmp_path)], min_free_mb=100)
    assert str(tmp_path) in str(info.value)
    assert require_writable_dirs([str(tmp_path)], min_free_mb=5) == [str(tmp_path)]
    with pytest.raises(ValueError, match="min_free_mb must be >= 0"):
        require_writable_dirs([str(tmp_path)], min_free_mb=-1)


# --- the bundle checks before it runs ---------------------------------------------------------------------------


def _run_until_error(bundle, names, workflow_type, **overrides):
    workflow = initialize_workflow(bundle_workflow(names, workflow_type, bundle_root=str(bundle), **overrides))
    with pytest.raises(Exception) as info:
        run_workflow(workflow, initialize=False)
    return _first_error(info.value)


def test_train_stops_before_data_and_training(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "models").write_text("a file where the checkpoint folder should be")
    err = _run_until_error(bundle, ("train.json",), "train", **TINY_TRAIN)
    assert isinstance(err, ValueError) and f"output folder {bundle / 'models'} is a file" in str(err)
    assert sorted(p.name for p in bundle.iterdir()) == ["models"]  # no synthetic data generated, nothing logged


def test_train_on_a_full_disk(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writable_folders.os, "fsync", fsync)
    err = _run_until_error(tmp_path / "bundle", ("train.json",), "train", **TINY_TRAIN)
    assert isinstance(err, ValueError) and "the disk is full" in str(err)
    assert f"output folder {tmp_path / 'bundle' / 'eval'} cannot be written" in str(err)
    assert not (tmp_path / "bundle").exists()


@pytest.mark.parametrize(
    "names, workflow_type, tiny, output",
    [
        (("train.json", "evaluate.json"), "train", TINY_TRAIN, "eval"),
        (("inference.json",), "infer", TINY_NET, "eval/predictions"),
    ],
)
def test_evaluate_and_inference_check_their_output_folder(tmp_path, names, workflow_type, tiny, output):
    bundle = tmp_path / "bundle"
    (bundle / "models").mkdir(parents=True)
    net = SegResNet(blocks_down=[1, 1, 1], blocks_up=[1, 1], init_filters=8, in_channels=4, out_channels=3)
    torch.save(net.state_dict(), bundle / "models" / "model.pt")
    (bundle / "eval").write_text("a file where the output folder should be")
    err = _run_until_error(bundle, names, workflow_type, **tiny)
    assert isinstance(err, ValueError) and str(bundle / output) in str(err) and "not a folder" in str(err)
    assert sorted(p.name for p in bundle.iterdir()) == ["eval", "models"]


def test_command_line_user_sees_the_folder(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "eval").write_text("not a folder")
    proc = run_bundle(["train.json"], {"bundle_root": str(bundle), **TINY_TRAIN}, expect_ok=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"ValueError: output folder {bundle / 'eval'} is a file, not a folder" in out
    assert sorted(p.name for p in bundle.iterdir()) == ["eval"]
