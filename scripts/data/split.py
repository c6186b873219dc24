"""Deterministic train/validation split of a datalist, saved with the run."""

from __future__ import annotations

import logging
import os
import random

from scripts.files import write_json

from .datalist import _finish, datalist_sections

logger = logging.getLogger(__name__)


def _check_fraction(val_fraction: float) -> float:
    try:
        value = float(val_fraction)
    except (TypeError, ValueError):
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}.") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction!r}.")
    return value


def split_datalist(
    datalist: list[dict], val_fraction: float = 0.2, seed: int = 0, save_to: str | None = None
) -> tuple[list[dict], list[dict]]:
    """Split ``datalist`` into (train, val), deterministically from ``seed``.

    The cases are sorted by ``"case"`` before shuffling with ``random.Random(seed)``, so the split depends only
    on the set of cases and the seed, not on the order of the list. ``round(val_fraction * n)`` cases go to
    validation, clamped to ``[1, n - 1]`` when ``n >= 2``; a single case goes to training and validation is
    empty. Both parts come back sorted by case. With ``save_to``, the split is written there as JSON
    ``{"seed", "val_fraction", "training", "validation"}`` (atomically: temporary file, then rename).
    """
    fraction = _check_fraction(val_fraction)
    if not isinstance(datalist, list) or not all(isinstance(e, dict) and "case" in e for e in datalist):
        raise ValueError("datalist must be a list of dicts, each with a 'case' key (see build_datalist).")
    if not datalist:
        raise ValueError("cannot split an empty datalist.")
    ordered = sorted(datalist, key=lambda e: str(e["case"]))
    n = len(ordered)
    n_val = 0 if n < 2 else min(max(round(fraction * n), 1), n - 1)
    indices = list(range(n))
    random.Random(seed).shuffle(indices)
    val_idx = set(indices[:n_val])
    train = [e for i, e in enumerate(ordered) if i not in val_idx]
    val = [e for i, e in enumerate(ordered) if i in val_idx]
    if save_to:
        write_json(save_to, {"seed": seed, "val_fraction": fraction, "training": train, "validation": val})
    return train, val


def _empty_validation(where: str, n_train: int, n_val: int, n_bad: int, given: bool) -> ValueError:
    source = "the datalist file's validation list" if given else "the split"
    return ValueError(
        f"{where}: {source} leaves no validation case ({n_train} training, {n_val} validation case(s) after "
        f"leaving out {n_bad} bad case(s)); fix the bad cases, add validation cases, or raise val_fraction."
    )


def train_val_datalists(
    dataset_dir: str,
    datalist_file: str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    save_to: str | None = None,
    check: bool = False,
    skip_bad: bool = False,
    check_cache_file: str | None = None,
    label_convention: str | None = None,
) -> dict[str, list[dict]]:
    """``{"training": [...], "validation": [...]}`` for a config: ``"@split#training"``.

    With ``check``, every case is first validated by :func:`scripts.data.validate.check_datalist` and the bad ones
    are removed (``skip_bad``: with a warning naming them; otherwise a ValueError lists them), so the split is
    made from good cases only. A datalist file (or MSD ``dataset.json``) with a non-empty ``validation`` list keeps
    its own split (``seed`` and ``val_fraction`` unused); otherwise the labelled cases are split by
    :func:`split_datalist`. A split that leaves validation empty is a ValueError naming the counts.
    ``check_cache_file`` lets later runs skip re-reading unchanged files (see ``check_datalist``'s ``cache_file``);
    ``label_convention`` replaces the recognised label convention of every case.
    """
    _check_fraction(val_fraction)
    sections = datalist_sections(
        dataset_dir,
        datalist_file,
        allow_missing=bool(check and skip_bad),
        skip_bad=skip_bad,
        label_convention=label_convention,
    )
    where = f"dataset_dir {os.path.abspath(str(dataset_dir))}"
    labelled = _finish(sections.get("training", []) + sections.get("validation", []), True, where)
    given_val = {e["case"] for e in sections.get("validation", [])}
    n_bad = 0
    if check:
        from .validate import check_datalist

        good = check_datalist(labelled, skip_bad=skip_bad, cache_file=check_cache_file)
        n_bad = len(labelled) - len(good)
        labelled = good
    if given_val:
        train = [e for e in labelled if e["case"] not in given_val]
        val = [e for e in labelled if e["case"] in given_val]
        logger.info("using the datalist file's own split: %d training, %d validation cases", len(train), len(val))
    else:
        train, val = split_datalist(labelled, val_fraction, seed)
    if not train:
        raise ValueError(f"{where}: no good training case left ({len(val)} validation, {n_bad} bad case(s)).")
    if not val:
        raise _empty_validation(where, len(train), len(val), n_bad, bool(given_val))
    if save_to:
        content = {"seed": None if given_val else seed, "val_fraction": None if given_val else float(val_fraction)}
        write_json(save_to, {**content, "training": train, "validation": val})
    return {"training": train, "validation": val}
