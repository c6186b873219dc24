"""Extract MONAI's own unit-test cases for six loss classes into ``cases.json`` (data only, no MONAI code).

Issue 12, item 3: ``scripts.losses`` exports drop-in classes under MONAI's names, and MONAI's own test cases
for those classes must pass against ours unchanged. This script turns MONAI's test files into data that
``tests/test_losses_monai_cases.py`` runs against both ``monai.losses`` and ``scripts.losses``.

Usage (from the repository root; needs the installed ``monai`` and ``torch``, not ``parameterized``)::

    python tests/data/monai_loss_cases/extract.py \
        --repo /work/.mirror/Project-MONAI+MONAI/repo --rev HEAD

How: each MONAI test file is read with ``git show REV:tests/losses/<file>`` and executed as a module, with
``parameterized`` and MONAI's ``tests.test_utils`` replaced by stand-ins. Its module-level case tables
(``TEST_CASES`` ...) are built by that execution; then every test method is run once (each expanded parameter
set once) with the loss classes, ``torch.nn``'s reference losses, numpy's comparisons and the ``TestCase``
assertions replaced by recorders that call the real thing and log the constructor arguments, the tensors
passed to ``forward``, the outputs and each assertion with its tolerance. A value case is an assertion whose
actual value is the output of a recorded loss call; its expected value and tolerance are the assertion's.
Assertions inside ``assertRaises*`` / ``assertWarns`` blocks and TorchScript / export saves become the list of
behaviour tests in README.md (not run by the harness). What could not be turned into a case is listed with
the reason in ``cases.json["not_extracted"]`` and in README.md. Both files are rewritten on every run.

The cases come from MONAI's tests (Copyright MONAI Consortium, Apache License 2.0); only their data
(constructor arguments, inputs, expected values, tolerances) is stored here.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import inspect
import json
import linecache
import subprocess
import sys
import types
import unittest
from pathlib import Path

import monai
import monai.losses
import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DEFAULT_REPO = "/work/.mirror/Project-MONAI+MONAI/repo"

# MONAI test file per class, in the order the harness reports them.
FILES = {
    "DiceLoss": "tests/losses/test_dice_loss.py",
    "GeneralizedDiceLoss": "tests/losses/test_generalized_dice_loss.py",
    "TverskyLoss": "tests/losses/test_tversky_loss.py",
    "FocalLoss": "tests/losses/test_focal_loss.py",
    "DiceCELoss": "tests/losses/test_dice_ce_loss.py",
    "DiceFocalLoss": "tests/losses/test_dice_focal_loss.py",
}
CLASSES = list(FILES)

# torch.nn losses that MONAI's tests use as an independent reference (recorded, never a case class).
REFERENCE_LOSSES = ("BCEWithLogitsLoss", "BCELoss", "CrossEntropyLoss")

# The small fixed table of callables a case's kwargs may hold; the harness maps the names back.
KNOWN_CALLABLES = {
    "torch.tanh": torch.tanh,
    "torch.sigmoid": torch.sigmoid,
    "torch.relu": torch.relu,
    "torch.exp": torch.exp,
}
KNOWN_LAMBDAS = {
    "lambda x: torch.log_softmax(x, dim=1)": "log_softmax_dim1",
    "lambda x: torch.softmax(x, dim=1)": "softmax_dim1",
}

# Composite losses whose MONAI test checks composite == sum of components (component class -> coefficient).
COMPONENT_COEFFICIENTS = {
    "DiceFocalLoss": {"DiceLoss": "lambda_dice", "FocalLoss": "lambda_focal"},
    "DiceCELoss": {"DiceLoss": "lambda_dice"},
}

# Randomly drawn inputs larger than this many elements are cut to fewer batch items (and the reference
# recomputed on the cut) to keep cases.json small; README.md names the cases.
MAX_NUMEL = 2560


class Unextractable(Exception):
    """A value of a case that has no data form (an unknown callable ...)."""


# ----------------------------------------------------------------------------------------------- git


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


# ---------------------------------------------------------------------------------------- encoding


class Encoder:
    """Tensors go to a content-addressed pool (``"t<n>"``); kwargs values get markers where JSON has no type."""

    def __init__(self, lambda_sources: dict[tuple[str, int], list[str]]):
        self.pool: dict[str, dict] = {}
        self._by_hash: dict[str, str] = {}
        self.lambda_sources = lambda_sources

    @staticmethod
    def tensor_data(t: torch.Tensor) -> dict:
        t = t.detach().cpu()
        if t.dtype == torch.float32:
            # shortest decimal that round-trips each float32 value (checked below)
            data = np.vectorize(lambda v: float(str(np.float32(v))), otypes=[float])(t.numpy()).tolist()
            back = torch.tensor(data, dtype=torch.float32)
            if not torch.equal(back, t):
                data = t.tolist()
        else:
            data = t.tolist()
        return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "data": data}

    def tensor(self, t: torch.Tensor) -> str:
        t = t.detach().cpu().contiguous()
        h = hashlib.sha256(str(t.dtype).encode() + str(tuple(t.shape)).encode() + t.numpy().tobytes()).hexdigest()
        if h not in self._by_hash:
            key = f"t{len(self.pool)}"
            self._by_hash[h] = key
            self.pool[key] = self.tensor_data(t)
        return self._by_hash[h]

    def callable_name(self, f) -> str:
        for name, g in KNOWN_CALLABLES.items():
            if f is g:
                return name
        code = getattr(f, "__code__", None)
        if code is not None and f.__name__ == "<lambda>":
            sources = self.lambda_sources.get((code.co_filename, code.co_firstlineno), [])
            if len(sources) == 1 and sources[0] in KNOWN_LAMBDAS:
                return KNOWN_LAMBDAS[sources[0]]
            raise Unextractable(f"callable {' / '.join(sources) or f!r} is not in the table of known callables")
        raise Unextractable(f"callable {f!r} is not in the table of known callables")

    def value(self, v):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v.value if hasattr(v, "value") and isinstance(v, str) else v
        if isinstance(v, torch.Tensor):
            return {"__tensor__": self.tensor_data(v)}
        if isinstance(v, np.ndarray):
            return {"__tensor__": self.tensor_data(torch.from_numpy(v))}
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x) for x in v]}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {str(k): self.value(x) for k, x in v.items()}
        if callable(v):
            return {"__callable__": self.callable_name(v)}
        raise Unextractable(f"value {v!r} of type {type(v).__name__} has no data form")


def to_number_array(x):
    """An assertion operand as float64 numpy (tensor, array, list or scalar)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def describe_tensor(t) -> str:
    if isinstance(t, torch.Tensor):
        return f"{str(t.dtype).removeprefix('torch.')} {tuple(t.shape)}"
    return type(t).__name__


def describe_kwargs(kwargs: dict) -> str:
    parts = []
    for k, v in kwargs.items():
        if isinstance(v, torch.Tensor):
            parts.append(f"{k}=tensor({v.tolist()})")
        elif callable(v):
            parts.append(f"{k}={getattr(v, '__name__', v)}")
        else:
            parts.append(f"{k}={v!r}")
    return ", ".join(parts)


# ----------------------------------------------------------------------------------------- tracing


class Trace:
    """What one run of one test method did, in order."""

    def __init__(self):
        self.events: list[dict] = []
        self.context: list[dict] = []  # open assertRaises / assertWarns blocks

    def add(self, **event) -> dict:
        event["seq"] = len(self.events)
        event["in_block"] = self.context[-1] if self.context else None
        self.events.append(event)
        return event


TRACE: Trace | None = None


def recording_class(cls, reference: bool = False):
    sig = inspect.signature(cls.__init__)

    class Recorder(cls):
        def __init__(self, *args, **kwargs):
            bound = sig.bind_partial(None, *args, **kwargs).arguments
            bound.pop(next(iter(sig.parameters)))  # self
            self._rec_kwargs = dict(bound)
            TRACE.add(kind="construct", cls=cls.__name__, kwargs=self._rec_kwargs, reference=reference)
            super().__init__(*args, **kwargs)

        def forward(self, input, target, *args, **kwargs):
            event = TRACE.add(
                kind="call",
                cls=cls.__name__,
                kwargs=self._rec_kwargs,
                module=self,
                reference=reference,
                input=input,
                target=target,
                input_copy=input.detach().clone() if isinstance(input, torch.Tensor) else input,
                target_copy=target.detach().clone() if isinstance(target, torch.Tensor) else target,
            )
            out = super().forward(input, target, *args, **kwargs)
            event["output"] = out.detach().clone()
            return out

    Recorder.__name__ = Recorder.__qualname__ = cls.__name__
    return Recorder


class _Block:
    def __init__(self, inner, what: str, expected):
        self.inner, self.what, self.expected = inner, what, expected

    def __enter__(self):
        self.block = {"check": self.what, "expected": getattr(self.expected, "__name__", str(self.expected))}
        TRACE.add(kind="block", block=self.block)
        TRACE.context.append(self.block)
        return self.inner.__enter__()

    def __exit__(self, *exc):
        TRACE.context.pop()
        try:
            result = self.inner.__exit__(*exc)
            self.block["passed_with_installed_monai"] = True
            return result
        except Exception as e:  # the expected exception / warning did not come
            self.block["passed_with_installed_monai"] = False
            self.block["failure"] = f"{type(e).__name__}: {e}"
            return True


def instrument_testcase(inst: unittest.TestCase) -> None:
    real = unittest.TestCase

    def almost(name):
        def check(first, second, places=None, msg=None, delta=None):
            event = TRACE.add(
                kind="assert", how=name, actual=first, desired=second, places=places if places else 7, delta=delta
            )
            try:
                getattr(real, name)(inst, first, second, places=places, msg=msg, delta=delta)
                event["passed"] = True
            except AssertionError:
                event["passed"] = False

        return check

    def block(name):
        def make(expected, *args, **kwargs):
            inner = getattr(real, name)(inst, expected, *args, **kwargs)
            return _Block(inner, f"{name}({getattr(expected, '__name__', expected)})", expected)

        return make

    inst.assertAlmostEqual = almost("assertAlmostEqual")
    inst.assertNotAlmostEqual = almost("assertNotAlmostEqual")
    for name in ("assertRaises", "assertRaisesRegex", "assertWarns", "assertWarnsRegex"):
        setattr(inst, name, block(name))

    def not_none(obj, msg=None):
        TRACE.add(kind="behaviour", what=f"assertIsNotNone({type(obj).__name__})", passed=obj is not None)

    inst.assertIsNotNone = not_none


def numpy_proxy():
    """``np`` for a test module: ``np.testing.assert_allclose`` and ``np.allclose`` record, the rest is numpy."""

    def assert_allclose(actual, desired, rtol=1e-7, atol=0, equal_nan=True, err_msg="", verbose=True, **kw):
        event = TRACE.add(kind="assert", how="assert_allclose", actual=actual, desired=desired, rtol=rtol, atol=atol)
        try:
            np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, equal_nan=equal_nan, **kw)
            event["passed"] = True
        except AssertionError:
            event["passed"] = False

    def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
        result = np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
        TRACE.add(kind="assert", how="allclose", actual=a, desired=b, rtol=rtol, atol=atol, passed=bool(result))
        return result

    testing = types.SimpleNamespace(
        **{k: getattr(np.testing, k) for k in dir(np.testing) if not k.startswith("_")},
    )
    testing.assert_allclose = assert_allclose

    class NP(types.ModuleType):
        def __getattr__(self, name):
            return getattr(np, name)

    proxy = NP("numpy")
    proxy.testing = testing
    proxy.allclose = allclose
    return proxy


def nn_proxy(real_nn):
    class NN(types.ModuleType):
        def __getattr__(self, name):
            return getattr(real_nn, name)

    proxy = NN("torch.nn")
    for name in REFERENCE_LOSSES:
        setattr(proxy, name, recording_class(getattr(real_nn, name), reference=True))
    return proxy


class FakeParameterized:
    """Stands in for ``parameterized``: keeps the parameter list on the function, the harness expands it."""

    @staticmethod
    def expand(params, *args, **kwargs):
        def deco(f):
            f._expand = list(params)
            f._expand_source = params
            return f

        return deco


def save_stub(name):
    def stub(net, *inputs, **kwargs):
        shapes = ", ".join(describe_tensor(t) for t in inputs)
        TRACE.add(kind="behaviour", what=f"{name}({type(net).__name__}({describe_kwargs(net._rec_kwargs)}), {shapes})")

    return stub


def load_test_module(source: str, path: str):
    """Execute a MONAI test file as a module with stand-ins for its test-only imports."""
    filename = f"<MONAI {path}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    lambdas: dict[tuple[str, int], list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Lambda):
            lambdas.setdefault((filename, node.lineno), []).append(ast.unparse(node))

    fake_param = types.ModuleType("parameterized")
    fake_param.parameterized = FakeParameterized
    fake_tests = types.ModuleType("tests")
    fake_tests.__path__ = []
    fake_utils = types.ModuleType("tests.test_utils")
    fake_utils.__getattr__ = lambda name: save_stub(name)  # test_script_save, test_export_save, ...
    fake_tests.test_utils = fake_utils
    swapped = {"parameterized": fake_param, "tests": fake_tests, "tests.test_utils": fake_utils}
    saved = {k: sys.modules.get(k) for k in swapped}
    sys.modules.update(swapped)
    try:
        ns: dict = {"__name__": "monai_test_" + Path(path).stem, "__file__": filename}
        torch.manual_seed(0)
        exec(compile(source, filename, "exec"), ns)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return ns, lambdas


def instrument_module(ns: dict) -> None:
    for name in list(ns):
        obj = ns[name]
        if inspect.isclass(obj) and obj.__module__.startswith("monai.losses") and name in dir(monai.losses):
            ns[name] = recording_class(obj)
        elif obj is np:
            ns[name] = numpy_proxy()
        elif obj is torch.nn:
            ns[name] = nn_proxy(torch.nn)


def test_methods(ns: dict):
    """(class name, method name, label, function, args) for every test method and parameter set."""
    for cname, cls in ns.items():
        if not (inspect.isclass(cls) and issubclass(cls, unittest.TestCase) and cls.__module__ == ns["__name__"]):
            continue
        for mname, f in cls.__dict__.items():
            if not (mname.startswith("test") and callable(f)):
                continue
            if hasattr(f, "_expand"):
                table = next((k for k, v in ns.items() if v is f._expand_source and k.isupper()), None)
                for i, params in enumerate(f._expand):
                    params = list(params) if isinstance(params, (list, tuple)) else [params]
                    if table:
                        label = f"{table}[{i}]"
                    elif params and isinstance(params[0], str):
                        label = f"{mname}[{params[0]}]"
                    else:
                        label = f"{mname}[{i}]"
                    yield cname, cls, mname, label, f, params, table, i
            else:
                yield cname, cls, mname, mname, f, [], None, None


# ---------------------------------------------------------------------------------------- cases


def check_from_assert(event: dict) -> dict:
    how = event["how"]
    if how == "assert_allclose":
        return {"method": "assert_allclose", "rtol": event["rtol"], "atol": event["atol"]}
    if how in ("assertAlmostEqual", "assertNotAlmostEqual"):
        if event.get("delta") is not None:
            return {"method": how, "delta": event["delta"]}
        return {"method": how, "places": event["places"]}
    if how == "allclose":
        return {"method": "allclose", "rtol": event["rtol"], "atol": event["atol"]}
    raise ValueError(how)


def reference_description(module) -> str:
    red = getattr(module, "reduction", None)
    return f"torch.nn.{type(module).__name__}(reduction={red!r})"


def cut_batch(t, k):
    return t[:k] if isinstance(t, torch.Tensor) and t.dim() > 0 else t


def extract_file(cls_name: str, path: str, source: str, out: dict) -> None:
    global TRACE
    ns, lambdas = load_test_module(source, path)
    instrument_module(ns)
    enc = out["_encoder"]
    enc.lambda_sources.update(lambdas)

    for tcname, tcls, mname, label, f, params, table, index in test_methods(ns):
        TRACE = Trace()
        inst = tcls()
        instrument_testcase(inst)
        torch.manual_seed(0)
        np.random.seed(0)
        test_id = f"{tcname}.{mname}"
        error = None
        try:
            f(inst, *params)
        except Exception as e:  # a test that errors with the installed MONAI: nothing of it is used
            error = f"{type(e).__name__}: {e}"
        trace, TRACE = TRACE, None
        if error:
            out["not_extracted"].append(
                {"file": path, "test": test_id, "label": label, "reason": f"the test raised with MONAI: {error}"}
            )
            continue

        calls = [e for e in trace.events if e["kind"] == "call" and not e["reference"]]
        refs = [e for e in trace.events if e["kind"] == "call" and e["reference"]]
        asserts = [e for e in trace.events if e["kind"] == "assert"]
        used_reference_pairs = False
        for a in asserts:
            actual = to_number_array(a["actual"])
            match = None
            for c in reversed([c for c in calls if c["seq"] < a["seq"] and "output" in c]):
                if np.array_equal(to_number_array(c["output"]), actual) and c["cls"] in CLASSES:
                    match = c
                    break
            base = {
                "file": path,
                "test": test_id,
                "label": label,
                "table": table,
                "index": index,
                "check": check_from_assert(a),
                "passed_with_installed_monai": a["passed"],
            }
            if match is not None:
                add_value_case(out, enc, cls_name, match, calls, asserts, a, base)
            elif refs and not used_reference_pairs:
                used_reference_pairs = True
                add_reference_case(out, enc, calls, refs, a, base)
            else:
                out["not_extracted"].append(
                    {
                        "file": path,
                        "test": test_id,
                        "label": label,
                        "reason": f"{a['how']}: its actual value is not the output of one recorded loss call",
                    }
                )
        blocks = [e for e in trace.events if e["kind"] == "block"]
        behaviour = [e for e in trace.events if e["kind"] == "behaviour"]
        if blocks or behaviour:
            entry = {"file": path, "test": test_id, "label": label, "checks": []}
            for b in blocks:
                inside = [e for e in trace.events if e["in_block"] is b["block"] and e["kind"] in ("construct", "call")]
                steps = []
                for e in inside:
                    if e["kind"] == "construct":
                        steps.append(f"{e['cls']}({describe_kwargs(e['kwargs'])})")
                    else:
                        steps.append(
                            f"forward(input {describe_tensor(e['input'])}, target {describe_tensor(e['target'])})"
                        )
                entry["checks"].append(
                    {
                        "expects": b["block"]["check"],
                        "steps": steps,
                        "passed_with_installed_monai": b["block"].get("passed_with_installed_monai"),
                    }
                )
            for e in behaviour:
                entry["checks"].append(
                    {"expects": e["what"], "steps": [], "passed_with_installed_monai": e.get("passed")}
                )
            out["behaviour_tests"].append(entry)
        elif not asserts:
            out["not_extracted"].append(
                {"file": path, "test": test_id, "label": label, "reason": "no assertion was recorded"}
            )


def add_value_case(out, enc, cls_name, call, calls, asserts, a, base) -> int:
    try:
        kwargs = enc.value(call["kwargs"])
    except Unextractable as e:
        out["not_extracted"].append({**{k: base[k] for k in ("file", "test", "label")}, "reason": str(e)})
        return 0
    case = {
        "class": call["cls"],
        "kwargs": kwargs,
        "input": enc.tensor(call["input_copy"]),
        "target": enc.tensor(call["target_copy"]),
        "expected_kind": "value",
        "expected": to_number_array(a["desired"]).tolist(),
        "expected_shape": list(to_number_array(a["desired"]).shape),
        "monai_output_shape": list(call["output"].shape),
    }
    # composite == sum of its components on the same tensors (MONAI computed the desired value that way)
    comps = COMPONENT_COEFFICIENTS.get(call["cls"])
    if comps:
        # MONAI's DiceFocalLoss test: result = dice_focal(x, y); expected = dice(x, y) + lambda * focal(x, y)
        window_start = max([e["seq"] for e in asserts if e["seq"] < a["seq"]] or [-1])
        prior = [
            c
            for c in calls
            if window_start < c["seq"] < a["seq"]
            and c["cls"] in comps
            and c["input"] is call["input"]
            and c["target"] is call["target"]
        ]
        if {c["cls"] for c in prior} == set(comps) and len(prior) == len(comps):
            sig = inspect.signature(getattr(monai.losses, call["cls"]))
            terms = []
            for c in prior:
                coef_name = comps[c["cls"]]
                coef = call["kwargs"].get(coef_name, sig.parameters[coef_name].default)
                terms.append((c, float(coef)))
            total = None
            for c, coef in terms:
                part = c["output"] if coef == 1.0 else coef * c["output"]
                total = part if total is None else total + part
            desired = to_number_array(a["desired"])
            if np.array_equal(to_number_array(total), desired):
                case["expected_kind"] = "sum_of"
                case["sum_of"] = [
                    {"class": c["cls"], "kwargs": enc.value(c["kwargs"]), "coef": coef} for c, coef in terms
                ]
    out["cases"].append({**base, **case})
    return 1


def add_reference_case(out, enc, calls, refs, a, base) -> int:
    """The loss against a torch reference on the same tensors (MONAI loops over random draws): the first draw."""
    ref = refs[0]
    call = max((c for c in calls if c["seq"] < ref["seq"] and c["cls"] in CLASSES), key=lambda c: c["seq"])
    x, y, rx, ry = call["input_copy"], call["target_copy"], ref["input_copy"], ref["target_copy"]
    note = None
    n = x.shape[0]
    per_item = max(1, x.numel() // n)
    if x.numel() > MAX_NUMEL:
        k = max(1, MAX_NUMEL // per_item)
        x, y, rx, ry = (cut_batch(t, k) for t in (x, y, rx, ry))
        note = f"MONAI draws {tuple(call['input_copy'].shape)}; cut to the first {k} batch items"
    with torch.no_grad():
        expected = torch.nn.modules.loss.__dict__[ref["cls"]].forward(ref["module"], rx, ry)
    try:
        kwargs = enc.value(call["kwargs"])
    except Unextractable as e:
        out["not_extracted"].append({**{k: base[k] for k in ("file", "test", "label")}, "reason": str(e)})
        return 0
    check = dict(base["check"])
    how = a["how"]
    # MONAI asserts on the largest |loss - reference| over its draws; per draw that is the same test
    if how == "allclose":
        check = {"method": "allclose_abs_diff_zero", "rtol": a["rtol"], "atol": a["atol"]}
    with torch.no_grad():
        mod = getattr(monai.losses, call["cls"])(**call["kwargs"])
        ours = mod(x, y)
    passed = check_passes(check, ours, expected)
    case = {
        "class": call["cls"],
        "kwargs": kwargs,
        "input": enc.tensor(x),
        "target": enc.tensor(y),
        "expected_kind": "reference",
        "reference": reference_description(ref["module"])
        + (" on one_hot(target)" if ry.shape != y.shape else " on the same tensors"),
        "expected": to_number_array(expected).tolist(),
        "expected_shape": list(expected.shape),
        "monai_output_shape": list(ours.shape),
    }
    base = {**base, "check": check, "passed_with_installed_monai": passed}
    if note:
        base["note"] = note
    out["cases"].append({**base, **case})
    return 1


def check_passes(check, actual, expected) -> bool:
    a, e = to_number_array(actual), to_number_array(expected)
    m = check["method"]
    if m == "assert_allclose":
        return bool(np.allclose(a, e, rtol=check["rtol"], atol=check["atol"]) and (a.shape == e.shape or e.ndim == 0))
    if m == "allclose_abs_diff_zero":
        return bool(np.allclose(np.abs(a - e), 0, rtol=check["rtol"], atol=check["atol"]))
    tc = unittest.TestCase()
    fn = tc.assertAlmostEqual if m == "assertAlmostEqual" else tc.assertNotAlmostEqual
    try:
        fn(float(a), float(e), places=check.get("places"), delta=check.get("delta"))
        return True
    except AssertionError:
        return False


# ------------------------------------------------------------------------------------------ output


def dump(obj: dict) -> str:
    """JSON with one line per case field and each tensor's data on one line."""
    blobs = {}

    def stash(x):
        if isinstance(x, dict):
            return {k: (stash_blob(v) if k in ("data", "expected") else stash(v)) for k, v in x.items()}
        if isinstance(x, list):
            return [stash(v) for v in x]
        return x

    def stash_blob(v):
        if not isinstance(v, list):
            return v
        key = f"@@BLOB{len(blobs)}@@"
        blobs[key] = json.dumps(v, separators=(",", ":"))
        return key

    text = json.dumps(stash(obj), indent=1)
    for key, blob in blobs.items():
        text = text.replace(f'"{key}"', blob, 1)
    return text + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", default=DEFAULT_REPO, help="a MONAI git checkout or mirror")
    ap.add_argument("--rev", default="HEAD", help="the revision whose tests/losses/ are read")
    ap.add_argument("--out", default=str(HERE), help="folder for cases.json and README.md")
    args = ap.parse_args()

    commit = git(args.repo, "rev-parse", f"{args.rev}^{{commit}}").strip()
    try:
        describe = git(args.repo, "describe", "--tags", commit).strip()
    except subprocess.CalledProcessError:
        describe = None
    date = git(args.repo, "log", "-1", "--format=%cI", commit).strip()

    out = {
        "_encoder": Encoder({}),
        "cases": [],
        "not_extracted": [],
        "behaviour_tests": [],
    }
    for cls_name, path in FILES.items():
        source = git(args.repo, "show", f"{commit}:{path}")
        extract_file(cls_name, path, source, out)

    enc = out.pop("_encoder")
    for case in out["cases"]:
        case["id"] = f"{case['class']}-{case['label']}"
    ids = [c["id"] for c in out["cases"]]
    for i, case in enumerate(out["cases"]):
        if ids.count(case["id"]) > 1:
            case["id"] += f"-{ids[:i].count(case['id'])}"
    per_class = {c: sum(1 for x in out["cases"] if x["class"] == c) for c in CLASSES}
    order = [
        "id",
        "class",
        "kwargs",
        "input",
        "target",
        "expected_kind",
        "expected",
        "expected_shape",
        "monai_output_shape",
        "sum_of",
        "reference",
        "check",
        "file",
        "test",
        "label",
        "table",
        "index",
        "note",
        "passed_with_installed_monai",
    ]
    cases = [{k: c[k] for k in order if k in c} for c in out["cases"]]
    doc = {
        "attribution": (
            "Test cases (constructor arguments, inputs, expected values, tolerances) taken from MONAI's unit "
            "tests, tests/losses/ of https://github.com/Project-MONAI/MONAI, Copyright (c) MONAI Consortium, "
            "licensed under the Apache License, Version 2.0. Only data is stored here, no MONAI code."
        ),
        "source": {
            "repository": "https://github.com/Project-MONAI/MONAI",
            "commit": commit,
            "describe": describe,
            "commit_date": date,
            "files": FILES,
        },
        "extracted_with": {
            "monai": monai.__version__,
            "monai_commit": monai.__dict__.get("__revision_id__") or _monai_commit(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "script": "tests/data/monai_loss_cases/extract.py",
        },
        "format": FORMAT,
        "callables": {**{k: k for k in KNOWN_CALLABLES}, **{v: k for k, v in KNOWN_LAMBDAS.items()}},
        "cases_per_class": per_class,
        "cases": cases,
        "tensors": enc.pool,
        "not_extracted": out["not_extracted"],
        "behaviour_tests": out["behaviour_tests"],
    }
    outdir = Path(args.out)
    (outdir / "cases.json").write_text(dump(doc))
    (outdir / "README.md").write_text(readme(doc))
    failing = [c["id"] for c in cases if not c["passed_with_installed_monai"]]
    print(f"{len(cases)} cases {per_class}; {len(enc.pool)} tensors; not extracted: {len(out['not_extracted'])}")
    print(f"behaviour tests: {len(out['behaviour_tests'])}; failing with installed MONAI: {failing}")


def _monai_commit() -> str | None:
    with contextlib.suppress(Exception):
        from monai._version import get_versions

        return get_versions()["full-revisionid"]
    return None


FORMAT = {
    "cases[].kwargs": (
        "constructor keyword arguments, MONAI's names; markers: {'__tensor__': {dtype, shape, data}}, "
        "{'__tuple__': [...]}, {'__callable__': name from 'callables'}"
    ),
    "cases[].input / target": "keys into 'tensors' ({dtype, shape, data as nested lists})",
    "cases[].expected_kind": (
        "'value': expected is the value in MONAI's assertion; "
        "'sum_of': MONAI checks the class against the weighted sum of its component classes "
        "(each built from the same implementation, on the same tensors), expected holds MONAI's value; "
        "'reference': expected is the torch.nn reference MONAI compares with, computed on these tensors"
    ),
    "cases[].check": (
        "MONAI's comparison: assert_allclose(actual, expected, rtol, atol) | assertAlmostEqual(places) | "
        "assertNotAlmostEqual(places) | allclose_abs_diff_zero: numpy.allclose(|actual - expected|, 0, rtol, atol)"
    ),
    "cases[].monai_output_shape": "the output shape of the installed MONAI on this case",
    "cases[].file / test / label / table / index": "where the case is in MONAI's tests",
}


def readme(doc: dict) -> str:
    src = doc["source"]
    lines = [
        "# MONAI's own loss test cases, as data",
        "",
        "Generated by `extract.py` (do not edit by hand; rerun it). Used by `tests/test_losses_monai_cases.py`",
        "(issue 12, item 3: `scripts.losses` exports drop-in classes under MONAI's names).",
        "",
        "## Attribution",
        "",
        "The cases in `cases.json` (constructor arguments, inputs, expected values, tolerances) are taken from",
        "MONAI's unit tests, `tests/losses/` of <https://github.com/Project-MONAI/MONAI>, Copyright (c) MONAI",
        "Consortium, licensed under the Apache License, Version 2.0. Only their data is stored here; no MONAI code",
        "is copied into this project.",
        "",
        f"- MONAI commit: `{src['commit']}` (`git describe`: `{src['describe']}`, {src['commit_date']})",
        f"- extracted with MONAI {doc['extracted_with']['monai']} (`{doc['extracted_with']['monai_commit']}`), "
        f"torch {doc['extracted_with']['torch']}",
        "- files: " + ", ".join(f"`{p}` ({c})" for c, p in src["files"].items()),
        "",
        "Rerun: `python tests/data/monai_loss_cases/extract.py --repo <MONAI git dir> --rev <rev>`.",
        "",
        "## Cases per class",
        "",
        "| class | cases | from tables | from test methods |",
        "|---|---:|---:|---:|",
    ]
    for c, n in doc["cases_per_class"].items():
        t = sum(1 for x in doc["cases"] if x["class"] == c and x.get("table"))
        lines.append(f"| {c} | {n} | {t} | {n - t} |")
    lines.append(f"| **all** | {len(doc['cases'])} | | |")
    failing = [c["id"] for c in doc["cases"] if not c["passed_with_installed_monai"]]
    lines += [
        "",
        "Failing with the installed MONAI at extraction: " + (", ".join(failing) if failing else "none") + ".",
        "",
    ]
    installed = doc["extracted_with"]["monai"]
    if not (src["describe"] or "").startswith(installed):
        lines += [
            f"**Version note.** The test files are MONAI `{src['describe']}`'s, the installed MONAI is {installed}:",
            f"rerun `extract.py` on a checkout of MONAI {installed} (`--repo`, `--rev {installed}`) when one is at",
            "hand. The cases above pass with the installed MONAI (field `passed_with_installed_monai` of each case).",
            "",
        ]
    softmax_focal = [
        c["id"]
        for c in doc["cases"]
        if c.get("sum_of")
        and (c["kwargs"].get("softmax") or c["kwargs"].get("other_act"))
        and any(t["class"] == "FocalLoss" and not t["kwargs"].get("use_softmax") for t in c["sum_of"])
    ]
    if softmax_focal:
        lines += [
            f"**MONAI #8242.** {len(softmax_focal)} `sum_of` cases build DiceFocalLoss with `softmax=True` and compare",
            "it with `DiceLoss(softmax=True) + lambda_focal * FocalLoss(...)` where the FocalLoss has no",
            "`use_softmax`: they encode MONAI's behaviour (the focal term ignores softmax), from which issue 12",
            "deliberately differs: " + ", ".join(f"`{i}`" for i in softmax_focal[:3]) + ", ...",
            "",
        ]
    lines += [
        "## How the cases were extracted",
        "",
        "Each test file is executed as a module (`parameterized` and MONAI's `tests.test_utils` replaced by",
        "stand-ins), then each test method is run once per parameter set with recording wrappers around the",
        "MONAI loss classes, `torch.nn`'s reference losses, `numpy.testing.assert_allclose`, `numpy.allclose`",
        "and `TestCase.assertAlmostEqual`/`assertNotAlmostEqual`. An assertion whose actual value is the output",
        "of a recorded loss call becomes a case with that call's constructor arguments and tensors and the",
        "assertion's expected value and tolerance. Callables in kwargs are named from a fixed table",
        "(`callables` in `cases.json`); tensors in kwargs are stored as `{'__tensor__': ...}`, tuples as",
        "`{'__tuple__': ...}`. See `format` in `cases.json`.",
        "",
        "Deviations from MONAI's tests, by design of the data form:",
        "",
        "- Inputs MONAI draws at random (unseeded) are drawn once here under `torch.manual_seed(0)` and stored:",
        "  one draw per test, where MONAI draws anew on each run (DiceFocalLoss tests; FocalLoss",
        "  `test_consistency_with_cross_entropy_*`, which MONAI repeats for 100 draws and asserts on the largest",
        "  error: here the first draw, with the same tolerance per draw).",
        f"- Random inputs over {MAX_NUMEL} elements are cut to their first batch items and the torch reference is",
        "  recomputed on the cut (cases with a `note`).",
        "- `sum_of` cases (DiceFocalLoss): MONAI's test compares the class with `DiceLoss(...) + lambda_focal *",
        "  FocalLoss(...)` built from the same import; the harness does the same with each implementation.",
        "- Tests that MONAI runs on CUDA as well (`test_focal_loss.py` builds its table for every device) are",
        "  extracted on CPU only; the CUDA copies hold the same data.",
        "",
        "## Not extracted",
        "",
    ]
    if doc["not_extracted"]:
        lines += [f"- `{n['file']}` `{n['test']}` ({n['label']}): {n['reason']}" for n in doc["not_extracted"]]
    else:
        lines.append("Nothing: every assertion on a loss value became a case.")
    lines += [
        "",
        "## Behaviour tests (not run by the harness; the lead decides which differences are deliberate)",
        "",
        "Tests that check exceptions, warnings, gradients or TorchScript / export rather than values. Each line:",
        "what MONAI expects, then the steps inside the check.",
        "",
    ]
    for b in doc["behaviour_tests"]:
        lines.append(
            f"- `{b['file']}` `{b['test']}`" + (f" ({b['label']})" if b["label"] != b["test"].split(".")[-1] else "")
        )
        for c in b["checks"]:
            steps = "; ".join(c["steps"])
            ok = "" if c["passed_with_installed_monai"] in (True, None) else " **(fails with installed MONAI)**"
            lines.append(f"  - {c['expects']}" + (f": {steps}" if steps else "") + ok)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
