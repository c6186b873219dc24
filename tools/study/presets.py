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
    "gdl_boundary",
    "lovasz",
    "topk_ce",
    "blob",
)
"""Sixteen catalogue losses: the twelve compared in Yeung et al., CMIG 2022 (region: Dice, GDL, Tversky, Focal
Tversky, Focal Dice; distribution: BCE, WCE, Focal; compound: BCE+Dice, Combo, the two Unified Focal losses) and
four for the hardest imbalance: GDL + boundary (Kervadec et al.), Lovász hinge (Berman et al.), TopK CE (nnU-Net)
and the blob loss (Kofler et al.)."""

LEVELS = (0.01, 0.001, 0.0001)
"""Rare-class fraction of the voxels of every volume: about 1 %, 0.1 % and 0.01 %."""


@dataclass(frozen=True)
class BudgetCheck:
    """Extra runs of every study loss at one level with ``factor`` times the iterations (same epoch length, so
    ``factor`` times the epochs), for ``seeds``: does a loss that fails within the budget learn with more?"""

    level: float = 0.001
    factor: int = 4
    seeds: tuple[int, ...] = (0,)


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
    budget_check: BudgetCheck | None = BudgetCheck()

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
        budget_check=BudgetCheck(level=0.01, factor=4, seeds=(0,)),
    ),
}


def get_preset(name: str, **overrides) -> Preset:
    """The preset ``name`` with ``overrides`` (any :class:`Preset` field) applied.

    ``budget_check`` may be given as a dict of :class:`BudgetCheck` fields, or ``None`` / ``False`` for none.

    Raises:
        ValueError: unknown preset name or field, a loss name not in the catalogue, or a budget check outside
            the grid (:func:`check_budget`).
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
    if isinstance(overrides.get("budget_check"), dict):  # from the command line or a preset.json
        check = dict(overrides["budget_check"])
        unknown = sorted(set(check) - set(BudgetCheck.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"unknown budget_check field(s) {unknown}; valid: {list(BudgetCheck.__dataclass_fields__)}."
            )
        if "seeds" in check:
            check["seeds"] = tuple(check["seeds"]) if isinstance(check["seeds"], list | tuple) else (check["seeds"],)
        overrides["budget_check"] = BudgetCheck(**check)
    elif overrides.get("budget_check", None) is False:
        overrides["budget_check"] = None
    preset = replace(PRESETS[name], **overrides)
    from scripts.losses import LOSSES

    bad = [n for n in preset.losses if n not in LOSSES]
    if bad:
        raise ValueError(f"loss name(s) {bad} not in the catalogue; valid names: {', '.join(sorted(LOSSES))}.")
    bad_levels = [lv for lv in preset.levels if not 0 < lv < 1]
    if bad_levels:
        raise ValueError(f"imbalance levels must be fractions in (0, 1), got {bad_levels}.")
    check_budget(preset)
    return preset


def check_budget(preset: Preset) -> None:
    """The budget check compares with the main grid's runs: its level and seeds must be in the grid.

    Raises:
        ValueError: a level or seed outside the grid, or a factor that is not an integer >= 2.
    """
    check = preset.budget_check
    if check is None:
        return
    if check.level not in preset.levels:
        raise ValueError(
            f"budget_check level {check.level} is not a level of the grid {list(preset.levels)} "
            "(set budget_check too, or budget_check=None)."
        )
    if not set(check.seeds) <= set(preset.seeds):
        raise ValueError(
            f"budget_check seeds {list(check.seeds)} must be seeds of the grid {list(preset.seeds)} "
            "(set budget_check too, or budget_check=None)."
        )
    if isinstance(check.factor, bool) or not isinstance(check.factor, int) or check.factor < 2:
        raise ValueError(f"budget_check factor must be an integer >= 2, got {check.factor!r}.")


def budget_preset(preset: Preset) -> Preset:
    """``preset`` with the budget check's iterations (``factor`` x), the epoch length unchanged."""
    return replace(preset, iterations=preset.iterations * preset.budget_check.factor)
