"""Recognise the on-disk layouts of the supported data sets and list their cases.

Each ``find_*`` function looks at one folder and returns a :class:`Found` with the cases it recognised
(datalist entries, see :func:`scripts.data.build_datalist`) and the problems it met (a case folder that lacks a
modality). A layout that is not present gives an empty result, so the caller can try the layouts in turn.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np

logger = logging.getLogger(__name__)

NIFTI_EXTENSIONS = (".nii.gz", ".nii")

# Image channel order of every BraTS entry: FLAIR, T1, T1ce, T2 (the order of the zoo's brats_mri_segmentation and
# of MSD Task01's 4-D images).
BRATS2021_IMAGES = ("_flair", "_t1", "_t1ce", "_t2")
BRATS2021_LABEL = "_seg"
BRATS2023_IMAGES = ("-t2f", "-t1n", "-t1c", "-t2w")
BRATS2023_LABEL = "-seg"
# BraTS 2020 ships one case (BraTS20_Training_355) whose label is named "W39_1998.09.19_Segm.nii".
BRATS2020_ODD_LABEL = "_segm"

KITS_CASE = re.compile(r"^case_\d+$")
KITS_IMAGE = "imaging"
KITS_LABEL = "segmentation"
# KiTS21 has no segmentation.nii.gz; its majority-vote aggregate is the training label the organisers recommend.
KITS21_LABEL = "aggregated_MAJ_seg"
KITS_ROOTS = ("", "data", "dataset", os.path.join("kits21", "data"))
KITS19_MAX_CASE = 300  # KiTS19 has case_00000 to case_00299; higher ids are KiTS21/23 cases
KITS_CYST = 3
# BraTS 2023 and 2024 share the file names; the 2024 download folders carry the year
# ("BraTS2024-BraTS-GLI-TrainingData"). Among the 2024 sub-challenges, meningioma, Sub-Saharan Africa and GoAT
# use labels 1, 2, 3 as 2023 does.
BRATS2024_FOLDER = re.compile(r"2024")
BRATS2024_LIKE_2023 = ("BRATS-MEN-", "BRATS-SSA-", "BRATS-GOAT-")


@dataclass
class Found:
    entries: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Folders and files that look like a case but give none (or give a bad one), each named with the reason."""


def nifti_stem(name: str) -> str | None:
    """``'x_t1.nii.gz' -> 'x_t1'``; ``None`` for anything that is not a NIfTI file name (hidden files included)."""
    if name.startswith("."):
        return None
    for ext in NIFTI_EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return None


def list_folder(folder: str, problems: list[str], what: str) -> list[str] | None:
    """Sorted names in ``folder``; ``None`` (and a problem naming ``what`` and the folder) when it cannot be read."""
    try:
        return sorted(os.listdir(folder))
    except OSError as e:
        problems.append(f"{what}: folder {folder} cannot be read ({type(e).__name__}: {e.strerror or e})")
        return None


def is_broken_link(path: str) -> bool:
    return os.path.islink(path) and not os.path.exists(path)


def broken_link_problem(path: str, what: str) -> str:
    return f"{what}: {path} is a broken symbolic link (to {os.readlink(path)!r})"


def nifti_files(folder: str, problems: list[str], what: str) -> dict[str, str] | None:
    """Stem -> file name of the NIfTI files directly in ``folder`` (broken symbolic links included, so that the
    case keeps the file and its check names it). Two files of one stem (``x.nii`` and ``x.nii.gz``) are a
    problem naming both; ``None`` when the folder cannot be read."""
    names = list_folder(folder, problems, what)
    if names is None:
        return None
    out: dict[str, str] = {}
    for name in names:
        stem = nifti_stem(name)
        path = os.path.join(folder, name)
        if stem is None or not (os.path.isfile(path) or is_broken_link(path)):
            continue
        if stem in out:
            problems.append(
                f"{what}: two files for one role, {os.path.join(folder, out[stem])} and {path}; keep one of them"
            )
            continue
        out[stem] = name
    return out


def _subdirs(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and os.path.isdir(os.path.join(folder, n)))


def _match(files: dict[str, str], suffix: str) -> list[str]:
    return [name for stem, name in files.items() if stem.lower().endswith(suffix)]


def _expected_path(case_dir: str, case: str, suffix: str, files: dict[str, str]) -> str:
    ext = ".nii" if files and all(n.lower().endswith(".nii") for n in files.values()) else ".nii.gz"
    return os.path.join(case_dir, case + suffix + ext)


def _brats_hits(files: dict[str, str]) -> dict[str, tuple]:
    hits = {}
    for layout, images, label in (
        ("brats2021", BRATS2021_IMAGES, BRATS2021_LABEL),
        ("brats2023", BRATS2023_IMAGES, BRATS2023_LABEL),
    ):
        matches = {s: _match(files, s) for s in (*images, label)}
        if any(matches.values()):
            hits[layout] = (images, label, matches)
    return hits


def brats2023_convention(dataset_dir: str, case: str) -> str:
    """Label convention of a case in the BraTS 2023/2024 file layout (``-t2f``, ...), which both years share:
    BraTS 2024 when the download folder says so (``BraTS2024-BraTS-GLI-TrainingData``), the paediatric
    convention for its ``BraTS-PED-`` cases; BraTS 2023 (labels 1, 2, 3) otherwise."""
    if not BRATS2024_FOLDER.search(os.path.basename(os.path.normpath(dataset_dir))):
        return "brats2023"
    if case.upper().startswith("BRATS-PED-"):
        return "brats2024_ped"
    if case.upper().startswith(BRATS2024_LIKE_2023):
        return "brats2023"
    return "brats2024_gli"


def _brats_case_dir(case_dir: str, case: str, problems: list[str]) -> tuple[str, dict[str, str]] | None:
    """The folder holding the case's files and those files: ``case_dir``, or the single sub-folder of a case
    extracted one level too deep (``X/X/``, or files named after ``X`` one level down). ``None`` when the folder
    holds no BraTS file (problem added)."""
    files = nifti_files(case_dir, problems, f"case {case!r}")
    if files is None:
        return None
    if _brats_hits(files):
        return case_dir, files
    names = list_folder(case_dir, problems, f"case {case!r}") or []
    visible = [n for n in names if not n.startswith(".")]
    inner = [n for n in visible if os.path.isdir(os.path.join(case_dir, n))]
    if len(inner) == 1 and not files:
        nested = os.path.join(case_dir, inner[0])
        nested_files = nifti_files(nested, problems, f"case {case!r}")
        if nested_files is None:
            return None
        same_case = inner[0] == case or all(stem.startswith(case) for stem in nested_files)
        if same_case and nested_files and _brats_hits(nested_files):
            logger.info("case %r: files found one folder deeper, in %s", case, nested)
            return nested, nested_files
    content = f"holds only {visible[:6]}" if visible else "is empty (a failed extraction?)"
    problems.append(f"case {case!r}: folder {case_dir} {content}: no BraTS image or label file in it")
    return None


def find_brats(dataset_dir: str, allow_missing: bool = False) -> Found:
    """Cases of the BraTS 2020/2021 and BraTS 2023/2024 layouts: one folder per case directly in ``dataset_dir``
    (or one level deeper, ``X/X/``). Once one case is recognised, every other visible folder that gives no case
    (empty, no BraTS file, unreadable, a broken symbolic link) is a problem naming it."""
    found = Found()
    pending: list[str] = []
    for name in list_folder(dataset_dir, found.problems, "dataset_dir") or []:
        path = os.path.join(dataset_dir, name)
        if name.startswith("."):
            continue
        if is_broken_link(path):
            pending.append(broken_link_problem(path, f"case {name!r}"))
            continue
        if not os.path.isdir(path):
            continue
        case_problems: list[str] = []
        located = _brats_case_dir(path, name, case_problems)
        if located is None:
            pending.extend(case_problems)
            continue
        case_dir, files = located
        found.problems.extend(case_problems)
        if case_problems:
            continue
        hits = _brats_hits(files)
        if len(hits) > 1:
            found.problems.append(
                f"case {name!r} ({case_dir}) mixes BraTS 2020/2021 ('_flair', ...) and BraTS 2023 ('-t2f', ...) "
                f"file names: {sorted(files.values())}"
            )
            continue
        ((layout, (images, label, matches)),) = hits.items()
        if layout == "brats2021" and not matches[label]:
            matches[label] = _match(files, BRATS2020_ODD_LABEL)
        convention = "brats2021" if layout == "brats2021" else brats2023_convention(dataset_dir, name)
        entry = {"case": name, "image": [], "convention": convention}
        bad = False
        for suffix in images:
            names = matches[suffix]
            if len(names) > 1:
                found.problems.append(f"case {name!r}: several files end in {suffix!r}: {names} in {case_dir}")
                bad = True
            elif not names:
                expected = _expected_path(case_dir, name, suffix, files)
                if not allow_missing:
                    found.problems.append(f"case {name!r}: missing modality file {expected}")
                    bad = True
                entry["image"].append(expected)
            else:
                entry["image"].append(os.path.join(case_dir, names[0]))
        if len(matches[label]) > 1:
            found.problems.append(f"case {name!r}: several label files {matches[label]} in {case_dir}")
            bad = True
        elif matches[label]:
            entry["label"] = os.path.join(case_dir, matches[label][0])
        broken = [p for p in [*entry["image"], entry.get("label")] if p and is_broken_link(p)]
        if broken and not allow_missing:
            found.problems.extend(broken_link_problem(p, f"case {name!r}") for p in broken)
            bad = True
        if not bad:
            found.entries.append(entry)
    if found.entries or found.problems:
        found.problems.extend(pending)
    return found


def _case_folders(root: str) -> list[str]:
    try:
        return [c for c in sorted(os.listdir(root)) if KITS_CASE.match(c)]
    except OSError:
        return []


def _has(folder: str, stem: str) -> bool:
    return any(os.path.lexists(os.path.join(folder, stem + ext)) for ext in NIFTI_EXTENSIONS)


def kits_root(dataset_dir: str) -> str | None:
    """The folder holding the ``case_XXXXX`` folders: ``dataset_dir`` itself, its ``data/``, ``dataset/`` or (the
    KiTS21 clone) ``kits21/data/``."""
    for sub in KITS_ROOTS:
        root = os.path.join(dataset_dir, sub) if sub else dataset_dir
        if not os.path.isdir(root):
            continue
        for case in _case_folders(root):
            if _has(os.path.join(root, case), KITS_IMAGE):
                return root
    return None


def kits_without_imaging(dataset_dir: str) -> str | None:
    """The case folder root of a KiTS clone whose cases have a segmentation but no ``imaging.nii.gz`` yet (the
    clone before its imaging download); ``None`` otherwise."""
    for sub in KITS_ROOTS:
        root = os.path.join(dataset_dir, sub) if sub else dataset_dir
        cases = _case_folders(root) if os.path.isdir(root) else []
        if any(_has(os.path.join(root, c), KITS_LABEL) or _has(os.path.join(root, c), KITS21_LABEL) for c in cases):
            return root
    return None


def _kits23_by_layout(root: str, cases: list[str]) -> bool | None:
    """KiTS21/23 (True) or KiTS19 (False) from what ships beside the volumes; ``None`` when nothing tells."""
    if os.path.basename(os.path.normpath(root)) == "dataset" or os.path.isfile(os.path.join(root, "kits23.json")):
        return True
    parent = os.path.dirname(os.path.normpath(root))
    if os.path.isdir(os.path.join(parent, "starter_code")):
        return False  # the neheller/kits19 clone
    if os.path.basename(parent) == "kits21" or any(int(c[5:]) >= KITS19_MAX_CASE for c in cases):
        return True  # the kits21 clone's package folder; case ids from 300 on exist only in KiTS21/23
    for case in cases:
        case_dir = os.path.join(root, case)
        if os.path.isdir(os.path.join(case_dir, "instances")) or os.path.isdir(os.path.join(case_dir, "segmentations")):
            return True
        if _has(case_dir, KITS21_LABEL):
            return True
    return None


def _kits23_by_labels(label_paths: list[str]) -> bool:
    """True when a segmentation holds the cyst label 3 (KiTS21/23); reads them until one does."""
    for path in label_paths:
        try:
            arr = np.asanyarray(nib.load(path).dataobj)
        except Exception:  # unreadable files are reported by the data check
            continue
        if np.any(arr == KITS_CYST):
            return True
    return False


def find_kits(dataset_dir: str, allow_missing: bool = False) -> Found:
    """Cases of the KiTS19 / KiTS21 / KiTS23 layout (``case_00000/imaging.nii.gz``, ``segmentation.nii.gz``).

    KiTS21/23 (cyst label 3) is told from KiTS19 by what ships beside the volumes (``dataset/``,
    ``kits23.json``, ``instances/``, ``segmentations/``, ``aggregated_MAJ_seg``, case ids from 300 on), a KiTS19
    clone by its ``starter_code/``; when nothing tells, by the labels (a 3 in any segmentation)."""
    found = Found()
    root = kits_root(dataset_dir)
    if root is None:
        return found
    cases = _case_folders(root)
    for case in cases:
        case_dir = os.path.join(root, case)
        what = f"case {case!r}"
        if is_broken_link(case_dir):
            found.problems.append(broken_link_problem(case_dir, what))
            continue
        files = nifti_files(case_dir, found.problems, what)
        if files is None:
            continue
        entry = {"case": case}
        if KITS_IMAGE in files:
            entry["image"] = os.path.join(case_dir, files[KITS_IMAGE])
        elif allow_missing:
            entry["image"] = os.path.join(case_dir, KITS_IMAGE + ".nii.gz")
        else:
            found.problems.append(f"{what}: missing image file {os.path.join(case_dir, 'imaging.nii.gz')}")
            continue
        for stem in (KITS_LABEL, KITS21_LABEL):
            if stem in files:
                entry["label"] = os.path.join(case_dir, files[stem])
                break
        broken = [p for p in (entry["image"], entry.get("label")) if p and is_broken_link(p)]
        if broken and not allow_missing:
            found.problems.extend(broken_link_problem(p, what) for p in broken)
            continue
        found.entries.append(entry)
    kits23 = _kits23_by_layout(root, cases)
    if kits23 is None:
        kits23 = _kits23_by_labels([e["label"] for e in found.entries if e.get("label")])
    for entry in found.entries:
        entry["convention"] = "kits23" if kits23 else "kits19"
    return found


def is_msd(dataset_dir: str) -> bool:
    return os.path.isfile(os.path.join(dataset_dir, "dataset.json")) and os.path.isdir(
        os.path.join(dataset_dir, "imagesTr")
    )


def looked_for() -> str:
    """What :func:`scripts.data.build_datalist` recognises, for error messages."""
    return (
        "an explicit datalist file (datalist_file=...); "
        "MSD Task01_BrainTumour (dataset.json and imagesTr/); "
        "KiTS19/21/23 (case_XXXXX/imaging.nii.gz in the folder, in data/, dataset/ or kits21/data/); "
        "BraTS 2020/2021 (<case>/<case>_flair, _t1, _t1ce, _t2[, _seg].nii[.gz]); "
        "BraTS 2023/2024 (<case>/<case>-t2f, -t1n, -t1c, -t2w[, -seg].nii.gz)"
    )
