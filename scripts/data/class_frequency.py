"""Per-case class and region voxel fractions of a data set's labels, to choose class weights of a loss.

For every labelled case: the fraction of the volume's voxels in each class of the case's convention and in each
evaluation region (e.g. BraTS TC/WT/ET, KiTS kidney-and-tumour/tumour). Two summary rows follow: ``ALL`` pools
the voxels of every case (voxel-weighted), ``MEAN`` averages the per-case fractions. The printed table ends with
inverse-frequency class weights ``w_c = (1 / f_c) / sum_k (1 / f_k)`` from the pooled fractions ``f_c``.

Command line: ``python -m scripts.data.class_frequency DATASET_DIR [--datalist_file F] [--csv OUT.csv]``.
"""

from __future__ import annotations

import csv as csv_module
import os
from concurrent.futures import ThreadPoolExecutor

import nibabel as nib
import numpy as np

from scripts.files import atomic_open

from .label_conventions import get_convention
from .validate import present_values


def _counts(entry: dict) -> dict[int, int]:
    case = entry.get("case")
    path = entry.get("label")
    if not path:
        raise ValueError(f"case {case!r} has no label.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label file of case {case!r} not found: {path}")
    arr = np.asanyarray(nib.load(path).dataobj)
    convention = get_convention(entry.get("convention"), case)
    values = present_values(arr)
    outside = [v for v in values.tolist() if v not in convention.values]
    if outside:
        raise ValueError(f"{path} (case {case!r}): label values {outside} outside the {convention.name} convention.")
    return {int(v): int(np.count_nonzero(arr == v)) for v in values}


def _row(case: str, convention_name: str, counts: dict[int, int]) -> dict:
    convention = get_convention(convention_name)
    total = sum(counts.values())
    row = {"case": case, "convention": convention.name, "voxels": total}
    for value, name in convention.classes.items():
        row[name] = counts.get(value, 0) / total if total else 0.0
    for region, values in convention.regions.items():
        row[f"region:{region}"] = sum(counts.get(v, 0) for v in values) / total if total else 0.0
    return row


def class_frequency(datalist: list[dict], num_workers: int | None = None) -> list[dict]:
    """One row per labelled case (``case``, ``convention``, ``voxels``, a fraction per class name and per
    ``region:<name>``), then the summary rows ``ALL`` (pooled voxels) and ``MEAN`` (mean of the case fractions),
    one pair per convention present.

    Raises:
        ValueError: no labelled case, label values outside a case's convention (named with the file and case).
        FileNotFoundError: a label file is missing.
    """
    labelled = [e for e in datalist if isinstance(e, dict) and e.get("label")]
    if not labelled:
        raise ValueError("class_frequency needs labelled cases; the datalist has none.")
    workers = num_workers if num_workers else min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        counts = list(pool.map(_counts, labelled))
    rows = [_row(str(e["case"]), e["convention"], c) for e, c in zip(labelled, counts)]
    summary = []
    for name in sorted({e["convention"] for e in labelled}):
        members = [i for i, e in enumerate(labelled) if e["convention"] == name]
        pooled: dict[int, int] = {}
        for i in members:
            for v, n in counts[i].items():
                pooled[v] = pooled.get(v, 0) + n
        summary.append(_row("ALL", name, pooled))
        mean = {"case": "MEAN", "convention": name, "voxels": sum(rows[i]["voxels"] for i in members) / len(members)}
        for key in rows[members[0]]:
            if key not in mean:
                mean[key] = float(np.mean([rows[i][key] for i in members]))
        summary.append(mean)
    return rows + summary


def inverse_frequency_weights(all_row: dict) -> dict[str, float]:
    """``w_c = (1 / f_c) / sum_k (1 / f_k)`` over the classes present in an ``ALL`` row (absent classes get 0)."""
    convention = get_convention(all_row["convention"])
    inv = {name: 1.0 / all_row[name] if all_row[name] > 0 else 0.0 for name in convention.classes.values()}
    total = sum(inv.values())
    return {name: v / total if total else 0.0 for name, v in inv.items()}


def format_table(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[str(c) for c in columns]]
    for r in rows:
        line = []
        for c in columns:
            v = r.get(c, "")
            line.append(
                f"{v:.4%}" if isinstance(v, float) and c != "voxels" else f"{v:.0f}" if c == "voxels" else str(v)
            )
        cells.append(line)
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(x.rjust(w) if i > 1 else x.ljust(w) for i, (x, w) in enumerate(zip(row, widths))) for row in cells
    )


def write_csv(rows: list[dict], path: str) -> str:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_open(path, "w", newline="") as f:
        writer = csv_module.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def main(dataset_dir: str, datalist_file: str | None = None, csv: str | None = None) -> None:
    """Print the class-frequency table of the labelled cases of ``dataset_dir`` (and write it to ``csv``)."""
    from .datalist import build_datalist

    rows = class_frequency(build_datalist(dataset_dir, datalist_file, require_label=True))
    print(format_table(rows))
    for row in rows:
        if row["case"] == "ALL":
            weights = inverse_frequency_weights(row)
            print(
                f"inverse-frequency class weights ({row['convention']}): "
                + ", ".join(f"{k} {v:.4f}" for k, v in weights.items())
            )
    if csv:
        print(f"written {write_csv(rows, csv)}")


if __name__ == "__main__":
    import fire

    fire.Fire(main)
