"""multi_gpu_train.json under torchrun: two CPU processes with Gloo (NCCL is chosen when CUDA is available)."""

import json
import re

import torch
from bundle_runs import TINY_TRAIN, run_bundle


def test_two_process_gloo_training(tmp_path):
    root = tmp_path / "bundle"
    overrides = {
        "bundle_root": str(root),
        "synthetic_num_cases": 4,
        "synthetic_shape": [16, 16, 16],
        "val_fraction": 0.5,  # 2 validation cases: one per rank
        **TINY_TRAIN,
        "epochs": 2,
    }
    proc = run_bundle(["train.json", "multi_gpu_train.json"], overrides, torchrun_procs=2, timeout=400)
    out = proc.stdout + proc.stderr
    # both ranks trained (each logs the engine start), only rank 0 logged metrics, TensorBoard and checkpoints
    assert len(re.findall(r"SupervisedTrainer - INFO - Engine run resuming from iteration 0", out)) == 2
    assert len(re.findall(r"Epoch\[2\] Metrics -- val_dice_et", out)) == 1
    event_files = list((root / "eval").glob("tensorboard/*/events.out.tfevents.*"))
    assert event_files and len({p.name.split(".")[-2] for p in event_files}) == 1  # one writer process (pid)
    written = {p.name for p in (root / "models").iterdir()}
    assert {"model.pt", "model_last.pt"} <= written  # (plus the resumable training state, one file)
    assert written <= {"model.pt", "model_last.pt", "training_state.pt"}
    state = torch.load(root / "models" / "model.pt", weights_only=True)
    assert "convInit.conv.weight" in state  # saved unwrapped from DistributedDataParallel
    split = json.loads((root / "eval" / "datalist_split.json").read_text())
    assert len(split["training"]) == 2 and len(split["validation"]) == 2
