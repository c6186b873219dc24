"""Recognise the on-disk layouts of the supported data sets and list their cases.

Each ``find_*`` function looks at one folder and returns a :class:`Found` with the cases it recognised
(datalist entries, see :func:`scripts.data.build_datalist`) and the problems it met (a case folder that lacks a
modality). A layout that is not present gives an empty result, so the caller can try the layouts in turn.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

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
KITS_ROOTS = ("", "data", "dataset")


@dataclass
class Found:
    entries: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def nifti_stem(name: str) -> str | None:
    """``'x_t1.nii.gz' -> 'x_t1'``; ``None`` for anything that is not a NIfTI file name (hidden files included)."""
    if name.startswith("."):
        return None
    for ext in NIFTI_EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return None


def _nifti_files(folder: str) -> dict[str, str]:
    """Stem -> file name of the NIfTI files directly in ``folder``."""
    out = {}
    for name in sorted(os.listdir(folder)):
        stem = nifti_stem(name)
        if stem is not None and os.path.isfile(os.path.join(folder, name)):
            out[stem] = name
    return out


def _subdirs(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and os.path.isdir(os.path.join(folder, n)))


def _match(files: dict[str, str], suffix: str) -> list[str]:
    return [name for stem, name in files.items() if stem.lower().endswith(suffix)]


def _expected_path(case_dir: str, case: str, suffix: str, files: dict[str, str]) -> str:
    ext = ".nii" if files and all(n.lower().endswith(".nii") for n in files.values()) else ".nii.gz"
    return os.path.join(case_dir, case + suffix + ext)


def find_brats(dataset_dir: str, allow_missing: bool = False) -> Found:
    """Cases of the BraTS 2020/2021 and BraTS 2023 layouts: one folder per case directly in ``dataset_dir``."""
    found = Found()
    for case in _subdirs(dataset_dir):
        case_dir = os.path.join(dataset_dir, case)
        files = _nifti_files(case_dir)
        hits = {}
        for convention, images, label in (
            ("brats2021", BRATS2021_IMAGES, BRATS2021_LABEL),
            ("brats2023", BRATS2023_IMAGES, BRATS2023_LABEL),
        ):
            matches = {s: _match(files, s) for s in (*images, label)}
            if any(matches.values()):
                hits[convention] = (images, label, matches)
        if not hits:
            continue
        if len(hits) > 1:
            found.problems.append(
                f"case {case!r} ({case_dir}) mixes BraTS 2020/2021 ('_flair', ...) and BraTS 2023 ('-t2f', ...) "
                f"file names: {sorted(files.values())}"
            )
            continue
        ((convention, (images, label, matches)),) = hits.items()
        if convention == "brats2021" and not matches[label]:
            matches[label] = _match(files, BRATS2020_ODD_LABEL)
        entry = {"case": case, "image": [], "convention": convention}
        bad = False
        for suffix in images:
            names = matches[suffix]
            if len(names) > 1:
                found.problems.append(f"case {case!r}: several files end in {suffix!r}: {names} in {case_dir}")
                bad = True
            elif not names:
                expected = _expected_path(case_dir, case, suffix, files)
                if not allow_missing:
                    found.problems.append(f"case {case!r}: missing modality file {expected}")
                    bad = True
                entry["image"].append(expected)
            else:
                entry["image"].append(os.path.join(case_dir, names[0]))
        if len(matches[label]) > 1:
            found.problems.append(f"case {case!r}: several label files {matches[label]} in {case_dir}")
            bad = True
        elif matches[label]:
            entry["label"] = os.path.join(case_dir, matches[label][0])
        if not bad:
            found.entries.append(entry)
    return found


def kits_root(dataset_dir: str) -> str | None:
    """The folder holding the ``case_XXXXX`` folders: ``dataset_dir`` itself, its ``data/`` or ``dataset/``."""
    for sub in KITS_ROOTS:
        root = os.path.join(dataset_dir, sub) if sub else dataset_dir
        if not os.path.isdir(root):
            continue
        for case in _subdirs(root):
            if KITS_CASE.match(case) and any(
                os.path.isfile(os.path.join(root, case, KITS_IMAGE + ext)) for ext in NIFTI_EXTENSIONS
            ):
                return root
    return None


def _is_kits23(root: str, cases: list[str]) -> bool:
    """KiTS21/23 (cyst label 3) rather than KiTS19: told apart by what ships beside the volumes."""
    if os.path.basename(os.path.normpath(root)) == "dataset" or os.path.isfile(os.path.join(root, "kits23.json")):
        return True
    for case in cases:
        case_dir = os.path.join(root, case)
        if os.path.isdir(os.path.join(case_dir, "instances")) or os.path.isdir(os.path.join(case_dir, "segmentations")):
            return True
        if KITS21_LABEL in _nifti_files(case_dir):
            return True
    return False


def find_kits(dataset_dir: str, allow_missing: bool = False) -> Found:
    """Cases of the KiTS19 / KiTS21 / KiTS23 layout (``case_00000/imaging.nii.gz``, ``segmentation.nii.gz``)."""
    found = Found()
    root = kits_root(dataset_dir)
    if root is None:
        return found
    cases = [c for c in _subdirs(root) if KITS_CASE.match(c)]
    convention = "kits23" if _is_kits23(root, cases) else "kits19"
    for case in cases:
        case_dir = os.path.join(root, case)
        files = _nifti_files(case_dir)
        entry = {"case": case, "convention": convention}
        if KITS_IMAGE in files:
            entry["image"] = os.path.join(case_dir, files[KITS_IMAGE])
        elif allow_missing:
            entry["image"] = os.path.join(case_dir, KITS_IMAGE + ".nii.gz")
        else:
            found.problems.append(f"case {case!r}: missing image file {os.path.join(case_dir, 'imaging.nii.gz')}")
            continue
        for stem in (KITS_LABEL, KITS21_LABEL):
            if stem in files:
                entry["label"] = os.path.join(case_dir, files[stem])
                break
        found.entries.append(entry)
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
        "KiTS19/21/23 (case_XXXXX/imaging.nii.gz in the folder, in data/ or in dataset/); "
        "BraTS 2020/2021 (<case>/<case>_flair, _t1, _t1ce, _t2[, _seg].nii[.gz]); "
        "BraTS 2023 (<case>/<case>-t2f, -t1n, -t1c, -t2w[, -seg].nii.gz)"
    )
