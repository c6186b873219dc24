"""``python -m tools.study compare``: the bundle's own train and evaluate workflows, once per setting and seed, on
any data and config overlays, then per-case metrics, paired statistics and a report.

Each run is two subprocesses, ``python -m monai.bundle run`` with the train configs and then with ``evaluate.json``
merged after ``train.json``, started in the bundle folder with ``--seed``, the setting's ids and every id the caller
passed. A run writes into a folder of its own (``<output_dir>/runs/<setting>/seed_<k>/``: ``models/`` through
``ckpt_dir``, ``eval/`` through ``output_dir``); ``bundle_root`` is ``output_dir``, so the built-in synthetic data
set is generated once into ``<output_dir>/data/`` and shared by every run. A run is finished when its ``done.json``
exists (written atomically after evaluate); an interrupted training is resumed (``--resume True``), an interrupted
evaluate is run again, a finished run is never redone.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.files import write_json

logger = logging.getLogger(__name__)

TRAIN_CONFIG = "configs/train.json"
EVALUATE_CONFIG = "configs/evaluate.json"
DONE = "done.json"
TRAIN_DONE = "train_done.json"
COMMANDS = "commands.json"
# ids that compare sets per run itself: passing them would make the runs write over each other or break pairing
RESERVED_IDS = ("seed", "output_dir", "ckpt_dir", "resume", "config_file")

SMOKE = {
    "synthetic_num_cases": 6,
    "val_fraction": 0.34,  # 6 cases -> 4 training, 2 validation
    "synthetic_shape": [48, 48, 32],
    "patch_size": [32, 32, 32],
    "infer_roi_size": [48, 48, 32],
    "epochs": 1,
    "num_samples": 1,
    "num_workers": 0,
    "loss_compile": False,
}
SMOKE_KITS19 = {
    "synthetic_num_cases": 6,
    "val_fraction": 0.34,
    "synthetic_shape": [24, 48, 48],
    "spacing": [3.0, 2.0, 2.0],  # the synthetic spacing: no resampling to the real data's finer median spacing
    "patch_size": [16, 32, 32],
    "infer_roi_size": [16, 32, 32],
    "filters": [4, 8, 16, 32],
    "epochs": 1,
    "val_interval": 1,
    "num_samples": 1,
    "num_workers": 0,
    "loss_compile": False,
}
KITS19_CONFIGS = [TRAIN_CONFIG, "configs/kits19_common.json", "configs/kits19.json"]

PRESETS: dict[str, dict] = {
    # a few minutes per run on 2 CPU cores: the tests' setting, not a result
    "smoke": {"ids": SMOKE},
    "smoke_kits19": {"config_file": KITS19_CONFIGS, "ids": SMOKE_KITS19},
    # real data on one GPU (README / docs/kits19.md settings); pass --dataset_dir
    "brats_gpu": {
        "ids": {
            "epochs": 300,
            "patch_size": [128, 128, 128],
            "infer_roi_size": [240, 240, 160],
            "network_def#init_filters": 16,
            "learning_rate": 0.0001,
            "val_interval": 5,
            "num_workers": 4,
        }
    },
    "kits19_gpu": {
        "config_file": KITS19_CONFIGS,
        "ids": {
            "spacing": [3.22, 1.62, 1.62],
            "filters": [32, 64, 128, 256, 320, 320],
            "strides": [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]],
            "patch_size": [80, 160, 160],
            "infer_roi_size": [80, 160, 160],
            "epochs": 1000,
            "val_interval": 10,
            "learning_rate": 0.001,
            "num_workers": 8,
        },
    },
}


@dataclass(frozen=True)
class Run:
    """One training + evaluation: ``name`` is the loss or the variant, ``ids`` every id passed to both workflows."""

    name: str
    seed: int
    folder: Path
    config_file: tuple[str, ...]
    ids: dict = field(hash=False)

    @property
    def eval_dir(self) -> Path:
        return self.folder / "eval"

    def command(self, workflow: str) -> list[str]:
        files = list(self.config_file) if workflow == "train" else evaluate_configs(self.config_file)
        args = ["-m", "monai.bundle", "run", "--config_file", json.dumps(files)]
        ids = dict(self.ids, seed=self.seed, output_dir=str(self.eval_dir), ckpt_dir=str(self.folder / "models"))
        if workflow == "train":
            ids["resume"] = True  # continues an interrupted training; starts from scratch without a state file
        for key, value in ids.items():
            args += [f"--{key}", cli_value(value)]
        return args


def cli_value(value) -> str:
    """An id's value as ``monai.bundle run`` (fire) reads it back: strings as they are, anything else as a
    Python literal (``True``, ``None``, ``[32, 32, 32]``)."""
    return value if isinstance(value, str) else repr(value)


def as_list(value, what: str) -> list:
    """A list given as a list, or as the text of one (``"['a','b']"``), or a single string."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError) as err:
                raise ValueError(f"{what} is not a valid list: {value!r} ({err}).") from None
        else:
            return [value]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, got {value!r}.")
    return value


def evaluate_configs(config_file: Sequence[str]) -> list[str]:
    """The evaluate workflow's configs: ``evaluate.json`` merged right after ``train.json``, the overlays after
    it (as the README and docs/kits19.md run it)."""
    names = [os.path.normpath(f) for f in config_file]
    index = names.index(os.path.normpath(TRAIN_CONFIG))
    return [*config_file[: index + 1], EVALUATE_CONFIG, *config_file[index + 1 :]]


def check_config_files(config_file: Sequence[str], bundle_dir: Path) -> tuple[str, ...]:
    files = tuple(str(f) for f in config_file)
    if not files:
        raise ValueError(f"config_file is empty: give at least {TRAIN_CONFIG!r}.")
    for f in files:
        if not (bundle_dir / f).is_file():
            raise FileNotFoundError(f"config file {f!r} not found (looked for {bundle_dir / f}).")
    norm = [os.path.normpath(f) for f in files]
    if os.path.normpath(TRAIN_CONFIG) not in norm:
        raise ValueError(f"config_file must include {TRAIN_CONFIG!r} (the overlays are merged after it), got {files}.")
    if os.path.normpath(EVALUATE_CONFIG) in norm:
        raise ValueError(f"config_file holds the training configs only; compare adds {EVALUATE_CONFIG!r} itself.")
    return files


def check_seeds(seeds) -> list[int]:
    seeds = as_list(seeds, "seeds")
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. --seeds '[0, 1, 2]'.")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be integers, got {seeds!r}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat, got {seeds!r}.")
    return seeds


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name or os.sep in name or name.startswith(".") or name != name.strip():
        raise ValueError(f"{what} {name!r} cannot name a run folder (a non-empty name without '/' or leading '.').")
    return name


def settings_from(losses, variants, ids: Mapping) -> dict[str, tuple[dict, list[str]]]:
    """``{name: (extra ids, extra config files)}`` in the order given; the first is the baseline."""
    from scripts.losses import LOSSES

    if losses is not None and variants is not None:
        raise ValueError("pass --losses or --variants, not both (a variant can set its own loss_name).")
    if variants is not None:
        if isinstance(variants, str):
            try:
                variants = json.loads(variants)
            except json.JSONDecodeError as err:
                raise ValueError(f"variants is not valid JSON ({err}): {variants!r}.") from None
        if not isinstance(variants, Mapping) or not variants:
            raise ValueError(f"variants must be a non-empty mapping name -> ids, got {variants!r}.")
        settings = {}
        for name, extra in variants.items():
            check_name(name, "variant")
            if not isinstance(extra, Mapping):
                raise ValueError(f"variant {name!r} must map ids to values, got {extra!r}.")
            extra = dict(extra)
            files = [str(f) for f in as_list(extra.pop("config_file", []), f"variant {name!r} config_file")]
            for key in RESERVED_IDS[:-1]:
                if key in extra:
                    raise ValueError(f"variant {name!r} sets {key!r}, which compare sets per run.")
            settings[name] = (extra, files)
        return settings
    losses = as_list(losses if losses is not None else [], "losses")
    if not losses:
        raise ValueError('losses is empty: give at least one catalogue loss, e.g. --losses \'["bce_dice", "dice"]\'.')
    unknown = [n for n in losses if n not in LOSSES]
    if unknown:
        raise ValueError(f"unknown loss(es) {unknown}; the catalogue has: {', '.join(sorted(LOSSES))}.")
    if len(set(losses)) != len(losses):
        raise ValueError(f"losses must not repeat, got {losses}.")
    if "loss_name" in ids:
        raise ValueError("loss_name is set per run from --losses; do not pass it as well.")
    return {name: ({"loss_name": name}, []) for name in losses}


def plan(
    config_file,
    seeds,
    output_dir: str | os.PathLike,
    losses=None,
    variants=None,
    bundle_dir: str | os.PathLike = ".",
    ids: Mapping | None = None,
) -> list[Run]:
    """Every run of the comparison, settings in the order given (the first is the baseline), then seeds."""
    bundle_dir = Path(bundle_dir).resolve()
    ids = dict(ids or {})
    for key in RESERVED_IDS:
        if key in ids:
            raise ValueError(f"--{key} is set by compare per run (use --seeds / --output_dir / --config_file).")
    base_files = check_config_files(as_list(config_file, "config_file"), bundle_dir)
    seeds = check_seeds(seeds)
    settings = settings_from(losses, variants, ids)
    out = Path(output_dir).resolve()
    ids.setdefault("bundle_root", str(out))  # the built-in data set generated once, in <output_dir>/data
    runs = []
    for name, (extra, files) in settings.items():
        files = check_config_files([*base_files, *files], bundle_dir)
        for seed in seeds:
            folder = out / "runs" / name / f"seed_{seed}"
            runs.append(Run(name, seed, folder, files, ids | extra))
    return runs


def _run_workflow(run: Run, workflow: str, bundle_dir: Path) -> float:
    args = [sys.executable, *run.command(workflow)]
    log = run.folder / f"{workflow}.log"
    logger.info("%s %s seed %d: %s (log %s)", workflow, run.name, run.seed, " ".join(args[1:]), log)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(bundle_dir), env.get("PYTHONPATH", "")) if p)
    start = time.perf_counter()
    with open(log, "w") as f:
        code = subprocess.run(
            args, cwd=bundle_dir, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    seconds = time.perf_counter() - start
    if code.returncode:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise RuntimeError(
            f"{workflow} of {run.name!r} seed {run.seed} failed (exit status {code.returncode}); log {log}:\n{tail}"
        )
    return seconds


def _check_commands(run: Run) -> None:
    """A run folder belongs to one command line: refuse to resume it with other settings."""
    path = run.folder / COMMANDS
    wanted = {w: run.command(w) for w in ("train", "evaluate")}
    started = (run.folder / TRAIN_DONE).exists() or (run.folder / "models" / "training_state.pt").exists()
    if path.exists() and started:
        stored = json.loads(path.read_text())
        if stored != wanted:
            raise ValueError(
                f"{run.folder} holds a run with other settings ({path}); use another --output_dir or delete "
                f"that folder. Stored train command: {' '.join(stored.get('train', []))}"
            )
    else:  # nothing to resume yet: a failed start may be retried with other settings
        write_json(path, wanted, indent=1)


def execute(run: Run, bundle_dir: str | os.PathLike = ".") -> bool:
    """Train and evaluate ``run`` unless it is finished; returns whether anything ran."""
    bundle_dir = Path(bundle_dir).resolve()
    if (run.folder / DONE).exists():
        return False
    run.folder.mkdir(parents=True, exist_ok=True)
    _check_commands(run)
    train_done = run.folder / TRAIN_DONE
    if train_done.exists():
        train_s = json.loads(train_done.read_text())["train_s"]
    else:
        train_s = _run_workflow(run, "train", bundle_dir)
        write_json(train_done, {"train_s": train_s})
    evaluate_s = _run_workflow(run, "evaluate", bundle_dir)
    write_json(run.folder / DONE, {"name": run.name, "seed": run.seed, "train_s": train_s, "evaluate_s": evaluate_s})
    return True


def execute_all(runs: Sequence[Run], bundle_dir: str | os.PathLike = ".") -> int:
    """Every unfinished run, in order (seed by seed, so that partial results already pair); returns how many ran."""
    done = 0
    for run in sorted(runs, key=lambda r: (r.seed, [x.name for x in runs].index(r.name))):
        done += execute(run, bundle_dir)
    return done
