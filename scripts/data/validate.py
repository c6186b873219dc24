"""Check every case of a datalist before training, evaluation or inference, and report every bad one.

Checks per case: every file exists and is a readable NIfTI; images and label agree in spatial shape and affine;
label values belong to the case's convention; image intensities are finite; no image (or channel of a 4-D
image) is empty, i.e. constant. Shapes and affines come from the NIfTI headers; the voxel data is read only for
the value checks, one file at a time.

Command line: ``python -m scripts.data.validate DATASET_DIR [--datalist_file F]`` prints a report and exits with
status 1 when a case has a problem.
"""

from __future__ import annotations

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


def _check_label_values(arr: np.ndarray, path: str, convention: str, problems: list[str]) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        problems.append(f"{path}: label has non-finite values")
        return
    allowed = CONVENTIONS[convention].values
    outside = [v for v in present_values(arr).tolist() if v not in allowed]
    if outside:
        shown = ", ".join(f"{v:g}" for v in outside[:10]) + (", ..." if len(outside) > 10 else "")
        problems.append(
            f"{path}: label values [{shown}] outside the {convention} convention {{{', '.join(map(str, allowed))}}}"
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
    if not good:
        raise ValueError(f"data validation failed for every case, nothing left to use:\n{report}")
    message = f"skipping {len(problems)} bad case(s) ({len(good)} left): {sorted(problems)}\n{report}"
    logger.warning(message)
    warnings.warn(message, stacklevel=2)
    return good


def main(
    dataset_dir: str,
    datalist_file: str | None = None,
    check_labels: bool = True,
    check_values: bool = True,
    num_workers: int | None = None,
    cache_file: str | None = None,
) -> None:
    """Print a validation report of every case (labelled or not) of ``dataset_dir``; exit 1 on problems."""
    from .datalist import build_datalist

    datalist = build_datalist(dataset_dir, datalist_file, require_label=False, allow_missing=True)
    problems = find_problems(datalist, check_labels, check_values, num_workers, cache_file)
    conventions = sorted({e["convention"] for e in datalist})
    labelled = sum(1 for e in datalist if e.get("label"))
    print(f"{dataset_dir}: {len(datalist)} case(s) ({labelled} labelled), convention(s) {', '.join(conventions)}")
    if problems:
        print(format_problems(problems, len(datalist)))
        sys.exit(1)
    print("all cases passed the checks.")


if __name__ == "__main__":
    import fire

    fire.Fire(main)
