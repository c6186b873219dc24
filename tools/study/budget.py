"""The budget check's section of ``docs/study.md``: each loss at 1x and at ``factor`` x the iterations, and a
verdict computed from the numbers: does a loss that fails within the main budget learn the object with more?

A run *learns the object* when its test Dice reaches ``learnable`` (the report's threshold of an informative
level); otherwise it *fails* (an empty prediction on every test volume, or predictions that miss). With several
seeds, a loss's verdict in the family sentences is that of its mean Dice over them.
"""

from __future__ import annotations

import pandas as pd

from .figures import level_label

FAMILIES = {
    "region": ("dice", "generalized_dice", "tversky", "focal_tversky", "focal_dice"),
    "distribution (cross-entropy)": ("bce", "wce", "focal", "topk_ce"),
    "compound (cross-entropy + region)": ("bce_dice", "combo", "symmetric_unified_focal", "asymmetric_unified_focal"),
    "boundary and per-component": ("gdl_boundary", "blob"),
    "Lovász": ("lovasz",),
}
"""Loss families of the verdict sentences; a loss in none of them is reported under "other"."""

VERDICTS = {
    "budget": "fails at 1x, learns at {f}x: budget",
    "loss": "fails at 1x and at {f}x: the loss",
    "learns": "learns at 1x and at {f}x",
    "lost": "learns at 1x, fails at {f}x",
}


def verdict(dice_1x: float, dice_fx: float, learnable: float) -> str:
    """One of :data:`VERDICTS`' keys from the test Dice at 1x and at the longer budget."""
    learns_1x, learns_fx = dice_1x >= learnable, dice_fx >= learnable
    if learns_1x:
        return "learns" if learns_fx else "lost"
    return "budget" if learns_fx else "loss"


def paired(budget: pd.DataFrame, learnable: float) -> pd.DataFrame:
    """One row per (loss, seed) that has both its 1x and its longer run: the metrics of both, suffixed ``_1x``
    and ``_fx``, and the verdict."""
    factor = int(budget["factor"].max())
    keys = ["loss", "level", "seed"]
    cols = ["iterations", "dice", "recall", "empty_pred"]
    one = budget[budget["factor"] == 1].set_index(keys)[cols]
    longer = budget[(budget["factor"] == factor) & (factor > 1)].set_index(keys)[cols]
    both = one.join(longer, lsuffix="_1x", rsuffix="_fx", how="inner").reset_index()
    both["verdict"] = [verdict(a, b, learnable) for a, b in zip(both["dice_1x"], both["dice_fx"])]
    return both


def per_loss(both: pd.DataFrame, learnable: float) -> pd.DataFrame:
    """Mean Dice over seeds per loss and the verdict of those means (columns ``loss``, ``verdict``)."""
    means = both.groupby("loss", sort=False)[["dice_1x", "dice_fx"]].mean().reset_index()
    means["verdict"] = [verdict(a, b, learnable) for a, b in zip(means["dice_1x"], means["dice_fx"])]
    return means


def first_learning_epoch(curves: pd.DataFrame, learnable: float) -> dict[tuple[str, int, int], int | None]:
    """Per (loss, seed, factor): the first epoch whose validation Dice reaches ``learnable`` (None: never)."""
    out = {}
    for (loss, seed, factor), c in curves.groupby(["loss", "seed", "factor"]):
        reached = c.sort_values("epoch").query("val_dice >= @learnable")["epoch"]
        out[(loss, int(seed), int(factor))] = int(reached.iloc[0]) if len(reached) else None
    return out


def _verb(verb: str, subjects) -> str:
    return verb + "s" if len(subjects) == 1 else verb


def _names(losses: list[str]) -> str:
    return ", ".join(losses) if losses else "none"


def family_sentence(family: str, rows: pd.DataFrame, factor: int) -> str:
    """What the check says about one family: which losses fail at 1x, and of those which learn at ``factor`` x."""
    failing = rows[rows["verdict"].isin(["budget", "loss"])]
    budget = failing.loc[failing["verdict"] == "budget", "loss"].tolist()
    loss = failing.loc[failing["verdict"] == "loss", "loss"].tolist()
    lost = rows.loc[rows["verdict"] == "lost", "loss"].tolist()
    learns = rows.loc[rows["verdict"] == "learns", "loss"].tolist()
    parts = [f"**{family}** ({len(rows)} loss{'es' if len(rows) > 1 else ''}):"]
    if not failing.empty:
        parts.append(f"{len(failing)} {_verb('fail', failing)} at 1x ({_names(failing['loss'].tolist())}).")
        if budget and not loss:
            who = "It learns" if len(budget) == 1 else "All of them learn"
            parts.append(f"{who} the object at {factor}x: a matter of budget, not of the loss.")
        elif loss and not budget:
            who = "It does not learn" if len(loss) == 1 else "None of them learns"
            parts.append(f"{who} the object at {factor}x either: a matter of the loss, within {factor}x the budget.")
        else:
            parts.append(f"At {factor}x {_names(budget)} {_verb('learn', budget)} the object (budget); {_names(loss)} "
                         f"still {_verb('fail', loss)} (the loss, within {factor}x the budget).")  # fmt: skip
    if learns and len(learns) == len(rows):
        parts.append(f"every loss learns the object at 1x already and at {factor}x ({_names(learns)});")
    elif learns:
        parts.append(f"{_names(learns)} {_verb('learn', learns)} at both budgets;")
    if lost:
        parts.append(f"{_names(lost)} {_verb('learn', lost)} at 1x but {_verb('fail', lost)} at {factor}x;")
    text = " ".join(parts).rstrip(";.")
    return text + "."


def _cell(value: float) -> str:
    return f"{value:.3f}"


def budget_section(budget: pd.DataFrame, learnable: float, curves: pd.DataFrame | None = None) -> list[str]:
    """The Markdown lines of the budget check: design sentence, table, a sentence per family, caveat; with the
    runs' ``curves``, the table also gives the first epoch of the longer run whose validation Dice reaches
    ``learnable``."""
    both = paired(budget, learnable)
    if both.empty:
        return ["## Budget check", "", "No loss has both its 1x and its longer run in these results."]
    factor = int(budget["factor"].max())
    longer_runs = budget[budget["factor"] == factor]
    level = float(both["level"].iloc[0])
    seeds = sorted(both["seed"].unique().tolist())
    iters_1x = sorted(both["iterations_1x"].unique().tolist())
    iters_fx = sorted(both["iterations_fx"].unique().tolist())
    first = first_learning_epoch(curves, learnable) if curves is not None and not curves.empty else {}
    epochs_fx = f"{int(curves['epoch'][curves['factor'] == factor].max())} epochs" if first else ""
    epochs_1x = int(curves["epoch"][curves["factor"] == 1].max()) if first else 0
    lines = [
        f"## Budget check: {factor}x the iterations at foreground {level_label(level)}",
        "",
        f"Every loss trained again at foreground {level_label(level)} with {factor}x the iterations "
        f"({', '.join(map(str, iters_fx))} instead of {', '.join(map(str, iters_1x))}; same epoch length, same "
        "data and initial weights, and the 1x run's batches first, so a longer run continues the 1x run), "
        f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}; the 1x columns are the same seed's "
        f"run of the main grid. A run *learns the object* when its test Dice reaches {learnable}. Raw values: "
        f"`budget.csv` (curves: `budget_curves.csv`) in the results folder. Training time of the {factor}x runs: "
        "median "
        f"{longer_runs['seconds'].median():.1f} s, total "
        f"{longer_runs['seconds'].sum() / 60:.1f} min."
        + (
            f" Last column: the first epoch of the {factor}x run whose validation Dice reaches {learnable} (the main "
            f"budget is {epochs_1x} epochs)."
            if first
            else ""
        ),  # fmt: skip
        "",
        f"| Loss | Seed | Dice 1x | Dice {factor}x | Recall 1x | Recall {factor}x | Empty predictions 1x | "
        f"Empty predictions {factor}x | Verdict |"
        + (f" {factor}x: validation Dice ≥ {learnable} from epoch |" if first else ""),  # fmt: skip
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if first else ""),
    ]
    for _, row in both.sort_values(["dice_fx", "loss"], ascending=[False, True]).iterrows():
        cells = [_cell(row[k]) for k in ("dice_1x", "dice_fx", "recall_1x", "recall_fx", "empty_pred_1x",
                                          "empty_pred_fx")]  # fmt: skip
        line = (
            f"| {row['loss']} | {row['seed']} | "
            + " | ".join(cells)
            + f" | {VERDICTS[row['verdict']].format(f=factor)} |"
        )
        if first:
            epoch = first.get((row["loss"], int(row["seed"]), factor))
            line += f" {epoch if epoch is not None else f'never ({epochs_fx})'} |"
        lines.append(line)
    lines += ["", "Reading, per loss family:", ""]
    known = {n for members in FAMILIES.values() for n in members}
    families = dict(FAMILIES, other=tuple(sorted(set(both["loss"]) - known)))
    verdicts = per_loss(both, learnable)
    for family, members in families.items():
        rows = verdicts.set_index("loss").reindex([m for m in members if m in set(verdicts["loss"])]).reset_index()
        if not rows.empty:
            lines.append(f"- {family_sentence(family, rows, factor)}")
    lines += [
        "",
        f"Caveat: {'one seed' if len(seeds) == 1 else f'{len(seeds)} seeds'} per loss: a verdict is what "
        f"{'this seed' if len(seeds) == 1 else 'these seeds'} did, not an effect measured against the spread over "
        "seeds (the main grid's rule never counts a single seed); and a loss that fails at "
        f"{factor}x may still learn with an even longer budget.",
    ]
    return lines
