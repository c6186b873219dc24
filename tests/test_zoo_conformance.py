"""The checks the model-zoo CI applies to every bundle, with the real ``python -m monai.bundle`` commands.

The property checks of the train / evaluate / inference workflows (``check_properties() == []``) are in
``test_bundle_properties.py``; ruff in ``test_lint.py``.
"""

import json
import shutil

import torch
from zoo_tools import REPO_ROOT, SCHEMA_MD5, bundle_cli, metadata_schema, network_from_config, write_state_dict

META = "configs/metadata.json"
INFER = "configs/inference.json"


def test_license_metadata_and_version_in_changelog():
    assert (REPO_ROOT / "LICENSE").is_file()
    meta = json.loads((REPO_ROOT / META).read_text())
    assert meta["version"] in meta["changelog"], f"version {meta['version']} is not a key of changelog"


def test_verify_metadata_against_the_offline_schema():
    schema = str(metadata_schema())
    args = ["verify_metadata", "--meta_file", META, "--filepath", schema, "--hash_val", SCHEMA_MD5]
    proc = bundle_cli(args, cwd=REPO_ROOT)
    assert "metadata is verified with no error" in proc.stdout + proc.stderr


def test_verify_net_in_out_with_default_arguments():
    proc = bundle_cli(["verify_net_in_out", "network_def", "--meta_file", META, "--config_file", INFER], cwd=REPO_ROOT)
    assert "data shape of network is verified with no error" in proc.stdout + proc.stderr


def test_ckpt_export_gives_the_checkpoint_output(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO_ROOT / "configs", bundle / "configs")
    state = write_state_dict(bundle / INFER, bundle / "models" / "model.pt")
    bundle_cli(
        ["ckpt_export", "network_def", "--filepath", "models/model.ts", "--ckpt_file", "models/model.pt"]
        + ["--meta_file", META, "--config_file", INFER],
        cwd=bundle,
    )
    exported = torch.jit.load(str(bundle / "models" / "model.ts"), map_location="cpu").eval()

    net = network_from_config(bundle / INFER)
    net.load_state_dict(state)
    net.eval()
    x = torch.randn(1, 4, 24, 24, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = net(x), exported(x)
    assert got.shape == expected.shape == (1, 3, 24, 24, 16)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # the exported weights are the checkpoint's, not a fresh initialisation
    ts_state = exported.state_dict()
    for key, value in state.items():
        torch.testing.assert_close(ts_state[key], value, rtol=0, atol=0)
