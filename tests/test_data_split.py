"""split_datalist / train_val_datalists: determinism, sizes, saving, a datalist file's own split."""

import json
import os
import random

import pytest
from nifti_layouts import write_decathlon_datalist, write_kits19_case

from scripts.data import split_datalist, train_val_datalists


def cases(n):
    return [{"case": f"c{i:02d}", "image": f"/x/{i}.nii.gz", "label": f"/y/{i}.nii.gz"} for i in range(n)]


def names(entries):
    return [e["case"] for e in entries]


def test_split_is_deterministic_and_order_independent():
    data = cases(10)
    shuffled = list(data)
    random.Random(3).shuffle(shuffled)
    train_a, val_a = split_datalist(data, 0.2, seed=5)
    train_b, val_b = split_datalist(shuffled, 0.2, seed=5)
    assert names(train_a) == names(train_b) and names(val_a) == names(val_b)
    assert len(val_a) == 2 and len(train_a) == 8
    assert sorted(names(train_a) + names(val_a)) == names(data)  # a partition
    assert names(train_a) == sorted(names(train_a)) and names(val_a) == sorted(names(val_a))


def test_split_depends_on_seed():
    splits = {tuple(names(split_datalist(cases(10), 0.3, seed=s)[1])) for s in range(5)}
    assert len(splits) > 1


@pytest.mark.parametrize("n, fraction, n_val", [(2, 0.2, 1), (2, 0.9, 1), (3, 0.01, 1), (5, 0.5, 2), (20, 0.25, 5)])
def test_split_sizes(n, fraction, n_val):
    train, val = split_datalist(cases(n), fraction)
    assert len(val) == n_val and len(train) == n - n_val


def test_single_case_goes_to_training():
    train, val = split_datalist(cases(1), 0.2)
    assert names(train) == ["c00"] and val == []


def test_split_save_to(tmp_path):
    target = os.path.join(tmp_path, "run", "split.json")
    train, val = split_datalist(cases(6), 0.5, seed=1, save_to=target)
    with open(target) as f:
        saved = json.load(f)
    assert saved == {"seed": 1, "val_fraction": 0.5, "training": train, "validation": val}
    assert os.listdir(os.path.dirname(target)) == ["split.json"]  # no temporary file left behind


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "a", None])
def test_bad_val_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        split_datalist(cases(4), fraction)


def test_bad_datalists():
    with pytest.raises(ValueError, match="empty datalist"):
        split_datalist([], 0.2)
    with pytest.raises(ValueError, match="'case' key"):
        split_datalist([{"image": "x"}], 0.2)


def test_train_val_datalists_from_folder(tmp_path):
    for i in range(5):
        write_kits19_case(tmp_path, f"case_{i:05d}")
    write_kits19_case(tmp_path, "case_00210", with_segmentation=False)
    save = os.path.join(tmp_path, "out", "split.json")
    split = train_val_datalists(str(tmp_path), val_fraction=0.4, seed=2, save_to=save)
    assert set(split) == {"training", "validation"}
    assert len(split["validation"]) == 2 and len(split["training"]) == 3
    all_cases = sorted(names(split["training"]) + names(split["validation"]))
    assert all_cases == [f"case_{i:05d}" for i in range(5)]  # the unlabelled case is left out
    again = train_val_datalists(str(tmp_path), val_fraction=0.4, seed=2)
    assert again == split
    with open(save) as f:
        assert json.load(f)["validation"] == split["validation"]


def test_train_val_datalists_keeps_a_files_own_split(tmp_path):
    entries = [write_kits19_case(tmp_path, f"case_{i:05d}") for i in range(4)]
    items = [{"image": e["image"], "label": e["label"]} for e in entries]
    path = write_decathlon_datalist(os.path.join(tmp_path, "d.json"), training=items[:3], validation=items[3:])
    split = train_val_datalists(str(tmp_path), path, val_fraction=0.5, seed=9)
    assert names(split["training"]) == ["case_00000", "case_00001", "case_00002"]
    assert names(split["validation"]) == ["case_00003"]


def test_train_val_datalists_with_check(tmp_path):
    write_kits19_case(tmp_path, "case_00000")
    write_kits19_case(tmp_path, "case_00001")
    bad = write_kits19_case(tmp_path, "case_00002")
    os.remove(bad["image"])
    with pytest.raises(ValueError, match=r"case_00002"):
        train_val_datalists(str(tmp_path), check=True)
    with pytest.warns(UserWarning, match="case_00002"):
        split = train_val_datalists(str(tmp_path), check=True, skip_bad=True)
    assert sorted(names(split["training"]) + names(split["validation"])) == ["case_00000", "case_00001"]


def test_bad_cases_are_removed_before_the_split(tmp_path):
    """Issue 14: with skip_bad the split was made before bad cases were removed, so the run could go on with
    fewer (or no) validation cases than asked for. Now the split is that of the good cases alone."""
    for i in range(8):
        write_kits19_case(tmp_path, f"case_{i:05d}")
    clean = train_val_datalists(str(tmp_path), val_fraction=0.25, seed=4, check=True)
    bad_case = clean["validation"][0]
    os.remove(bad_case["image"])  # break one validation case's image
    with pytest.warns(UserWarning, match=bad_case["case"]):
        skipped = train_val_datalists(str(tmp_path), val_fraction=0.25, seed=4, check=True, skip_bad=True)
    good = [e for e in clean["training"] + clean["validation"] if e["case"] != bad_case["case"]]
    want_train, want_val = split_datalist(good, 0.25, seed=4)
    assert names(skipped["training"]) == names(want_train) and names(skipped["validation"]) == names(want_val)
    assert len(skipped["validation"]) == round(0.25 * 7) and bad_case["case"] not in names(skipped["training"])


def test_empty_validation_is_an_error_naming_the_counts(tmp_path):
    """A datalist file whose only validation case is bad: before, the run went on without validation."""
    entries = [write_kits19_case(tmp_path, f"case_{i:05d}") for i in range(4)]
    os.remove(entries[3]["image"])
    items = [{"image": e["image"], "label": e["label"]} for e in entries]
    path = write_decathlon_datalist(os.path.join(tmp_path, "d.json"), training=items[:3], validation=items[3:])
    with pytest.warns(UserWarning, match="case_00003"), pytest.raises(ValueError) as e:
        train_val_datalists(str(tmp_path), path, check=True, skip_bad=True)
    assert "no validation case (3 training, 0 validation case(s) after leaving out 1 bad case(s))" in str(e.value)
