"""A real-size smoke test: one training iteration and one validation of the bundle at BraTS size (240 x 240 x 155)
with the settings for real data on a GPU of docs/data.md (128^3 patches, SegResNet ``init_filters`` 16, windows of
240 x 240 x 160), on the CPU, so that shape or memory regressions at real size are caught. Measured on the
project's shared 2-core machine: docs/benchmarks.md, "Real size"."""

import json
import resource

from bundle_runs import run_bundle

PEAK_LIMIT_GIB = 12  # the run's peak resident memory was measured well below (docs/benchmarks.md); 24 GiB machine


def test_one_iteration_and_one_validation_at_real_size(tmp_path):
    overrides = {
        "bundle_root": str(tmp_path),
        "synthetic_num_cases": 2,
        "synthetic_shape": [240, 240, 155],
        "val_fraction": 0.5,  # one training case (one iteration: its two 128^3 patches), one validation case
        "epochs": 1,
        "val_interval": 1,
        "patch_size": [128, 128, 128],
        "infer_roi_size": [240, 240, 160],
        "network_def#init_filters": 16,
        "num_workers": 0,
    }
    run_bundle(["train.json"], overrides, timeout=900)
    split = json.loads((tmp_path / "eval" / "datalist_split.json").read_text())
    assert len(split["training"]) == 1 and len(split["validation"]) == 1
    assert (tmp_path / "models" / "model.pt").is_file()  # the validation ran and chose the checkpoint
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB -> GiB, largest child
    assert peak_gib < PEAK_LIMIT_GIB, f"peak resident memory {peak_gib:.1f} GiB at real size"
