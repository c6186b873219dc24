"""Study presets: the grid (losses x imbalance levels x samplers x seeds) and the identical budget of every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

STUDY_LOSSES = (
    "dice",
    "generalized_dice",
    "tversky",
    "focal_tversky",
    "focal_dice",
    "bce",
    "wce",
    "focal",
    "bce_dice",
    "combo",
    "symmetric_unified_focal",
    "asymmetric_unified_focal",
    "gdl_boundary",
    "blob",
)
"""The twelve losses compared in Yeung et al., CMIG 2022 (region: Dice, GDL, Tversky, Focal Tversky, Focal Dice;
distribution: BCE, WCE, Focal; compound: BCE+Dice, Combo, the two Unified Focal losses), the map loss GDL +
boundary (Kervadec et al.) for the HD95 claim and the instance loss blob (Kofler et al.) for the detection claim."""

BASELINE = "bce_dice"
"""Dice + cross-entropy, nnU-Net's default: every loss is compared with it."""

SIZE_CLASSES = ((20, 40), (200, 400), (1500, 2500))
"""Lesion sizes (voxels, inclusive range, log-uniform): tens, hundreds and thousands."""

THIN_LOSSES = ("bce_dice", "dice", "cldice", "dice_cldice", "skeleton_recall", "cbdice")
"""The thin-structure row: the baseline, Dice, the clDice losses (Shit et al., CVPR 2021), Skeleton Recall
(Kirchhoff et al., ECCV 2024) and cbDice (Shi et al., MICCAI 2024). Any catalogue name can be added by
``--losses``."""

TASKS = ("lesions", "tubes")
"""``lesions``: the lesion volumes of ``tools.study.data``; ``tubes``: the tubular trees of
``scripts.data.synthetic_tubes``, scored by voxel Dice, clDice and the Betti-0 error."""

SAMPLERS = ("uniform", "foreground")
"""``uniform``: ``RandSpatialCropd`` patches; ``foreground``: ``RandCropByPosNegLabeld`` with the bundle's
``pos=1, neg=1`` (configs/train.json), half the patches centred on a lesion voxel."""


THIN_ITERATIONS = 1000  # a pilot at 600: bce_dice and dice at Dice 0.75-0.80, both clDice losses over-segmenting


@dataclass(frozen=True)
class Level:
    """One imbalance level: volume shape and lesions per size class. The size classes are the same at every level,
    so the level changes the rare-class fraction, not the lesion sizes. For the ``tubes`` task ``per_class`` is the
    number of trees per volume."""

    name: str
    shape: tuple[int, int, int]
    per_class: int


@dataclass(frozen=True)
class Preset:
    losses: tuple[str, ...] = STUDY_LOSSES
    levels: tuple[Level, ...] = (Level("dense", (48, 48, 48), 2), Level("sparse", (80, 80, 48), 1))
    samplers: tuple[str, ...] = SAMPLERS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    size_classes: tuple[tuple[int, int], ...] = SIZE_CLASSES
    n_train: int = 8
    n_test: int = 3
    patch: tuple[int, int, int] = (24, 24, 24)
    num_samples: int = 2
    channels: tuple[int, ...] = (8, 16, 32)
    num_res_units: int = 0
    iterations: int = 1500  # 80 left most losses over-segmenting; a pilot at 300, 600, 1500 still improved
    iterations_per_epoch: int = 20
    lr: float = 3e-3
    threshold: float = 0.5
    sw_batch_size: int = 8
    threads: int = 1
    workers: int = 2
    device: str = "auto"
    task: str = "lesions"
    compile_loss: bool = True  # False: the losses run eagerly (same values; no compile time per process and loss)
    notes: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    # 14 losses x 2 levels x 2 samplers x 5 seeds = 280 runs on 2 shared CPU cores.
    "cpu": Preset(),
    # GPU (estimated, not run): larger volumes and patches, a wider U-Net, 2x the iterations.
    "full": Preset(
        levels=(Level("dense", (96, 96, 96), 8), Level("sparse", (160, 160, 128), 2)),
        n_train=32,
        n_test=8,
        patch=(64, 64, 64),
        channels=(16, 32, 64, 128),
        num_res_units=2,
        iterations=3000,
        iterations_per_epoch=150,
        lr=1e-3,
        sw_batch_size=4,
        threads=4,
        workers=1,
        device="cuda",
    ),
    # thin structures (issue 24): 6 losses x 5 seeds = 30 runs on 48^3 volumes of 2 trees, foreground sampler
    "thin": Preset(
        losses=THIN_LOSSES,
        levels=(Level("tubes", (48, 48, 48), 2),),
        samplers=("foreground",),
        n_train=6,
        n_test=3,
        iterations=THIN_ITERATIONS,
        task="tubes",
        # the soft skeleton's compile (~60 s per loss and process) costs more than it saves at 24^3 patches (eager
        # 76 ms vs compiled 94 ms per iteration of dice_cldice, one thread)
        compile_loss=False,
    ),
    # tests: 2 losses, 1 level, 2 samplers, 1 seed, a few iterations
    "micro": Preset(
        losses=("dice", "bce_dice"),
        levels=(Level("tiny", (32, 32, 32), 1),),
        seeds=(0,),
        n_train=2,
        n_test=2,
        patch=(16, 16, 16),
        channels=(4, 8),
        iterations=4,
        iterations_per_epoch=2,
        workers=1,
    ),
}


def _level(value) -> Level:
    if isinstance(value, Level):
        return value
    if isinstance(value, dict):
        return Level(str(value["name"]), tuple(int(s) for s in value["shape"]), int(value["per_class"]))
    raise ValueError(f"a level is a dict with name, shape and per_class, got {value!r}.")


def get_preset(name: str, **overrides) -> Preset:
    """The preset ``name`` with ``overrides`` (any :class:`Preset` field) applied.

    Raises:
        ValueError: unknown preset name or field, a loss not in the catalogue, no baseline, an unknown sampler.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}.")
    fields = set(Preset.__dataclass_fields__)
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown preset field(s) {unknown}; valid fields: {sorted(fields)}.")
    for key in ("losses", "samplers", "seeds", "patch", "channels", "levels"):
        if key in overrides and overrides[key] is not None:
            value = overrides[key]
            overrides[key] = tuple(value) if isinstance(value, list | tuple) else (value,)
    if "levels" in overrides:
        overrides["levels"] = tuple(_level(v) for v in overrides["levels"])
    if "size_classes" in overrides:
        overrides["size_classes"] = tuple(tuple(int(v) for v in c) for c in overrides["size_classes"])
    preset = replace(PRESETS[name], **overrides)
    from scripts.losses import LOSSES

    bad = [n for n in preset.losses if n not in LOSSES]
    if bad:
        raise ValueError(f"loss name(s) {bad} not in the catalogue; valid names: {', '.join(sorted(LOSSES))}.")
    if BASELINE not in preset.losses:
        raise ValueError(f"the baseline {BASELINE!r} must be one of the losses, got {list(preset.losses)}.")
    if preset.task not in TASKS:
        raise ValueError(f"unknown task {preset.task!r}; valid: {list(TASKS)}.")
    bad = [s for s in preset.samplers if s not in SAMPLERS]
    if bad:
        raise ValueError(f"unknown sampler(s) {bad}; valid: {list(SAMPLERS)}.")
    return preset
