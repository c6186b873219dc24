"""Static checks of the bundle's configs and metadata (no training): schema, ids, network I/O, defaults."""

import configparser
import json
import logging
import logging.handlers
from pathlib import Path

import numpy as np
import pytest
import torch
from bundle_runs import CONFIGS, LOGGING, META, eager_config
from monai.bundle import ConfigParser, ConfigWorkflow, verify_metadata, verify_net_in_out
from zoo_tools import SCHEMA_MD5, metadata_schema

from scripts.data.label_conventions import CONVENTIONS


def _parser(*names: str) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / n) for n in names])
    parser.read_meta(META)
    return parser


def test_metadata_is_valid_against_the_monai_schema():
    meta = json.loads(Path(META).read_text())
    assert meta["schema"].endswith("/meta_schema_20240725.json")
    schema = str(metadata_schema())
    verify_metadata(meta_file=META, filepath=schema, hash_val=SCHEMA_MD5)  # raises on any schema violation
    assert meta["version"] in meta["changelog"]
    assert {"nibabel", "pytorch-ignite", "scipy"} <= set(meta["required_packages_version"])
    assert meta["monai_version"] == "1.6.1"


def test_metadata_io_matches_configs_and_written_labels():
    meta = json.loads(Path(META).read_text())["network_data_format"]
    train, infer = _parser("train.json"), _parser("inference.json")
    for parser in (train, infer):
        assert parser["in_channels"] == meta["inputs"]["image"]["num_channels"] == 4
        assert parser["out_channels"] == meta["outputs"]["pred"]["num_channels"] == 3
    assert train["label_convention"] is infer["label_convention"] is None  # recognised from the data
    assert train["default_label_convention"] == infer["default_label_convention"]
    # MONAI Label reads the written label values from outputs.pred.channel_def: they must be the convention's
    written = sorted(CONVENTIONS[infer["default_label_convention"]].classes)
    assert sorted(int(k) for k in meta["outputs"]["pred"]["channel_def"]) == written == [0, 1, 2, 4]
    post = meta["post_processed_outputs"]["pred"]
    assert post["num_channels"] == 1 and post["channel_def"] == meta["outputs"]["pred"]["channel_def"]
    assert post["value_range"] == [0, max(written)]


def test_network_accepts_the_metadata_input_and_gives_its_output():
    # builds the default network from inference.json and runs a 1 x 4 x 8 x 8 x 8 input (n=1) through it
    verify_net_in_out(
        net_id="network_def", meta_file=META, config_file=str(CONFIGS / "inference.json"), device="cpu", n=1
    )


def test_logging_conf_uses_stdlib_handlers_only_and_loads_in_monai():
    ini = configparser.ConfigParser()
    ini.read(LOGGING)
    for section in ini.sections():
        if section.startswith("handler_"):
            cls = ini[section]["class"]
            assert hasattr(logging, cls) or hasattr(logging.handlers, cls.removeprefix("handlers."))
            assert ini[section]["args"] in ("(sys.stdout,)", "(sys.stderr,)")
    ConfigWorkflow(config_file=str(CONFIGS / "train.json"), meta_file=META, logging_file=LOGGING, workflow_type="train")


def test_required_ids_and_defaults():
    train = _parser("train.json")
    for key in (
        "bundle_root dataset_dir output_dir ckpt_dir device amp epochs val_interval learning_rate loss_name loss "
        "network_def network patch_size infer_roi_size sw_batch_size sw_overlap num_workers cache_rate "
        "train#trainer train#dataset#data train#handlers validate#evaluator validate#dataset#data"
    ).split():
        assert key in train, key
    assert train.get_parsed_content("amp") == torch.cuda.is_available()
    assert train["loss_name"] == "asymmetric_unified_focal"
    assert isinstance(train["train#handlers"], list)
    assert train["network_def"]["_target_"] == "SegResNet"
    assert train["validate#inferer"]["_target_"] == "SlidingWindowInferer"
    assert train["validate#inferer"]["mode"] == "gaussian"
    # SegResNet with 3 downsamplings needs sizes divisible by 8; the default patch fits the built-in data
    for size in ("patch_size", "infer_roi_size"):
        assert all(s % 8 == 0 for s in train[size]), size
    assert all(p <= s for p, s in zip(train["patch_size"], train["synthetic_shape"]))
    # the default dataset_dir is the dedicated built-in folder, generated on first use
    assert train["dataset_dir"] == "@synthetic_dir"


def _region_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and BraTS-style region targets (3 overlapping channels: WT contains TC contains ET)."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(2, 3, 8, 8, 8, generator=gen)
    wt = torch.rand(2, 1, 8, 8, 8, generator=gen) > 0.5
    tc = wt & (torch.rand(2, 1, 8, 8, 8, generator=gen) > 0.4)
    et = tc & (torch.rand(2, 1, 8, 8, 8, generator=gen) > 0.4)
    return logits, torch.cat([wt, tc, et], 1).float()


def _tversky_reference(logits: torch.Tensor, target: torch.Tensor, fp_weight: float, fn_weight: float, gamma: float):
    """Per-channel binary (sigmoid) Tversky index from numpy, ``mean((1 - TI) ** gamma)`` over ``(b, c)``;
    ``fp_weight = fn_weight = 0.5``, ``gamma = 1`` is the Dice loss."""
    p = 1 / (1 + np.exp(-logits.double().numpy()))
    g = target.double().numpy()
    tp, fp, fn = ((p * g).sum((2, 3, 4)), (p * (1 - g)).sum((2, 3, 4)), ((1 - p) * g).sum((2, 3, 4)))
    ti = (tp + 1e-5) / (tp + fp_weight * fp + fn_weight * fn + 1e-5)
    return float(np.mean(np.maximum(1 - ti, 0) ** gamma))


@pytest.mark.parametrize(
    "loss_name, fp_weight, fn_weight, gamma", [("dice", 0.5, 0.5, 1.0), ("focal_tversky", 0.3, 0.7, 0.75)]
)
def test_loss_from_config_takes_region_targets(loss_name, fp_weight, fn_weight, gamma):
    """The config's loss treats each of the overlapping region channels as its own binary problem (sigmoid):
    its value is numpy's per-channel formula, and it has a gradient. Eager here (``loss_compile`` False); the
    compiled config loss: the test below."""
    loss = eager_config("train.json", loss_name=loss_name).get_parsed_content("loss")
    logits, target = _region_batch()
    logits.requires_grad_()
    value = loss(logits, target)
    value.backward()
    want = _tversky_reference(logits.detach(), target, fp_weight, fn_weight, gamma)
    assert value.item() == pytest.approx(want, rel=1e-5)
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


@pytest.mark.compiled
def test_config_loss_compiles_on_region_targets():
    """The config's default loss (compiled) runs through torch.compile without falling back to eager (a fallback's
    CompileFallbackWarning is an error in the tests: pyproject.toml) and equals the eager loss, value and gradient."""
    train = _parser("train.json")
    assert train["loss_compile"] is True
    compiled = train.get_parsed_content("loss")
    train["loss_compile"] = False
    eager = train.get_parsed_content("loss", lazy=False)
    logits, target = _region_batch(seed=1)
    got, want = (logits.clone().requires_grad_() for _ in range(2))
    compiled(got, target).backward()
    value = compiled(got.detach(), target)
    eager(want, target).backward()
    assert compiled.compile and not eager.compile
    torch.testing.assert_close(value, eager(want.detach(), target), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=1e-6)


def test_overlays_only_name_ids_of_train_json():
    train = _parser("train.json")
    for overlay in ("evaluate.json", "multi_gpu_train.json"):
        ids = json.loads((CONFIGS / overlay).read_text())
        for key in ids:
            parent = key.rsplit("#", 1)[0]
            assert "#" not in key or parent in train, f"{overlay}: {key} has no parent {parent} in train.json"
