"""The training and validation caches are filled without concurrent image reads.

MONAI 1.6.1's ``NibabelReader`` keeps the file list of its last ``read`` on the instance and ``get_data`` zips the
images with it: two threads loading through the same ``LoadImaged`` can stack a BraTS case's four modality files
against the one-file list of another thread's label, and the case is cached with 1 channel instead of 4 (seen
in 3 of 15 cache builds with 2 threads). ``cache_num_workers`` (1) keeps the reads sequential; the DataLoader's
process workers have their own copies of the transforms.
"""

from __future__ import annotations

import threading
import time

from bundle_runs import CONFIGS
from monai.bundle import ConfigParser
from monai.data import NibabelReader


def test_cache_is_filled_by_one_reader_at_a_time(tmp_path, monkeypatch):
    state = {"active": 0, "max": 0, "reads": 0}
    lock = threading.Lock()
    original = NibabelReader.read

    def slow_read(self, data, **kwargs):
        with lock:
            state["active"] += 1
            state["reads"] += 1
            state["max"] = max(state["max"], state["active"])
        try:
            time.sleep(0.02)  # long enough for a second caching thread, if any, to start its own read
            return original(self, data, **kwargs)
        finally:
            with lock:
                state["active"] -= 1

    monkeypatch.setattr(NibabelReader, "read", slow_read)
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    parser["bundle_root"] = str(tmp_path)
    parser["synthetic_num_cases"] = 6
    parser["synthetic_shape"] = [32, 32, 32]
    assert parser["num_workers"] >= 2  # the default loader has worker processes; the caching must not use threads
    datasets = [parser.get_parsed_content(key) for key in ("train#dataset", "validate#dataset")]
    assert state["reads"] >= 2 * 6  # image and label of every case
    assert state["max"] == 1
    for ds in datasets:
        for item in ds._cache:
            assert item["image"].shape[0] == 4
