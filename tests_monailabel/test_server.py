"""The real ``monailabel start_server`` serving the bundle offline on 127.0.0.1, called over HTTP.

The server (and the training process it spawns) runs in its own process group, which is stopped in ``finally``:
SIGTERM, then SIGKILL after a grace period. Every wait has a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_app import CASE_SHAPE, MODEL_NAME, VENV_BIN, clean_env, expected_labels, make_app
from requests_toolbelt.multipart.decoder import MultipartDecoder

HOST = "127.0.0.1"
START_TIMEOUT_S = 240
INFER_TIMEOUT_S = 180
TRAIN_TIMEOUT_S = 480
STOP_GRACE_S = 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def stop(process: subprocess.Popen) -> None:
    """Stop the server's process group (uvicorn and any training subprocess): TERM, then KILL on timeout."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # leftovers of the group, e.g. a training subprocess
    except ProcessLookupError:
        pass
    process.wait(timeout=STOP_GRACE_S)


@pytest.fixture(scope="module")
def server(sample_app, studies, random_model_file, tmp_path_factory):
    """``(base url, bundle dir, log file)`` of a running server; stopped after the module."""
    work = tmp_path_factory.mktemp("server")
    app, bundle = make_app(sample_app, random_model_file, work)
    log = work / "server.log"
    port = free_port()
    args = [str(VENV_BIN / "monailabel"), "start_server", "--app", str(app), "--studies", str(studies)]
    args += ["--conf", "models", MODEL_NAME, "--conf", "zoo_source", "github", "--conf", "sam2", "false"]
    args += ["--host", HOST, "--port", str(port)]
    url = f"http://{HOST}:{port}"
    with open(log, "w") as out:
        process = subprocess.Popen(
            args, cwd=work, env=clean_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode} before answering:\n{tail(log)}")
            try:
                if httpx.get(f"{url}/info/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /info/ within {START_TIMEOUT_S} s:\n{tail(log)}")
            time.sleep(1)
        yield url, bundle, log
    finally:
        stop(process)


def test_info_lists_bundle_labels(server):
    url, _, log = server
    response = httpx.get(f"{url}/info/", timeout=30)
    assert response.status_code == 200, response.text
    info = response.json()
    assert MODEL_NAME in info["models"], f"{sorted(info['models'])}\n{tail(log)}"
    model = info["models"][MODEL_NAME]
    assert model["type"] == "segmentation"
    assert model["dimension"] == 3
    assert model["labels"] == expected_labels()
    assert MODEL_NAME in info["trainers"]
    assert "sam_2d" not in info["models"]  # --conf sam2 false


def test_datastore_sees_studies(server, studies):
    url, _, _ = server
    response = httpx.get(f"{url}/datastore/", params={"output": "all"}, timeout=30)
    assert response.status_code == 200, response.text
    objects = response.json()["objects"]
    assert sorted(objects) == sorted(p.name.removesuffix(".nii.gz") for p in studies.glob("*.nii.gz"))
    assert all("final" in o["labels"] for o in objects.values())


def test_infer_returns_bundle_prediction(server, own_predictions, tmp_path):
    """``/infer/<model>?image=<id>`` (multipart answer: params JSON + label image) equals the bundle's own
    inference of that case."""
    url, _, log = server
    case = sorted(own_predictions)[0]
    response = httpx.post(
        f"{url}/infer/{MODEL_NAME}",
        params={"image": case},
        data={"params": json.dumps({"device": "cpu"})},
        timeout=INFER_TIMEOUT_S,
    )
    assert response.status_code == 200, f"{response.text[:2000]}\n{tail(log)}"
    parts = MultipartDecoder(response.content, response.headers["content-type"]).parts
    by_name = {p.headers[b"Content-Disposition"].decode().split('name="')[1].split('"')[0]: p for p in parts}
    params = json.loads(by_name["params"].content)
    assert params["label_names"] == expected_labels()
    label_file = tmp_path / "label.nii.gz"
    label_file.write_bytes(by_name["image"].content)
    label = nib.load(label_file)
    own = own_predictions[case]
    assert label.shape == CASE_SHAPE
    assert np.allclose(label.affine, own.affine)
    assert np.array_equal(np.asarray(label.dataobj), np.asarray(own.dataobj))


def test_train_one_epoch(server, random_model_file):
    """``POST /train/<model>`` for one epoch; poll ``GET /train/`` until DONE; the final checkpoint has moved."""
    url, bundle, log = server
    request = {"max_epochs": 1, "device": "cpu", "multi_gpu": False, "val_split": 0.34}
    response = httpx.post(f"{url}/train/{MODEL_NAME}", json=request, timeout=60)
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    status = {}
    try:
        while time.monotonic() < deadline:
            status = httpx.get(f"{url}/train/", timeout=30).json()
            if status.get("id") == task_id and status.get("status") in ("DONE", "ERROR"):
                break
            time.sleep(2)
        else:
            pytest.fail(f"training did not finish within {TRAIN_TIMEOUT_S} s:\n{tail(log)}")
    finally:
        if status.get("status") not in ("DONE", "ERROR"):
            httpx.delete(f"{url}/train/", timeout=30)
    assert status["status"] == "DONE", f"{status}\n{tail(log)}"
    final = bundle / "models" / "model_last.pt"
    assert final.is_file(), sorted(os.listdir(bundle / "models"))
    trained = torch.load(final, map_location="cpu", weights_only=True)
    initial = torch.load(random_model_file, map_location="cpu", weights_only=True)
    assert trained.keys() == initial.keys()
    assert any(not torch.equal(initial[k], trained[k]) for k in initial if initial[k].is_floating_point())
