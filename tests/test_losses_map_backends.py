"""The losses' own maps are the same with and without the optional ``edt`` / ``cc3d`` (the package falls back to
MONAI's ``distance_transform_edt`` and the torch labeller), and equal to scipy written out here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from scripts.losses import _maps


def masks(shape, seed):
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.standard_normal((4, *shape)), (0, *[1.0] * len(shape)))
    out = smooth > np.quantile(smooth, 0.7)
    out[1] = rng.random(shape) < 0.3  # salt: many tiny components
    out[2] = False  # empty
    out[3] = True  # full
    return torch.from_numpy(out)


def scipy_unsigned(mask):
    if not mask.any() or mask.all():
        return np.zeros(mask.shape, np.float32)
    return (ndimage.distance_transform_edt(mask) + ndimage.distance_transform_edt(~mask)).astype(np.float32)


@pytest.mark.parametrize("shape", [(9, 14), (7, 11, 6), (16, 12, 10)], ids=str)
@pytest.mark.parametrize("kind", ["signed", "unsigned", "components"])
def test_maps_with_the_libraries_equal_the_fallback(shape, kind, monkeypatch):
    assert _maps.HAS_EDT and _maps.HAS_CC3D  # requirements.txt pins both
    for seed in range(3):
        m = masks(shape, seed)[None]
        fast = _maps.batch_maps(m, kind)
        monkeypatch.setattr(_maps, "HAS_EDT", False)
        monkeypatch.setattr(_maps, "HAS_CC3D", False)
        slow = _maps.batch_maps(m, kind)
        monkeypatch.undo()
        torch.testing.assert_close(fast, slow, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(7, 11, 6), (16, 12, 10)], ids=str)
def test_maps_equal_scipy(shape):
    for seed in range(2):
        m = masks(shape, seed)
        unsigned = _maps.batch_maps(m[None], "unsigned")[0]
        comps = _maps.batch_maps(m[None], "components")[0]
        for c in range(m.shape[0]):
            mask = m[c].numpy()
            np.testing.assert_array_equal(unsigned[c].numpy(), scipy_unsigned(mask))
            want, _ = ndimage.label(mask, structure=np.ones((3, 3, 3)))
            np.testing.assert_array_equal(comps[c].numpy(), want)


def test_gpu_distances_follow_monai_probe():
    """cuCIM and cupy are not installed here: a CUDA tensor's distances would go through the host."""
    from monai.utils import optional_import

    has = optional_import("cupy")[1] and optional_import("cucim.core.operations.morphology")[1]
    assert _maps.gpu_distances() == bool(has)


@pytest.mark.gpu
def test_cuda_maps_stay_on_the_device_and_equal_the_cpu_maps():
    m = masks((16, 12, 10), 0)[None]
    for kind in ("signed", "unsigned", "components"):
        gpu = _maps.batch_maps(m.cuda(), kind)
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), _maps.batch_maps(m, kind), rtol=1e-6, atol=1e-5)
