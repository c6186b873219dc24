"""``--deep_supervision True`` end to end, tiny: BraTS (SegResNet with heads) with a map loss (maps from the
transforms at full resolution, recomputed at the lower level) and KiTS19 (DynUNet with heads, nnU-Net's three
levels): training runs, the saved model.pt is the plain network (the inference config's keys), the training state
keeps the heads for --resume, and evaluate and inference run unchanged on the checkpoint."""

import math
import re

import pytest
import torch
from bundle_runs import TINY_NET, TINY_TRAIN, config_files, run_bundle
from monai.bundle import ConfigParser
from test_kits19_config import TINY_DATA as KITS_DATA
from test_kits19_config import TINY_NET as KITS_NET
from test_kits19_config import TINY_TRAIN as KITS_TRAIN

# SegResNet with three decoder levels (inputs divisible by 8), BraTS synthetic data of 4 cases
BRATS_NET = {**TINY_NET, "network_def#blocks_down": [1, 1, 1, 1], "network_def#blocks_up": [1, 1, 1]}
BRATS_DATA = {"synthetic_num_cases": 4, "synthetic_shape": [24, 24, 16], "val_fraction": 0.5}
# DynUNet with three decoder levels
KITS_NET_DS = {**KITS_NET, "filters": [4, 8, 16, 32], "strides": [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]]}


def final_metric(log: str, name: str) -> float:
    return float(re.findall(rf"{name}: ([0-9.eE+-]+|nan)", log)[-1])


def inference_keys(names, overrides):
    parser = ConfigParser(ConfigParser.load_config_files(config_files(*names)))
    for key, value in overrides.items():
        parser[key] = value
    return set(parser.get_parsed_content("network_def").state_dict())


@pytest.mark.parametrize("flavour", ["brats", "kits"])
def test_deep_supervision_trains_and_the_checkpoint_infers_unchanged(tmp_path, flavour):
    root = tmp_path / "bundle"
    if flavour == "brats":
        train, evaluate, infer = ["train.json"], ["train.json", "evaluate.json"], ["inference.json"]
        net = BRATS_NET
        train_overrides = {**BRATS_DATA, **TINY_TRAIN, **net, "loss_name": "boundary", "epochs": 2}
        # inference has no training / validation split: the command-line check refuses --val_fraction there
        infer_overrides = {**{k: v for k, v in BRATS_DATA.items() if k != "val_fraction"}, **net}
        levels = 2  # SegResNet's decoder levels in BRATS_NET: 3; supervise two with weights of our own
        train_overrides.update(deep_supervision_levels=levels, deep_supervision_weights=[0.7, 0.3])
    else:
        train = ["train.json", "kits19_common.json", "kits19.json"]
        evaluate = ["train.json", "evaluate.json", "kits19_common.json", "kits19.json"]
        infer = ["inference.json", "kits19_common.json", "kits19_inference.json"]
        net = KITS_NET_DS
        train_overrides = {**KITS_DATA, **KITS_TRAIN, **net, "epochs": 2}
        infer_overrides = {**KITS_DATA, **net}
        levels = 3  # the default: nnU-Net's [2/3, 1/3, 0]
    common = {"bundle_root": str(root)}
    proc = run_bundle(train, {**common, **train_overrides, "deep_supervision": True}, timeout=600)
    log = proc.stdout + proc.stderr
    assert math.isfinite(final_metric(log, "train_mean_dice"))
    assert math.isfinite(final_metric(log, "val_mean_dice"))
    # model.pt / model_last.pt: the plain network, the inference config's keys; the training state: the heads too
    keys = inference_keys(infer, infer_overrides)
    for name in ("model.pt", "model_last.pt"):
        assert set(torch.load(root / "models" / name, weights_only=True)) == keys, name
    state = torch.load(root / "models" / "training_state.pt", weights_only=True)["network"]
    assert {k for k in state if not k.startswith("heads.")} == {f"network.{k}" for k in keys}
    assert len({k.split(".")[1] for k in state if k.startswith("heads.")}) == levels - 1
    # evaluate and inference as without deep supervision, on the checkpoint
    run_bundle(evaluate, {**common, **train_overrides}, timeout=600)
    assert (root / "eval" / "metrics_summary.json").exists()
    run_bundle(infer, {**common, **infer_overrides}, timeout=600)
    cases = (BRATS_DATA if flavour == "brats" else KITS_DATA)["synthetic_num_cases"]
    assert len(list((root / "eval" / "predictions").glob("*.nii.gz"))) == cases
    # resume with deep supervision: the heads are restored (one more epoch)
    run_bundle(train, {**common, **train_overrides, "deep_supervision": True, "epochs": 3, "resume": True}, timeout=600)
