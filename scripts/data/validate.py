"""Check every case of a datalist before training, evaluation or inference, and report every bad one.

Checks per case: every file exists and is a readable NIfTI; images and label agree in spatial shape and affine;
label values belong to the case's convention; image intensities are finite; no image (or channel of a 4-D
image) is empty, i.e. constant. Shapes and affines come from the NIfTI headers; the voxel data is read only for
the value checks, one file at a time.

Command line: ``python -m scripts.data.validate DATASET_DIR [--datalist_file F] [--label_convention NAME]``
prints a report and exits with status 1 when a case, or a folder that looks like a case, has a problem
(``--help`` lists the options).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import nibabel as nib
import numpy as np

from .label_conventions import CONVENTIONS
from .value_check_cache import ValueCheckCache

logger = logging.getLogger(__name__)

AFFINE_ATOL = 1e-3  # mm; headers store the affine in float32
BRATS_CHANNELS = ("FLAIR", "T1", "T1ce", "T2")


def _load_header(path: str, problems: list[str]):
    if os.path.islink(path) and not os.path.exists(path):
        problems.append(f"{path}: broken symbolic link (to {os.readlink(path)!r})")
        return None
    if not os.path.isfile(path):
        problems.append(f"{path}: missing file")
        return None
    try:
        img = nib.load(path)
        _ = img.shape, img.affine
    except Exception as e:  # nibabel raises many types for corrupt files; report them all alike
        problems.append(f"{path}: unreadable NIfTI ({type(e).__name__}: {e})")
        return None
    if len(img.shape) not in (3, 4):
        problems.append(f"{path}: expected a 3-D (or 4-D channel-last) image, got shape {img.shape}")
        return None
    return img


def _load_data(img, path: str, problems: list[str]) -> np.ndarray | None:
    try:
        return np.asanyarray(img.dataobj)
    except Exception as e:  # truncated .gz, short data block, ...
        problems.append(f"{path}: unreadable NIfTI data ({type(e).__name__}: {e})")
        return None


def present_values(arr: np.ndarray) -> np.ndarray:
    """Distinct values of ``arr`` (fast path for small unsigned integer labels)."""
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 2:
        return np.flatnonzero(np.bincount(arr.ravel()))
    return np.unique(arr)


def _check_image_values(arr: np.ndarray, path: str, problems: list[str]) -> None:
    channels = [arr] if arr.ndim == 3 else [arr[..., c] for c in range(arr.shape[-1])]
    for c, x in enumerate(channels):
        where = path if len(channels) == 1 else f"{path} (channel {c})"
        if x.dtype.kind == "f":
            bad = np.count_nonzero(~np.isfinite(x))
            if bad:
                problems.append(f"{where}: {bad} non-finite intensities (NaN or inf)")
                continue
        if x.size == 0 or x.min() == x.max():
            value = x.flat[0] if x.size else "none"
            problems.append(f"{where}: empty image (every voxel equals {value})")


OTHER_CONVENTION = "labels of another convention"
# Label values that are not noise but another data set's classes: the whole data set needs that convention.
OTHER_CONVENTION_HINTS = {
    ("brats2023", (4,)): ("brats2024_gli", "4 is the resection cavity of BraTS 2024 glioma"),
    ("kits19", (3,)): ("kits23", "3 is the cyst of KiTS21/23"),
}


def _check_label_values(arr: np.ndarray, path: str, convention: str, problems: list[str]) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        problems.append(f"{path}: label has non-finite values")
        return
    allowed = CONVENTIONS[convention].values
    outside = [v for v in present_values(arr).tolist() if v not in allowed]
    if outside:
        shown = ", ".join(f"{v:g}" for v in outside[:10]) + (", ..." if len(outside) > 10 else "")
        hint = OTHER_CONVENTION_HINTS.get((convention, tuple(outside)))
        extra = f" ({OTHER_CONVENTION}: {hint[1]}; pass label_convention={hint[0]})" if hint else ""
        problems.append(
            f"{path}: label values [{shown}] outside the {convention} convention "
            f"{{{', '.join(map(str, allowed))}}}{extra}"
        )


def check_case(
    entry: dict, check_labels: bool = True, check_values: bool = True, cache: ValueCheckCache | None = None
) -> list[str]:
    """Problems of one datalist entry (empty when the case is good); each names the file concerned. Files that
    ``cache`` knows unchanged since they passed the value checks are not read again."""
    problems: list[str] = []
    if not isinstance(entry, dict) or "image" not in entry:
        return [f"entry without an 'image' key: {entry!r}"]
    convention = entry.get("convention")
    images = entry["image"] if isinstance(entry["image"], list | tuple) else [entry["image"]]
    files = [(str(p), "image") for p in images]
    if check_labels and entry.get("label"):
        if convention not in CONVENTIONS:
            problems.append(f"unknown label convention {convention!r}; expected one of {sorted(CONVENTIONS)}")
        files.append((str(entry["label"]), "label"))
    headers = [(path, role, _load_header(path, problems)) for path, role in files]
    readable = [(path, role, img) for path, role, img in headers if img is not None]

    ref_path, _, ref = readable[0] if readable else (None, None, None)
    for path, role, img in readable:
        if role == "image" and len(images) > 1 and len(img.shape) != 3:
            problems.append(f"{path}: expected a 3-D image per modality, got shape {img.shape}")
        if role == "label" and len(img.shape) == 4 and img.shape[3] != 1:
            problems.append(f"{path}: expected a single-channel label, got shape {img.shape}")
        if img is ref:
            continue
        if tuple(img.shape[:3]) != tuple(ref.shape[:3]):
            problems.append(f"{path}: spatial shape {tuple(img.shape[:3])} differs from {ref_path} {ref.shape[:3]}")
        elif not np.allclose(img.affine, ref.affine, rtol=0, atol=AFFINE_ATOL):
            problems.append(
                f"{path}: affine differs from {ref_path}:\n{np.array2string(img.affine, precision=4)}\nvs\n"
                f"{np.array2string(ref.affine, precision=4)}"
            )
    if convention == "msd_task01" and ref is not None and len(images) == 1:
        if len(ref.shape) != 4 or ref.shape[3] != len(BRATS_CHANNELS):
            problems.append(f"{ref_path}: MSD Task01 images are 4-D with 4 channels last, got shape {ref.shape}")

    if check_values:
        for path, role, img in readable:
            if cache is not None and cache.passed(path, role, convention):
                continue
            before = len(problems)
            arr = _load_data(img, path, problems)
            if arr is None:
                continue
            if role == "image":
                _check_image_values(arr, path, problems)
            elif convention in CONVENTIONS:
                _check_label_values(arr, path, convention, problems)
            del arr
            if cache is not None and len(problems) == before and (role == "image" or convention in CONVENTIONS):
                cache.add(path, role, convention)
    return problems


def _case_name(entry: object, i: int) -> str:
    return str(entry.get("case", f"#{i}")) if isinstance(entry, dict) else f"#{i}"


def _problems_per_entry(
    datalist: list[dict], check_labels: bool, check_values: bool, num_workers: int | None, cache_file: str | None
) -> list[list[str]]:
    if not isinstance(datalist, list):
        raise ValueError(f"datalist must be a list of dicts, got {type(datalist).__name__}.")
    cache = ValueCheckCache(cache_file) if cache_file and check_values else None
    workers = num_workers if num_workers else min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        results = list(pool.map(lambda e: check_case(e, check_labels, check_values, cache), datalist))
    if cache is not None:
        try:
            cache.save()
        except OSError as e:
            logger.warning("could not write the data check cache %s: %s", cache.path, e)
    return results


def find_problems(
    datalist: list[dict],
    check_labels: bool = True,
    check_values: bool = True,
    num_workers: int | None = None,
    cache_file: str | None = None,
) -> dict[str, list[str]]:
    """``{case: [problem, ...]}`` for every bad case of ``datalist`` (threads read files in parallel)."""
    out: dict[str, list[str]] = {}
    for i, problems in enumerate(_problems_per_entry(datalist, check_labels, check_values, num_workers, cache_file)):
        if problems:
            out.setdefault(_case_name(datalist[i], i), []).extend(problems)
    return out


def format_problems(problems: dict[str, list[str]], total: int) -> str:
    lines = [f"{len(problems)} of {total} case(s) have problems:"]
    for case, items in problems.items():
        lines.append(f"  case {case!r}:")
        lines.extend(f"    - {p}" for p in items)
    return "\n".join(lines)


def check_datalist(
    datalist: list[dict],
    skip_bad: bool = False,
    check_labels: bool = True,
    check_values: bool = True,
    num_workers: int | None = None,
    cache_file: str | None = None,
) -> list[dict]:
    """Validate every case of ``datalist`` and return the good ones (in their order).

    Args:
        skip_bad: when a case has a problem, warn (``warnings`` and logging) naming every bad case and file, and
            return the other cases; ``False`` raises a ValueError listing every bad case with its file and problem.
        check_labels: also check the label files (existence, shape, affine, values in the case's convention).
        check_values: read the voxel data for the value checks (label values, non-finite or empty images);
            ``False`` checks files, headers, shapes and affines only.
        num_workers: threads reading files (default: up to 4).
        cache_file: JSON file remembering the files whose values passed (by path, size and modification time);
            later calls read only new or changed files. Shapes and affines are always checked.

    Raises:
        ValueError: a case has a problem and ``skip_bad`` is False, or every case is bad.
    """
    per_entry = _problems_per_entry(datalist, check_labels, check_values, num_workers, cache_file)
    good = [e for e, p in zip(datalist, per_entry) if not p]
    if len(good) == len(datalist):
        return good
    problems: dict[str, list[str]] = {}
    for i, p in enumerate(per_entry):
        if p:
            problems.setdefault(_case_name(datalist[i], i), []).extend(p)
    report = format_problems(problems, len(datalist))
    if not skip_bad:
        raise ValueError(f"data validation failed; fix or remove these cases (or skip them with skip_bad):\n{report}")
    if any(OTHER_CONVENTION in p for items in problems.values() for p in items):
        raise ValueError(
            f"data validation failed: some labels belong to another label convention, so skipping those cases would "
            f"train on a biased rest; set label_convention as the message says:\n{report}"
        )
    if not good:
        raise ValueError(f"data validation failed for every case, nothing left to use:\n{report}")
    message = f"skipping {len(problems)} bad case(s) ({len(good)} left): {sorted(problems)}\n{report}"
    logger.warning(message)
    warnings.warn(message, stacklevel=2)
    return good


def run_report(
    dataset_dir: str,
    datalist_file: str | None = None,
    check_labels: bool = True,
    check_values: bool = True,
    num_workers: int | None = None,
    cache_file: str | None = None,
    label_convention: str | None = None,
) -> tuple[str, bool]:
    """The validation report of every case (labelled or not) of ``dataset_dir`` and of every folder that looks
    like a case but gives none; ``(report, ok)``."""
    from .datalist import _finish, scan_dataset
    from .label_conventions import get_convention

    sections, folder_problems = scan_dataset(dataset_dir, datalist_file, allow_missing=True)
    entries = [e for s in ("training", "validation", "test") for e in sections.get(s, [])]
    if label_convention is not None:
        name = get_convention(label_convention).name
        entries = [{**e, "convention": name} for e in entries]
    datalist = _finish(entries, False, f"dataset_dir {dataset_dir}")
    problems = find_problems(datalist, check_labels, check_values, num_workers, cache_file)
    conventions = sorted({e["convention"] for e in datalist})
    labelled = sum(1 for e in datalist if e.get("label"))
    lines = [f"{dataset_dir}: {len(datalist)} case(s) ({labelled} labelled), convention(s) {', '.join(conventions)}"]
    if folder_problems:
        lines.append(f"{len(folder_problems)} folder(s) or file(s) give no usable case:")
        lines.extend(f"  - {p}" for p in folder_problems)
    if problems:
        lines.append(format_problems(problems, len(datalist)))
    ok = not problems and not folder_problems
    if ok:
        lines.append("all cases passed the checks.")
    return "\n".join(lines), ok


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.data.validate",
        description="Check every case of a data set folder before training: files exist and load, shapes and "
        "affines agree, label values belong to the label convention, intensities are finite, no image is empty; "
        "and name every folder that looks like a case but gives none (empty, nested, unreadable, a broken "
        "symbolic link, two files for one role). Prints a report; exit status 1 when anything is wrong.",
    )
    parser.add_argument("dataset_dir", help="the data set folder (any name; its layout is recognised from it)")
    parser.add_argument(
        "--datalist_file",
        default=None,
        help="a decathlon-style datalist JSON (paths relative to dataset_dir) instead of recognising the folder layout",
    )
    parser.add_argument(
        "--label_convention",
        default=None,
        choices=sorted(CONVENTIONS),
        help="use this label convention for every case instead of the recognised one",
    )
    parser.add_argument(
        "--check_labels",
        type=_bool,
        default=True,
        metavar="True|False",
        help="also check the label files (default True)",
    )
    parser.add_argument(
        "--check_values",
        type=_bool,
        default=True,
        metavar="True|False",
        help="read the voxel data for the value checks (default True); False checks files, "
        "headers, shapes and affines only",
    )
    parser.add_argument("--num_workers", type=int, default=None, help="threads reading files (default: up to 4)")
    parser.add_argument(
        "--cache_file",
        default=None,
        help="JSON file remembering files whose values passed, so a re-run reads only new or changed files",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: print the report of :func:`run_report`; 1 when a case or folder has a problem or the folder
    cannot be used at all (the error is printed without a traceback)."""
    args = _parser().parse_args(argv)
    try:
        report, ok = run_report(
            args.dataset_dir,
            args.datalist_file,
            args.check_labels,
            args.check_values,
            args.num_workers,
            args.cache_file,
            args.label_convention,
        )
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
