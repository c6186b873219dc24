"""Experiment tracking: ``python -m monai.bundle run ... --tracking mlflow`` records params, metrics and the executed
config in a local MLflow store; ``--tracking configs/mlflow_tracking.json`` (MONAI's mlflow settings plus the
checkpoint folder and the run's hyper-parameters) also records the checkpoints. TensorBoard logs are written by
default (asserted in test_bundle_workflows.py).

MONAI 1.6.1's MLFlowHandler refuses ``file://`` tracking URIs (MLflow >= 3.13 dropped the file store), so the local
store is MONAI's default kind: a SQLite database with the artifacts in a folder beside it.
"""

import json
import math

import mlflow
import pytest
from bundle_runs import CONFIGS, TINY_TRAIN, run_bundle
from monai.bundle.utils import DEFAULT_MLFLOW_SETTINGS

SETTINGS = CONFIGS / "mlflow_tracking.json"
METRICS = {"train_loss", "train_mean_dice", "val_mean_dice", "val_dice_tc", "val_dice_wt", "val_dice_et"}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracked")
    uri = f"sqlite:///{root}/mlruns.db"
    base = {"bundle_root": str(root), "synthetic_num_cases": 5, "synthetic_shape": [24, 24, 16], **TINY_TRAIN}
    for tracking, experiment in (("mlflow", "default_settings"), (str(SETTINGS), "bundle_settings")):
        run_bundle(["train.json"], {**base, "tracking": tracking, "tracking_uri": uri, "experiment_name": experiment})
    return root, mlflow.MlflowClient(uri)


def _only_run(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment}"
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def _artifacts(client, run_id):
    return sorted(a.path for a in client.list_artifacts(run_id))


def test_tracking_mlflow_records_params_metrics_and_config(tracked):
    root, client = tracked
    run = _only_run(client, "default_settings")
    assert run.info.status == "FINISHED"
    assert run.data.params["max_epochs"] == "1"
    assert int(run.data.params["epoch_length"]) >= 1
    assert METRICS <= set(run.data.metrics), sorted(run.data.metrics)
    assert all(math.isfinite(v) for v in run.data.metrics.values())
    assert 0.0 <= run.data.metrics["val_mean_dice"] <= 1.0
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert len(history) >= 1 and all(math.isfinite(m.value) for m in history)
    (config,) = _artifacts(client, run.info.run_id)
    assert config.startswith("config_") and config.endswith(".json")
    local = client.download_artifacts(run.info.run_id, config, str(root / "downloaded"))
    executed = json.loads(open(local).read())
    assert executed["epochs"] == 1 and executed["patch_size"] == [16, 16, 16]


def test_bundle_settings_also_record_checkpoints_and_hyperparameters(tracked):
    root, client = tracked
    run = _only_run(client, "bundle_settings")
    artifacts = _artifacts(client, run.info.run_id)
    assert {"model.pt", "model_last.pt"} <= set(artifacts), artifacts
    assert any(a.startswith("config_") for a in artifacts)
    params = run.data.params
    assert params["loss_name"] == "asymmetric_unified_focal" and params["epochs"] == "1"
    assert params["patch_size"] == "[16, 16, 16]" and params["label_convention"] == "brats2021"
    assert METRICS <= set(run.data.metrics)
    # the logged checkpoint is the file the run wrote
    local = client.download_artifacts(run.info.run_id, "model_last.pt", str(root / "downloaded_ckpt"))
    assert open(local, "rb").read() == (root / "models" / "model_last.pt").read_bytes()


def test_bundle_settings_are_monai_defaults_plus_checkpoints_and_params():
    ours = json.loads(SETTINGS.read_text())
    default = json.loads(json.dumps(DEFAULT_MLFLOW_SETTINGS))
    trainer = ours["configs"].pop("trainer")
    default_trainer = default["configs"].pop("trainer")
    assert trainer.pop("artifacts") == "$[@save_execute_config, @ckpt_dir]"
    assert set(trainer.pop("experiment_param")) >= {"loss_name", "learning_rate", "epochs"}
    assert default_trainer.pop("artifacts") == "@save_execute_config"
    assert trainer == default_trainer
    squash = " ".join(default["configs"].pop("is_not_rank0").split())
    assert ours["configs"].pop("is_not_rank0") == squash
    assert ours == default
