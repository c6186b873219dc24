"""The compiled path (``torch.compile``, the default) against the eager one, for every catalogue loss; no
recompilation within a run; the eager fallback and its one warning; the switches (docs/losses.md, "Speed")."""

from __future__ import annotations

import copy
import pickle
import warnings
from pathlib import Path

import pytest
import torch
import torch._dynamo.utils as dynamo_utils  # tests only: the compiler's counters
import torch._inductor.config as inductor_config  # tests only: a missing C++ compiler
from monai.bundle import ConfigParser

from scripts.losses import LOSSES, CompileFallbackWarning, build_loss

pytestmark = pytest.mark.compiled
REPO_ROOT = Path(__file__).resolve().parents[1]
MODES = {"sigmoid": {"sigmoid": True}, "softmax": {"softmax": True, "to_onehot_y": True}}


def batch(mode: str, dtype: torch.dtype, shape=(2, 3, 6, 5, 4), seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = (2 * torch.randn(shape, generator=gen)).to(dtype)
    if mode == "softmax":
        return x, torch.randint(0, shape[1], (shape[0], 1, *shape[2:]), generator=gen)
    return x, (torch.rand(shape, generator=gen) < 0.3).to(dtype)


def value_and_grad(loss, x, target):
    x = x.clone().requires_grad_()
    value = loss(x, target)
    value.backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_compiled_equals_eager(name, mode, dtype):
    x, target = batch(mode, dtype)
    compiled = build_loss(name, **MODES[mode])
    eager = build_loss(name, **MODES[mode], compile=False)
    assert compiled.compile and not eager.compile
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to eager would warn: the test must compile
        got = value_and_grad(compiled, x, target)
    want = value_and_grad(eager, x, target)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    torch.testing.assert_close(got[0], want[0], **tol)
    torch.testing.assert_close(got[1], want[1], **tol)
    assert got[0].dtype == dtype


def test_no_recompilation_within_a_training_run_of_fixed_patch_size():
    loss = build_loss("asymmetric_unified_focal", sigmoid=True)
    torch.compiler.reset()
    dynamo_utils.counters.clear()
    for step in range(6):
        value_and_grad(loss, *batch("sigmoid", torch.float32, seed=step))
    assert dynamo_utils.counters["stats"]["unique_graphs"] == 1


def test_each_loss_instance_compiles_apart_so_no_recompilation_limit_is_shared():
    """torch.compile allows 8 recompilations per code object: twelve configurations in one process (a study)
    must all be compiled, none silently run eagerly."""
    torch.compiler.reset()
    dynamo_utils.counters.clear()
    names = sorted(LOSSES)[:12]
    for name in names:
        value_and_grad(build_loss(name, sigmoid=True), *batch("sigmoid", torch.float32))
    assert dynamo_utils.counters["stats"]["unique_graphs"] >= len(names)


@pytest.fixture
def no_cxx_compiler(monkeypatch):
    """Inductor's C++ compiler set to a path that does not exist: what a machine without one gives."""
    monkeypatch.setattr(inductor_config.cpp, "cxx", (None, "/nonexistent/g++"))
    torch.compiler.reset()
    yield
    torch.compiler.reset()


def test_a_compiler_failure_falls_back_to_eager_with_one_warning(no_cxx_compiler):
    loss = build_loss("focal_tversky", sigmoid=True)
    x, target = batch("sigmoid", torch.float32)
    with pytest.warns(CompileFallbackWarning, match="torch.compile failed.*No working C\\+\\+ compiler") as record:
        first = loss(x, target)
    assert len(record) == 1 and not loss.compile
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = loss(x, target)
    want = build_loss("focal_tversky", sigmoid=True, compile=False)(x, target)
    torch.testing.assert_close(first, want)
    torch.testing.assert_close(second, want)


def test_a_fallback_is_an_error_in_the_test_suite(no_cxx_compiler):
    """pyproject.toml makes CompileFallbackWarning an error: a test whose loss silently ran eagerly (e.g. because
    tests/slow_marking.py refused the compiler's subprocess) fails, unless it expects the fallback (pytest.warns)."""
    with pytest.raises(CompileFallbackWarning, match="No working C\\+\\+ compiler"):
        build_loss("dice", sigmoid=True)(*batch("sigmoid", torch.float32))


def test_an_exception_that_is_not_the_compilers_propagates(monkeypatch):
    """Only the compiler's failures (dynamo's TorchDynamoException) fall back to eager; any other exception raised
    while the compiled loss runs reaches the caller unchanged, and the loss stays compiled."""

    class NotTheCompilers(RuntimeError):
        pass

    def compiled_that_raises(fn, *args, **kwargs):
        def run(*a):
            raise NotTheCompilers("raised while the loss runs")

        return run

    monkeypatch.setattr(torch, "compile", compiled_that_raises)
    loss = build_loss("focal_tversky", sigmoid=True)
    with pytest.raises(NotTheCompilers, match="raised while the loss runs"):
        loss(*batch("sigmoid", torch.float32))
    assert loss.compile


def test_a_real_input_error_is_not_taken_for_a_compiler_failure():
    loss = build_loss("dice", sigmoid=True)
    x, target = batch("sigmoid", torch.float32)
    with pytest.raises(ValueError, match="target has 2 channel"):
        loss(x, target[:, :2])
    assert loss.compile


def test_compiled_loss_can_be_copied_and_pickled_after_use():
    loss = build_loss("combo", softmax=True, to_onehot_y=True)
    x, target = batch("softmax", torch.float32)
    want = loss(x, target)
    for clone in (copy.deepcopy(loss), pickle.loads(pickle.dumps(loss))):
        torch.testing.assert_close(clone(x, target), want)


def test_bundle_config_id_turns_compilation_off():
    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / "configs" / "train.json"))
    assert parser.get_parsed_content("loss").compile is True
    parser["loss_compile"] = False
    assert parser.get_parsed_content("loss", lazy=False).compile is False


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="the CUDA path of torch.compile needs a CUDA device")
@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "fp16_autocast"])
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_compiled_equals_eager_on_cuda(name, mode, amp):
    x, target = batch(mode, torch.float32, shape=(2, 3, 32, 32, 32))
    x, target = x.cuda(), target.cuda()
    with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            got = value_and_grad(build_loss(name, **MODES[mode]), x.half() if amp else x, target)
        want = value_and_grad(build_loss(name, **MODES[mode], compile=False), x.half() if amp else x, target)
    assert got[0].dtype == torch.float32 and torch.isfinite(got[0]) and torch.isfinite(got[1]).all()
    torch.testing.assert_close(got[0], want[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[1].float(), want[1].float(), rtol=1e-3, atol=1e-5)


def test_metatensors_from_the_data_loader_are_compiled_too():
    """The trainer hands MONAI MetaTensors to the loss; torch.compile cannot trace them, so the loss takes them as
    plain tensors (same data, same autograd graph) instead of falling back to eager with a warning."""
    from monai.data import MetaTensor

    x, target = batch("sigmoid", torch.float32)
    loss = build_loss("asymmetric_unified_focal", sigmoid=True)
    leaf = MetaTensor(x.clone()).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        value = loss(leaf, MetaTensor(target))
    value.backward()
    assert loss.compile and leaf.grad is not None
    want = value_and_grad(build_loss("asymmetric_unified_focal", sigmoid=True, compile=False), x, target)
    torch.testing.assert_close(value.detach().as_subclass(torch.Tensor), want[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(leaf.grad.as_subclass(torch.Tensor), want[1], rtol=1e-5, atol=1e-6)
