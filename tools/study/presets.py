"""Study presets: the grid (losses x imbalance levels x seeds) and the identical training budget of every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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
)
"""Twelve catalogue losses: region (Dice, GDL, Tversky, Focal Tversky, Focal Dice), distribution (BCE, WCE,
Focal) and compound (BCE+Dice, Combo, the two Unified Focal losses), as compared in Yeung et al., CMIG 2022."""

LEVELS = (0.01, 0.001, 0.0001)
"""Rare-class fraction of the voxels of every volume: about 1 %, 0.1 % and 0.01 %."""


@dataclass(frozen=True)
class Preset:
    losses: tuple[str, ...] = STUDY_LOSSES
    levels: tuple[float, ...] = LEVELS
    seeds: tuple[int, ...] = (0, 1, 2)
    shape: tuple[int, int, int] = (40, 40, 24)
    blobs: int = 1
    n_train: int = 32
    n_val: int = 4
    n_test: int = 8
    channels: tuple[int, ...] = (8, 16, 32)
    num_res_units: int = 0
    iterations: int = 240
    iterations_per_epoch: int = 24
    batch_size: int = 2
    lr: float = 3e-3
    threshold: float = 0.5
    threads: int = 1
    workers: int = 2
    device: str = "auto"

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    # 108 runs on 2 shared CPU cores: 40x40x24 volumes, ~38k voxels, so 0.01 % is a 4-voxel object.
    "cpu": Preset(),
    # GPU: 96^3 volumes (0.01 % = 88 voxels), a wider U-Net, 10x the iterations; see docs/study.md for run time.
    "full": Preset(
        shape=(96, 96, 96),
        blobs=2,
        n_train=48,
        n_val=8,
        n_test=16,
        channels=(16, 32, 64, 128),
        num_res_units=2,
        iterations=3000,
        iterations_per_epoch=150,
        batch_size=4,
        lr=1e-3,
        threads=4,
        workers=1,
        device="cuda",
    ),
    # tests: 2 losses, 1 level, 1 seed, a few iterations
    "micro": Preset(
        losses=("dice", "asymmetric_unified_focal"),
        levels=(0.01,),
        seeds=(0,),
        shape=(16, 16, 16),
        n_train=4,
        n_val=2,
        n_test=2,
        channels=(4, 8),
        iterations=4,
        iterations_per_epoch=2,
        workers=1,
    ),
}


def get_preset(name: str, **overrides) -> Preset:
    """The preset ``name`` with ``overrides`` (any :class:`Preset` field) applied.

    Raises:
        ValueError: unknown preset name or field, or a loss name not in the catalogue.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}.")
    fields = set(Preset.__dataclass_fields__)
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown preset field(s) {unknown}; valid fields: {sorted(fields)}.")
    for key in ("losses", "levels", "seeds", "shape", "channels"):
        if key in overrides and overrides[key] is not None:
            value = overrides[key]
            overrides[key] = tuple(value) if isinstance(value, list | tuple) else (value,)
    preset = replace(PRESETS[name], **overrides)
    from scripts.losses import LOSSES

    bad = [n for n in preset.losses if n not in LOSSES]
    if bad:
        raise ValueError(f"loss name(s) {bad} not in the catalogue; valid names: {', '.join(sorted(LOSSES))}.")
    bad_levels = [lv for lv in preset.levels if not 0 < lv < 1]
    if bad_levels:
        raise ValueError(f"imbalance levels must be fractions in (0, 1), got {bad_levels}.")
    return preset
