"""scripts.data.target_spacing: explicit spacing, else the built-in data set's own (from its manifest), else the
default; the answer follows the data set's content, not its path."""

import json
import shutil

import pytest

from scripts.data.synthetic import MANIFEST, resolve_dataset_dir
from scripts.data.target_spacing import target_spacing

MEDIAN = [3.0, 0.78, 0.78]


def test_explicit_spacing_wins(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": "kits", "spacing": [3.0, 2.0, 2.0]}))
    assert target_spacing(tmp_path, [2, 1, 1], MEDIAN) == [2.0, 1.0, 1.0]


def test_built_in_data_set_sets_its_spacing_wherever_it_is(tmp_path):
    built_in = resolve_dataset_dir(
        str(tmp_path / "synthetic"), str(tmp_path / "synthetic"), kind="kits", num_cases=1, shape=(8, 16, 16),
        spacing=(6.0, 4.0, 4.0),
    )  # fmt: skip
    assert target_spacing(built_in, None, MEDIAN) == [6.0, 4.0, 4.0]
    copy = shutil.copytree(built_in, tmp_path / "copied elsewhere")
    assert target_spacing(copy, None, MEDIAN) == [6.0, 4.0, 4.0]


def test_real_data_and_no_folder_get_the_default(tmp_path):
    (tmp_path / "case_00000").mkdir()
    assert target_spacing(tmp_path, None, MEDIAN) == MEDIAN
    assert target_spacing(tmp_path / "missing", None, MEDIAN) == MEDIAN  # MONAI Label: no data set folder
    assert target_spacing(None, None, MEDIAN) == MEDIAN
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": "brats"}))  # a built-in data set without a spacing
    assert target_spacing(tmp_path, None, MEDIAN) == MEDIAN


@pytest.mark.parametrize("bad", [[1.0, 2.0], [1.0, 0.0, 1.0], "3,1,1", None])
def test_bad_spacings_are_named(tmp_path, bad):
    if bad is None:
        (tmp_path / MANIFEST).write_text("{not json")
        with pytest.raises(ValueError, match="manifest .* cannot be read"):
            target_spacing(tmp_path, None, MEDIAN)
        return
    with pytest.raises(ValueError, match=r"spacing must be three positive numbers \(mm\)"):
        target_spacing(tmp_path, bad, MEDIAN)
