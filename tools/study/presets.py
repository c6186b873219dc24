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

SAMPLERS = ("uniform", "foreground")
"""``uniform``: ``RandSpatialCropd`` patches; ``foreground``: ``RandCropByPosNegLabeld`` with the bundle's
``pos=1, neg=1`` (configs/train.json), half the patches centred on a lesion voxel."""


@dataclass(frozen=True)
class Level:
    """One imbalance level: volume shape and lesions per size class. The size classes are the same at every level,
    so the level changes the rare-class fraction, not the lesion sizes."""

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
    bad = [s for s in preset.samplers if s not in SAMPLERS]
    if bad:
        raise ValueError(f"unknown sampler(s) {bad}; valid: {list(SAMPLERS)}.")
    return preset
