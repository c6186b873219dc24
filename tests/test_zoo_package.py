"""Zoo packaging end to end: build each flavour's ``<name>_v<version>.zip``, download it with
``python -m monai.bundle download --url file://...``, load it with ``monai.bundle.load`` and run one epoch of the
downloaded copy from a folder outside it (no PYTHONPATH: the bundle must stand on its own)."""

import hashlib
import json
import zipfile

import monai.bundle
import pytest
import torch
import yaml
from bundle_runs import TINY_TRAIN, cli_args
from monai.bundle import ConfigParser
from zoo_tools import REPO_ROOT, bundle_cli, metadata_schema, write_state_dict

from tools.zoo import check_bundle_dir, package
from tools.zoo.flavours import FLAVOURS
from tools.zoo.package import flavour_configs

CONFIGS = REPO_ROOT / "configs"
VERSION = json.loads((CONFIGS / "metadata.json").read_text())["version"]
TINY = {
    "brats": {**TINY_TRAIN, "synthetic_num_cases": 5, "synthetic_shape": [24, 24, 16]},
    "kits19": {
        "synthetic_num_cases": 5,
        "synthetic_shape": [16, 32, 32],
        "patch_size": [16, 32, 32],
        "infer_roi_size": [16, 32, 32],
        "filters": [8, 8, 16, 16],
        "epochs": 1,
        "val_interval": 1,
        "num_samples": 1,
        "num_workers": 0,
    },
}
EXPECTED = {  # flavour -> (in_channels, out_channels, label values written by inference)
    "brats": (4, 3, {"0", "1", "2", "4"}),
    "kits19": (1, 3, {"0", "1", "2"}),
}


@pytest.fixture(scope="module", params=sorted(FLAVOURS))
def packaged(request, tmp_path_factory):
    flavour = request.param
    tmp = tmp_path_factory.mktemp(flavour)
    configs = flavour_configs(REPO_ROOT, FLAVOURS[flavour])
    (tmp / "inference.json").write_text(json.dumps(configs["inference.json"]))
    state = write_state_dict(tmp / "inference.json", tmp / "model.pt")
    schema = str(metadata_schema())
    zip_path = package(flavour=flavour, out=str(tmp / "dist"), model=str(tmp / "model.pt"), schema=schema)
    return flavour, FLAVOURS[flavour].name, zip_path, state, tmp


def test_archive_layout_and_large_files_hash(packaged):
    flavour, name, zip_path, _, _ = packaged
    assert zip_path.endswith(f"{name}_v{VERSION}.zip") and "segmentation" in name
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert {n.split("/")[0] for n in names} == {name}
        rels = {n.split("/", 1)[1] for n in names}
        for required in ("LICENSE", "configs/metadata.json", "configs/train.json", "configs/inference.json"):
            assert required in rels
        assert {"docs/README.md", "models/model.pt", "large_files.yml", "scripts/losses/__init__.py"} <= rels
        assert not [r for r in rels if "__pycache__" in r or r.endswith(".pyc") or r.startswith(("data/", "eval/"))]
        # what a bundle user needs, nothing of the tooling (tools/: the study and this packager)
        assert {r.split("/")[0] for r in rels} == {"LICENSE", "configs", "docs", "models", "scripts", "large_files.yml"}
        assert {r for r in rels if r.startswith("models/")} == {"models/README.md", "models/model.pt"}
        assert not [r for r in rels if r.startswith("configs/kits19")]
        assert not [r for r in rels if r.startswith(("scripts/study/", "scripts/zoo/"))]
        runtime = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "scripts").rglob("*.py")}
        assert {r for r in rels if r.startswith("scripts/")} == {r for r in runtime if "__pycache__" not in r}
        entry = yaml.safe_load(zf.read(f"{name}/large_files.yml"))["large_files"][0]
        assert entry["path"] == "models/model.pt" and entry["hash_type"] == "sha256"
        assert entry["hash_val"] == hashlib.sha256(zf.read(f"{name}/models/model.pt")).hexdigest()
        for rel in rels - {"models/model.pt"}:
            assert str(REPO_ROOT).encode() not in zf.read(f"{name}/{rel}"), f"absolute path in {rel}"
        meta = json.loads(zf.read(f"{name}/configs/metadata.json"))
        train = json.loads(zf.read(f"{name}/configs/train.json"))
        infer = json.loads(zf.read(f"{name}/configs/inference.json"))
        evaluate = json.loads(zf.read(f"{name}/configs/evaluate.json"))
    n_in, n_out, labels = EXPECTED[flavour]
    assert meta["name"] == name and meta["version"] == VERSION
    fmt = meta["network_data_format"]
    assert fmt["inputs"]["image"]["num_channels"] == train["in_channels"] == infer["in_channels"] == n_in
    assert fmt["outputs"]["pred"]["num_channels"] == train["out_channels"] == infer["out_channels"] == n_out
    assert set(fmt["post_processed_outputs"]["pred"]["channel_def"]) == labels
    # packaged train + evaluate is what the repository gives with the flavour's overlay on the command line
    overlay = [str(CONFIGS / "kits19_common.json"), str(CONFIGS / "kits19.json")] if flavour == "kits19" else []
    expected = ConfigParser.load_config_files([str(CONFIGS / "train.json"), str(CONFIGS / "evaluate.json"), *overlay])
    assert {**train, **evaluate} == json.loads(json.dumps(expected))


def test_download_load_export_and_one_epoch_run_outside_the_bundle(packaged):
    flavour, name, zip_path, state, tmp = packaged
    bundles, elsewhere = tmp / "downloaded", tmp / "elsewhere"
    elsewhere.mkdir()
    bundle_cli(["download", "--name", name, "--url", f"file://{zip_path}", "--bundle_dir", str(bundles)], cwd=elsewhere)
    root = bundles / name
    assert check_bundle_dir(str(root), schema=str(metadata_schema()))["name"] == name
    # MONAI's own large-file step succeeds offline: model.pt matches large_files.yml, so the (placeholder) url
    # is never fetched
    before = (root / "models" / "model.pt").read_bytes()
    bundle_cli(["download_large_files", "--bundle_path", str(root)], cwd=elsewhere)
    assert (root / "models" / "model.pt").read_bytes() == before

    # load() builds network_def from the bundle's train.json and copies models/model.pt into it
    net = monai.bundle.load(name=name, bundle_dir=str(bundles), device="cpu", progress=False)
    assert isinstance(net, torch.nn.Module)
    loaded = net.state_dict()
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)

    # the zoo CI's checks on the downloaded copy, from its root: network I/O with default arguments, TorchScript
    # export that gives the checkpoint's output
    meta_cfg = ["--meta_file", "configs/metadata.json", "--config_file", "configs/inference.json"]
    bundle_cli(["verify_net_in_out", "network_def", *meta_cfg], cwd=root)
    bundle_cli(
        ["ckpt_export", "network_def", "--filepath", "models/model.ts", "--ckpt_file", "models/model.pt", *meta_cfg],
        cwd=root,
    )
    exported = torch.jit.load(str(root / "models" / "model.ts"), map_location="cpu").eval()
    n_in = EXPECTED[flavour][0]
    x = torch.randn(1, n_in, 16, 16, 16, generator=torch.Generator().manual_seed(0))
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(exported(x), net(x), rtol=1e-5, atol=1e-5)

    bundle_cli(
        ["run", "--config_file", str(root / "configs" / "train.json"), "--bundle_root", str(root)]
        + cli_args(TINY[flavour]),
        cwd=elsewhere,
    )
    assert (root / "models" / "model_last.pt").is_file()
    assert list((root / "eval").glob("tensorboard/*/events.out.tfevents.*")), "no TensorBoard log"
    assert not any(elsewhere.iterdir()), "the run wrote into the working directory"
