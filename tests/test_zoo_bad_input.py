"""Bad input to the zoo packaging and download checks: each failure names the file at fault."""

import json
import shutil
import zipfile

import pytest
import torch
import yaml
from subprocesses import run_python
from zoo_tools import REPO_ROOT, metadata_schema, write_state_dict

from tools.zoo import check_archive, check_bundle_dir, package
from tools.zoo.flavours import FLAVOURS
from tools.zoo.package import flavour_configs

NAME = FLAVOURS["brats"].name


@pytest.fixture(scope="module")
def good_zip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zoo_bad")
    (tmp / "inference.json").write_text(json.dumps(flavour_configs(REPO_ROOT, FLAVOURS["brats"])["inference.json"]))
    write_state_dict(tmp / "inference.json", tmp / "model.pt")
    return package(flavour="brats", out=str(tmp / "dist"), model=str(tmp / "model.pt"), schema=str(metadata_schema()))


def _rewrite(src, dst, replace: dict):
    """Copy a zip, replacing the bytes of some members (by path inside the bundle)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            rel = info.filename.split("/", 1)[1]
            zout.writestr(info, replace.get(rel, zin.read(info.filename)))
    return str(dst)


def test_good_archive_passes_cli_check(good_zip):
    proc = run_python(["-m", "tools.zoo", "check", good_zip, "--schema", str(metadata_schema())], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"bundle {NAME} version" in proc.stdout and "passed" in proc.stdout


def test_truncated_zip_is_named(good_zip, tmp_path):
    bad = tmp_path / f"{NAME}_v0.1.0.zip"
    data = open(good_zip, "rb").read()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{bad}.*not a readable zip archive"):
        check_archive(str(bad), schema=str(metadata_schema()))


def test_corrupted_member_is_named(good_zip, tmp_path):
    data = bytearray(open(good_zip, "rb").read())
    with zipfile.ZipFile(good_zip) as zf:
        info = zf.getinfo(f"{NAME}/models/model.pt")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # first byte of its data
    data[start + 100 : start + 110] = bytes(10)
    bad = tmp_path / f"{NAME}_v0.1.0.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{bad}.*models/model.pt"):
        check_archive(str(bad), schema=str(metadata_schema()))


def test_model_not_matching_large_files_hash_is_named(good_zip, tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"x": torch.zeros(3)}, other)
    bad = _rewrite(good_zip, tmp_path / f"{NAME}_v0.1.0.zip", {"models/model.pt": other.read_bytes()})
    with pytest.raises(ValueError, match=r"large_files\.yml: sha256 of models/model\.pt is [0-9a-f]{64}, but"):
        check_archive(bad, schema=str(metadata_schema()))


def test_downloaded_bundle_with_replaced_model_is_named(good_zip, tmp_path):
    with zipfile.ZipFile(good_zip) as zf:
        zf.extractall(tmp_path)
    root = tmp_path / NAME
    assert check_bundle_dir(str(root), schema=str(metadata_schema()))["name"] == NAME
    (root / "models" / "model.pt").write_bytes(b"not the released weights")
    with pytest.raises(ValueError, match=f"{root}/large_files.yml: sha256 of models/model.pt"):
        check_bundle_dir(str(root), schema=str(metadata_schema()))


def test_large_files_without_hash_type_is_named(good_zip, tmp_path):
    with zipfile.ZipFile(good_zip) as zf:
        doc = yaml.safe_load(zf.read(f"{NAME}/large_files.yml"))
    del doc["large_files"][0]["hash_type"]
    bad = _rewrite(good_zip, tmp_path / f"{NAME}_v0.1.0.zip", {"large_files.yml": yaml.safe_dump(doc).encode()})
    with pytest.raises(ValueError, match=r"large_files\.yml: entry .* lacks \['hash_type'\]"):
        check_archive(bad, schema=str(metadata_schema()))


def test_metadata_failing_the_schema_is_named(good_zip, tmp_path):
    with zipfile.ZipFile(good_zip) as zf:
        meta = json.loads(zf.read(f"{NAME}/configs/metadata.json"))
    del meta["network_data_format"]["inputs"]["image"]["num_channels"]
    bad = _rewrite(good_zip, tmp_path / f"{NAME}_v0.1.0.zip", {"configs/metadata.json": json.dumps(meta).encode()})
    with pytest.raises(ValueError, match=r"configs/metadata\.json: fails the metadata schema at .*num_channels"):
        check_archive(bad, schema=str(metadata_schema()))


def test_packaging_metadata_failing_the_schema_is_named(tmp_path):
    root = tmp_path / "repo"
    for part in ("configs", "docs"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / "scripts").mkdir()
    (root / "scripts" / "__init__.py").write_text("")
    shutil.copy(REPO_ROOT / "LICENSE", root / "LICENSE")
    meta = json.loads((root / "configs" / "metadata.json").read_text())
    meta["supported_apps"] = ["monailabel"]  # the schema wants an object
    (root / "configs" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"metadata of flavour brats_imbalance_segmentation: fails .*supported_apps"):
        package(flavour="brats", out=str(tmp_path / "dist"), root=str(root), schema=str(metadata_schema()))


def test_missing_model_and_wrong_model_are_named(tmp_path):
    missing = tmp_path / "models" / "model.pt"
    with pytest.raises(FileNotFoundError, match=f"trained model not found: {missing}"):
        package(flavour="brats", out=str(tmp_path / "dist"), model=str(missing), schema=str(metadata_schema()))
    wrong = tmp_path / "wrong.pt"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match=f"{wrong} does not fit network_def of flavour {NAME}"):
        package(flavour="brats", out=str(tmp_path / "dist"), model=str(wrong), schema=str(metadata_schema()))
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_unknown_flavour_and_misnamed_archive(good_zip, tmp_path):
    with pytest.raises(ValueError, match="unknown flavour 'lits'"):
        package(flavour="lits", out=str(tmp_path))
    renamed = tmp_path / "bundle.zip"
    shutil.copy(good_zip, renamed)
    with pytest.raises(ValueError, match=f"{renamed}: archive of {NAME} version 0.1.0 must be named {NAME}_v0.1.0.zip"):
        check_archive(str(renamed), schema=str(metadata_schema()))
