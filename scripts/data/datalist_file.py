"""Read a decathlon-style datalist file (MSD ``dataset.json`` or a user's own) into datalist entries.

The file holds ``{"training": [{"image": ..., "label": ...}], "validation": [...], "test": [...]}`` with paths
relative to ``dataset_dir`` (absolute paths are kept). ``test`` items may be bare image paths, as in MSD.

Sections: ``training``, ``validation`` and ``test`` (``testing``, the model zoo's name, is read as ``test``).

Image channels are mapped by modality name, never by position, to the bundle's order FLAIR, T1, T1ce, T2
(``metadata.json``'s ``channel_def``): a list ``image`` in any order is sorted by its files' modality suffixes
(``_flair``/``-t2f``, ``_t1``/``-t1n``, ``_t1ce``/``-t1c``/``_t1gd``, ``_t2``/``-t2w``; e.g. ``brats21_folds.json``
lists FLAIR, T1ce, T1, T2 and the model zoo's datalist T1ce, T1, T2, FLAIR); an ``image`` object is keyed by
modality name (``{"flair": ..., "t1": ..., "t1ce": ..., "t2": ...}``); a 4-D image's channel order is read
from the file's ``modality`` object and must be the bundle's. An entry whose modalities cannot be identified is
an error naming it.

The label convention of an entry is, in order of precedence: the entry's own ``"convention"``; the file's
top-level ``"convention"``; MSD Task01 when the file's ``"modality"``/``"labels"`` are those of Task01; else it is
inferred from the image file names (``_flair`` -> brats2021, ``-t2f`` -> brats2023, ``imaging`` -> kits19).
"""

from __future__ import annotations

import json
import os

from .label_conventions import get_convention
from .layouts import BRATS2021_IMAGES, BRATS2023_IMAGES, KITS_IMAGE, nifti_stem
from .modalities import CHANNELS, modality_of_file, modality_of_name

SECTIONS = ("training", "validation", "test")
SECTION_ALIASES = {"testing": "test"}


def read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            content = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"datalist file {path} is not valid JSON: {e}") from None
    if not isinstance(content, dict):
        raise ValueError(f"datalist file {path} must hold a JSON object with {SECTIONS} lists.")
    return content


def _is_msd_task01(content: dict) -> bool:
    modality = content.get("modality")
    labels = {str(v).lower() for v in (content.get("labels") or {}).values()}
    return (
        isinstance(modality, dict)
        and len(modality) == 4
        and str(modality.get("0", "")).upper() == "FLAIR"
        and any("enhancing" in v for v in labels)
    )


def _stem(path: str) -> str:
    name = os.path.basename(path)
    return nifti_stem(name) or name


def _infer_convention(image: str | list[str]) -> str | None:
    first = image[0] if isinstance(image, list) else image
    stem = _stem(first).lower()
    if any(stem.endswith(s) for s in BRATS2021_IMAGES):
        return "brats2021"
    if any(stem.endswith(s) for s in BRATS2023_IMAGES):
        return "brats2023"
    if stem == KITS_IMAGE:
        return "kits19"
    return None


def _case_id(image: str | list[str]) -> str:
    first = image[0] if isinstance(image, list) else image
    stem = _stem(first)
    if stem == KITS_IMAGE:
        return os.path.basename(os.path.dirname(first))
    for suffix in (*BRATS2021_IMAGES, *BRATS2023_IMAGES):
        if isinstance(image, list) and stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _by_modality(image: object, where: str) -> list:
    """The 4 modality paths of a list or modality-keyed ``image`` in the bundle's channel order."""
    if isinstance(image, dict):
        keyed = {}
        for key, path in image.items():
            modality = modality_of_name(str(key))
            if modality is None or modality in keyed:
                raise ValueError(
                    f"{where}: image key {key!r} is not a modality name or repeats one; expected one key each of "
                    f"{list(CHANNELS)} (or t2f, t1n, t1c, t2w)."
                )
            keyed[modality] = path
    else:
        keyed = {}
        for path in image:
            modality = modality_of_file(str(path)) if isinstance(path, str) else None
            if modality is None or modality in keyed:
                raise ValueError(
                    f"{where}: cannot tell the modality of image file {path!r} "
                    f"({'repeats ' + modality if modality else 'no modality suffix'}); name the files with a "
                    f"modality suffix (_flair, _t1, _t1ce, _t2 or -t2f, -t1n, -t1c, -t2w) or give 'image' as an "
                    f"object keyed by modality ({', '.join(CHANNELS)})."
                )
            keyed[modality] = path
    missing = [m for m in CHANNELS if m not in keyed]
    if missing:
        raise ValueError(f"{where}: image lacks the modality(ies) {missing}; the bundle needs {list(CHANNELS)}.")
    return [keyed[m] for m in CHANNELS]


def _check_4d_channel_order(content: dict, path: str) -> None:
    modality = content.get("modality")
    if not isinstance(modality, dict) or len(modality) != len(CHANNELS):
        return
    items = [i for s in SECTIONS for i in (content.get(s) or []) if isinstance(content.get(s), list)]
    if not any(isinstance(i, str) or (isinstance(i, dict) and isinstance(i.get("image"), str)) for i in items):
        return  # one file per modality: mapped by name per entry
    order = [modality_of_name(str(modality.get(str(i), ""))) for i in range(len(CHANNELS))]
    if order != list(CHANNELS):
        raise ValueError(
            f"datalist file {path}: its 'modality' {modality} gives the 4-D images' channels in the order {order}, "
            f"not the bundle's {list(CHANNELS)}; the channels of a 4-D file cannot be reordered by name: convert "
            f"the images or list one file per modality."
        )


def _absolute(path: object, base_dir: str, where: str) -> str:
    if not isinstance(path, str) or not path:
        raise ValueError(f"{where}: a path must be a non-empty string, got {path!r}.")
    return os.path.abspath(path if os.path.isabs(path) else os.path.join(base_dir, path))


def read_datalist_file(path: str, base_dir: str) -> dict[str, list[dict]]:
    """Entries of each section of the file (``training``, ``validation``, ``test``), paths made absolute."""
    content = read_json(path)
    for alias, section in SECTION_ALIASES.items():
        if alias in content:
            if content.get(section):
                raise ValueError(f"datalist file {path} has both {alias!r} and {section!r} lists; keep one.")
            content = {**content, section: content[alias]}
    _check_4d_channel_order(content, path)
    if not any(isinstance(content.get(s), list) and content.get(s) for s in SECTIONS):
        raise ValueError(f"datalist file {path} has no non-empty {' / '.join(SECTIONS)} list.")
    default = content.get("convention")
    if default is not None:
        get_convention(default)
    elif _is_msd_task01(content):
        default = "msd_task01"
    out: dict[str, list[dict]] = {}
    for section in SECTIONS:
        items = content.get(section) or []
        if not isinstance(items, list):
            raise ValueError(f"datalist file {path}: {section!r} must be a list, got {type(items).__name__}.")
        entries = []
        for i, item in enumerate(items):
            where = f"datalist file {path}, {section}[{i}]"
            if isinstance(item, str):
                item = {"image": item}
            if not isinstance(item, dict) or "image" not in item:
                raise ValueError(f"{where}: expected an object with an 'image' key (or an image path), got {item!r}.")
            image = item["image"]
            if isinstance(image, list | dict):
                if len(image) != len(CHANNELS):
                    raise ValueError(
                        f"{where}: a list 'image' must hold the 4 modalities (FLAIR, T1, T1ce, T2), got {len(image)}."
                    )
                image = [_absolute(p, base_dir, where) for p in _by_modality(image, where)]
            else:
                image = _absolute(image, base_dir, where)
            case = item.get("case") or _case_id(image)
            convention = item.get("convention") or default or _infer_convention(image)
            if convention is None:
                raise ValueError(
                    f"{where} (case {case!r}): cannot tell the label convention from the file names; add "
                    f'"convention" (one of brats2021, brats2023, msd_task01, kits19, kits23) to the entry or '
                    f"to the top level of the file."
                )
            get_convention(convention, case)
            entry = {**item, "case": str(case), "image": image, "convention": convention}
            if item.get("label"):
                entry["label"] = _absolute(item["label"], base_dir, where)
            elif section != "test":
                raise ValueError(
                    f"{where} (case {case!r}) has no 'label'; entries without a label belong in the 'test' list."
                )
            else:
                entry.pop("label", None)
            entries.append(entry)
        out[section] = entries
    return out
