"""Build a datalist (one dict per case) from a data set folder, recognising its layout from the folder alone."""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter

from . import layouts
from .datalist_file import read_datalist_file
from .label_conventions import get_convention

logger = logging.getLogger(__name__)


def _check_dataset_dir(dataset_dir: str) -> str:
    if not isinstance(dataset_dir, str | os.PathLike) or not str(dataset_dir):
        raise ValueError(f"dataset_dir must be a folder path, got {dataset_dir!r}.")
    path = os.path.abspath(os.path.expanduser(str(dataset_dir)))
    if not os.path.exists(path):
        raise FileNotFoundError(f"dataset_dir {path} does not exist.")
    if not os.path.isdir(path):
        raise ValueError(f"dataset_dir {path} is not a folder.")
    return path


def _resolve_datalist_file(datalist_file: str, dataset_dir: str) -> str:
    candidates = [os.path.abspath(os.path.expanduser(str(datalist_file)))]
    if not os.path.isabs(str(datalist_file)):
        candidates.append(os.path.join(dataset_dir, str(datalist_file)))
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"datalist_file {datalist_file!r} not found (looked at {', '.join(candidates)}).")


def _hint(dataset_dir: str) -> str:
    """Name sub-folders that hold a recognisable layout, for the 'no cases' error."""
    hits = []
    for sub in sorted(os.listdir(dataset_dir)):
        path = os.path.join(dataset_dir, sub)
        if sub.startswith(".") or not os.path.isdir(path):
            continue
        try:
            if layouts.is_msd(path) or layouts.kits_root(path) or layouts.find_brats(path, allow_missing=True).entries:
                hits.append(path)
        except OSError:
            continue
    return f" Sub-folders that look like a data set: {hits}; point dataset_dir there." if hits else ""


def _kits_imaging_hint(root: str) -> str:
    clone = os.path.dirname(os.path.normpath(root))
    return (
        f"the KiTS case folders in {root} have segmentations but no imaging.nii.gz: the clone's imaging is "
        f"downloaded separately. Run `python -m starter_code.get_imaging` in {clone} (KiTS19; KiTS21: "
        f"`python kits21/data/get_imaging.py`, KiTS23: `kits23_download_data`), then point dataset_dir here again."
    )


def _report_folder_problems(root: str, problems: list[str], skip_bad: bool) -> None:
    message = f"dataset_dir {root}: {len(problems)} folder(s) or file(s) give no usable case:\n  " + "\n  ".join(
        problems
    )
    if not skip_bad:
        raise ValueError(message + "\n(fix or remove them, or leave them out with skip_bad_cases=True)")
    message = "leaving out (skip_bad_cases): " + message
    logger.warning(message)
    warnings.warn(message, stacklevel=3)


def scan_dataset(
    dataset_dir: str, datalist_file: str | None = None, allow_missing: bool = False
) -> tuple[dict[str, list[dict]], list[str]]:
    """``(sections, problems)``: the entries of each section (see :func:`datalist_sections`) and every folder or
    file that looks like a case but gives none, named with the reason (empty, nested too deep, unreadable, a
    broken symbolic link, two files for one role, a missing modality without ``allow_missing``)."""
    root = _check_dataset_dir(dataset_dir)
    if datalist_file:
        return read_datalist_file(_resolve_datalist_file(datalist_file, root), root), []
    if layouts.is_msd(root):
        return read_datalist_file(os.path.join(root, "dataset.json"), root), []
    for finder in (layouts.find_kits, layouts.find_brats):
        found = finder(root, allow_missing=allow_missing)
        if found.entries or found.problems:
            return {"training": found.entries, "validation": [], "test": []}, found.problems
    without_imaging = layouts.kits_without_imaging(root)
    if without_imaging:
        raise ValueError(f"no recognisable cases in dataset_dir {root}: {_kits_imaging_hint(without_imaging)}")
    raise ValueError(f"no recognisable cases in dataset_dir {root}. Looked for: {layouts.looked_for()}.{_hint(root)}")


def datalist_sections(
    dataset_dir: str,
    datalist_file: str | None = None,
    allow_missing: bool = False,
    skip_bad: bool = False,
    label_convention: str | None = None,
) -> dict[str, list[dict]]:
    """All entries, labelled or not, by section: ``training``/``validation``/``test`` from a datalist file or MSD
    ``dataset.json``; a folder layout puts every case in ``training``.

    A folder that looks like a case but gives none is an error naming it and the reason; ``skip_bad`` leaves it
    out with a warning naming it instead. ``label_convention`` (a name of ``CONVENTIONS``) replaces the
    recognised convention of every entry."""
    sections, problems = scan_dataset(dataset_dir, datalist_file, allow_missing)
    if problems:
        _report_folder_problems(_check_dataset_dir(dataset_dir), problems, skip_bad)
    if label_convention is not None:
        name = get_convention(label_convention).name
        sections = {s: [{**e, "convention": name} for e in entries] for s, entries in sections.items()}
    return sections


def _finish(entries: list[dict], require_label: bool, where: str) -> list[dict]:
    duplicates = sorted(c for c, n in Counter(e["case"] for e in entries).items() if n > 1)
    if duplicates:
        raise ValueError(f"{where}: case ids occur more than once: {duplicates}.")
    kept = [e for e in entries if e.get("label") or not require_label]
    unlabelled = sorted(e["case"] for e in entries if not e.get("label"))
    if require_label and unlabelled:
        shown = ", ".join(unlabelled[:10]) + (", ..." if len(unlabelled) > 10 else "")
        logger.warning("%s: %d case(s) without a label left out (inference only): %s", where, len(unlabelled), shown)
        if not kept:
            raise ValueError(
                f"{where}: none of the {len(entries)} case(s) has a label (e.g. {unlabelled[0]!r}); training and "
                f"evaluation need labels (use require_label=False for inference)."
            )
    return sorted(kept, key=lambda e: e["case"])


def build_datalist(
    dataset_dir: str,
    datalist_file: str | None = None,
    require_label: bool = True,
    allow_missing: bool = False,
    skip_bad: bool = False,
    label_convention: str | None = None,
) -> list[dict]:
    """List the cases of ``dataset_dir``, whose layout is recognised from the folder alone.

    Recognised: BraTS 2020/2021 and BraTS 2023/2024 (a folder per case, or one level deeper), MSD
    Task01_BrainTumour (``dataset.json``; its ``test`` images are kept only with ``require_label=False``), KiTS19
    and KiTS21/23 (``case_XXXXX`` folders in ``dataset_dir``, its ``data/``, ``dataset/`` or ``kits21/data/``),
    or an explicit decathlon-style ``datalist_file`` (paths relative to ``dataset_dir``; all its sections are
    listed, see :func:`train_val_datalists` for its split).

    Returns entries ``{"case", "image", "label" (when present), "convention"}`` with absolute paths, sorted by
    case. ``image`` is the list FLAIR, T1, T1ce, T2 for BraTS (mapped by modality name from any source), the 4-D
    image for MSD, the CT for KiTS.

    Args:
        require_label: leave out cases without a label (training, evaluation); ``False`` keeps all (inference).
        allow_missing: keep a case folder that lacks a modality, with the expected path of the missing file, so
            that :func:`scripts.data.validate.check_datalist` reports it (and ``skip_bad=True`` drops it) instead
            of this function raising.
        skip_bad: a folder that looks like a case but gives none is left out with a warning naming it (default:
            an error naming every such folder).
        label_convention: replaces the recognised label convention of every case (e.g. ``"kits23"``).

    Raises:
        FileNotFoundError: ``dataset_dir`` or ``datalist_file`` does not exist.
        ValueError: no recognisable case (the message lists what was looked for; a KiTS clone without imaging
            names the download step), folders that give no case (every one listed, with the reason), duplicate
            case ids, no labelled case with ``require_label``.
    """
    sections = datalist_sections(dataset_dir, datalist_file, allow_missing, skip_bad, label_convention)
    entries = [e for s in ("training", "validation", "test") for e in sections.get(s, [])]
    return _finish(entries, require_label, f"dataset_dir {os.path.abspath(str(dataset_dir))}")
