"""The command-line check of ``monai.bundle run`` (scripts.cli): unknown ids, --help, unknown loss names; a no-op
for any other process. Parser-level tests build argv lists; the slow ones run the bundle as a user does."""

import json
import logging

import pytest
import torch
from bundle_runs import CONFIGS, META, TINY_TRAIN, config_files, run_bundle

from scripts.checkpointing import warn_previous_model
from scripts.cli import check_command_line, command_line_overrides, known_ids
from scripts.cli.check import check_choice, is_bundle_run
from scripts.cli.help_text import DESCRIPTIONS

RUN = ["/env/lib/python3.11/site-packages/monai/bundle/__main__.py", "run"]
WORKFLOWS = [
    ["train.json"],
    ["train.json", "evaluate.json"],
    ["inference.json"],
    ["train.json", "multi_gpu_train.json"],
    ["train.json", "kits19_common.json", "kits19.json"],
    ["inference.json", "kits19_common.json", "kits19_inference.json"],
    ["train.json", "brats2024.json"],
    ["train.json", "brats_labels.json"],
    ["inference.json", "brats_labels_inference.json"],
    ["train.json", "mlflow_tracking.json"],
]


def argv(names, *args):
    files = config_files(*names)
    return [*RUN, "--config_file", json.dumps(files) if len(files) > 1 else files[0], *args]


def stop_message(args):
    with pytest.raises(SystemExit) as stop:
        check_command_line(args)
    return stop.value.code


def test_fire_style_pairs_flags_and_equals():
    args = [*RUN, "--config_file", "a.json", "--epochs=3", "--patch_size", "[16, 16, 16]", "--help", "--x::y", "-1"]
    assert command_line_overrides(args) == {
        "config_file": "a.json",
        "epochs": 3,
        "patch_size": [16, 16, 16],
        "help": True,
        "x#y": -1,
    }


@pytest.mark.parametrize(
    "args",
    [
        ["python", "-c", "x"],
        ["/usr/bin/monailabel", "start_server"],
        ["/x/monai/bundle/__main__.py", "verify_metadata"],
    ],
)
def test_a_no_op_outside_monai_bundle_run(args):
    assert not is_bundle_run(args)
    assert check_command_line([*args, "--epoch", "1"]) is None


@pytest.mark.parametrize("names", WORKFLOWS, ids=lambda n: "+".join(n))
def test_every_workflow_names_the_closest_id_of_a_typo(names):
    message = stop_message(argv(names, "--bundle_root", "/tmp/x", "--ckpt_dirr", "/tmp/m"))
    assert (
        message.startswith("error: unknown config id 'ckpt_dirr'")
        and "did you mean 'ckpt_dir'" in message.splitlines()[-1]
    )


def test_epoch_suggests_epochs():
    assert stop_message(argv(["train.json"], "--epoch", "1")).endswith("did you mean 'epochs'?")


@pytest.mark.parametrize(
    "args",
    [
        ["--train#trainer#max_epochs", "2"],  # nested id of the config
        ["--network_def#norm", "batch"],  # new argument of a component
        ["--run_id", "initialize", "--meta_file", META, "--logging_file", "x.conf", "--tracking", "mlflow"],
        ["--validate#handlers#0#iteration_log", "true"],  # a list item by index
        ["--tracking", "mlflow", "--tracking_uri", "sqlite:////x.db", "--experiment_name", "brats"],
        ["--tracking", str(CONFIGS / "mlflow_tracking.json"), "--experiment_name", "brats"],
    ],
)
def test_known_ids_and_run_arguments_pass(args):
    assert check_command_line(argv(["train.json"], *args)) is None


def test_tracking_ids_only_with_tracking():
    assert "did you mean 'tracking'" in stop_message(argv(["train.json"], "--tracking_uri", "sqlite:////x.db"))


def test_a_nested_typo_is_stopped():
    message = stop_message(argv(["train.json"], "--train#trainer#max_epoch", "2"))
    assert "'train#trainer#max_epoch'" in message and message.endswith("did you mean 'train#trainer#max_epochs'?")


def test_ids_come_from_the_args_file(tmp_path):
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"config_file": str(CONFIGS / "train.json"), "epochs": 2}))
    assert check_command_line([*RUN, "--args_file", str(args_file), "--learning_rate", "0.1"]) is None
    assert "did you mean 'epochs'" in stop_message([*RUN, "--args_file", str(args_file), "--epoch", "1"])


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_ids_with_description_and_default_and_exits_0(flag, capsys):
    assert stop_message(argv(["train.json"], flag)) == 0
    out = capsys.readouterr().out
    assert "--epochs" in out and DESCRIPTIONS["epochs"] in out and "(default: 10)" in out
    assert '(default: "asymmetric_unified_focal")' in out


def test_every_described_id_is_defined_by_some_config():
    ids = set()
    for names in WORKFLOWS:
        ids |= set(known_ids({"config_file": config_files(*names)}))
    assert set(DESCRIPTIONS) - ids == set()


def test_unknown_choice_outside_the_command_line_is_a_value_error():
    with pytest.raises(ValueError, match="unknown loss_name 'dicee'; valid names: dice, focal.*did you mean 'dice'"):
        check_choice("loss_name", "dicee", ["dice", "focal"], argv=["python"])
    with pytest.raises(SystemExit, match="error: unknown loss_name 'dicee'"):
        check_choice("loss_name", "dicee", ["dice", "focal"], argv=[*RUN])


def test_previous_model_warning_names_file_and_best_metric(tmp_path, caplog):
    torch.save({"w": torch.zeros(1)}, tmp_path / "model.pt")
    state = {"best_metrics": {"validator": {"best_metric": 0.6123, "best_metric_epoch": 7}}}
    torch.save(state, tmp_path / "training_state.pt")
    with caplog.at_level(logging.WARNING):
        message = warn_previous_model(str(tmp_path), str(tmp_path / "training_state.pt"))
    assert str(tmp_path / "model.pt") in message and "0.6123 at epoch 7" in message and message in caplog.text
    assert warn_previous_model(str(tmp_path), str(tmp_path / "training_state.pt"), resume="True") is None
    assert "best metric unknown" in warn_previous_model(str(tmp_path), str(tmp_path / "missing.pt"))
    assert warn_previous_model(str(tmp_path / "empty"), "x") is None


def _last_line(proc):
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "overrides, last_line",
    [
        ({"epoch": 1}, "error: unknown config id 'epoch'"),
        ({"loss_name": "dicee"}, "error: unknown loss_name 'dicee'; valid names: asymmetric_focal,"),
    ],
)
def test_command_line_mistakes_stop_before_any_work(tmp_path, overrides, last_line):
    proc = run_bundle(["train.json"], {"bundle_root": str(tmp_path), **overrides}, expect_ok=False)
    assert proc.returncode == 1 and _last_line(proc).startswith(last_line)
    assert list(tmp_path.iterdir()) == []  # no data generated, nothing trained


def test_command_line_help_exits_0_without_training(tmp_path):
    proc = run_bundle(["train.json"], {"bundle_root": str(tmp_path), "help": True}, expect_ok=False)
    assert proc.returncode == 0 and "--loss_name" in proc.stdout and list(tmp_path.iterdir()) == []


def test_a_second_run_warns_before_replacing_the_first_ones_model(tmp_path):
    overrides = {"bundle_root": str(tmp_path), "synthetic_num_cases": 3, "synthetic_shape": [24, 24, 16], **TINY_TRAIN}
    first = run_bundle(["train.json"], {**overrides, "val_fraction": 0.34})
    assert "earlier run's model" not in first.stderr + first.stdout
    state = torch.load(tmp_path / "models" / "training_state.pt", weights_only=True)
    best = state["best_metrics"]["validator"]["best_metric"]
    again = run_bundle(["train.json"], {**overrides, "val_fraction": 0.34, "run_id": "initialize"})
    model = tmp_path / "models" / "model.pt"
    warning = f"{model} holds an earlier run's model (best validation metric {best:.4f} at epoch 1)"
    assert warning in again.stdout  # configs/logging.conf logs to stdout
    assert len(list((tmp_path / "eval" / "tensorboard").iterdir())) == 1  # the second run trained nothing


def test_choices_by_dotted_name_are_the_catalogue():
    with pytest.raises(ValueError, match="valid names: asymmetric_focal, asymmetric_focal_tversky, .*, wce\\."):
        check_choice("loss_name", "dicee", "scripts.losses.LOSSES", argv=["python"])
    assert check_choice("loss_name", "focal_tversky", "scripts.losses.LOSSES", argv=["python"]) is None
