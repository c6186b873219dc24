"""Activations of one slice of logits, ``p``, ``log p`` and ``log(1 - p)``, with hand-written backward passes.

:func:`scripts.losses._chunked.voxel_sums` recomputes the activation of each slice in the backward pass; doing
that through autograd would save and differentiate every intermediate of ``logsigmoid``/``log_softmax``. Here
each mode computes its primitives once, in the numerically safe forms of :mod:`scripts.losses._log_probs`,
and maps their gradients to the logits in a few element-wise operations:

- ``sigmoid`` (per-channel binary): ``p = sigmoid(x)``, ``log p = min(x, 0) - log1p(exp(-|x|))``,
  ``log(1 - p) = min(-x, 0) - log1p(exp(-|x|))`` (the formulas of ``torch.nn.functional.logsigmoid``);
  ``dx = dp p (1 - p) + dlogp (1 - p) - dlog1mp p`` with ``1 - p = sigmoid(-x)``.
- ``softmax`` (categorical): ``p = softmax(x)``, ``log p = log_softmax(x)``, ``log(1 - p_c) = log(sum_{k != c}
  p_k)`` (:func:`others_sum`: no cancellation), or, where such a sum underflows, ``LSE_{k != c} x_k - LSE_k x_k``
  (:func:`log1m_softmax`); ``dx = dlogp + p dp - p sum_c (dlogp_c + p_c dp_c + r_c) + sum_{c != k} r_c
  exp(x_k - LSE_{j != c} x_j)`` for ``r = dlog1mp``, each exponential, ``p_k / (1 - p_c)``, at most 1.
- ``none`` (probabilities): ``log p`` and ``log(1 - p)`` of ``p`` clipped to ``[1e-7, 1 - 1e-7]``; the clip
  passes gradient inside the interval only, as ``torch.clamp`` does.

:meth:`SliceActivation.reference` computes the same primitives with autograd-differentiable operations (for
a target that requires grad, and for the tests).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

PROB_CLIP = 1e-7
# below this, a sum of softmax probabilities has lost relative precision (float32: ~1e-31)
SOFTMAX_Q_FLOOR = {dt: torch.finfo(dt).tiny / torch.finfo(dt).eps for dt in (torch.float32, torch.float64)}
LOG_CLIP_LOW = math.log(PROB_CLIP)
LOG_CLIP_HIGH = math.log1p(-PROB_CLIP)
MODES = ("sigmoid", "softmax", "none")


def as_compute_dtype(x: torch.Tensor) -> torch.Tensor:
    """float32, or float64 for float64 input (gradcheck); no copy when already so."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def log_sum_exp_others(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(LSE over all channels (B, 1, ...), LSE over the channels other than c (B, C, ...))`` along dim 1
    (at least 2 channels), from prefix and suffix ``logaddexp`` chains: ``3 C - 5`` ``logaddexp`` on one channel
    each, no cancellation."""
    n = x.shape[1]
    prefix = {0: x[:, :1]}  # prefix[c]: LSE of channels 0..c
    for c in range(1, n):
        prefix[c] = torch.logaddexp(prefix[c - 1], x[:, c : c + 1])
    suffix = {n - 1: x[:, n - 1 :]}  # suffix[c]: LSE of channels c..n-1
    for c in range(n - 2, 0, -1):
        suffix[c] = torch.logaddexp(suffix[c + 1], x[:, c : c + 1])
    others = [suffix[1]]
    others += [torch.logaddexp(prefix[c - 1], suffix[c + 1]) for c in range(1, n - 1)]
    others.append(prefix[n - 2])
    return prefix[n - 1], torch.cat(others, 1)


def log1m_softmax(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - softmax(x))`` along dim 1 without cancellation: log-sum-exp over the other channels minus
    log-sum-exp over all channels (``log1p(-softmax)`` is ``-inf`` once a probability rounds to 1)."""
    lse, others = log_sum_exp_others(x)
    return others - lse


def others_sum(p: torch.Tensor) -> torch.Tensor:
    """``sum_{k != c} p_k`` for every channel ``c`` of ``(B, C, n)`` (``C >= 2``), from prefix and suffix sums
    of the channels (``3 C - 5`` additions of one channel each; no subtraction)."""
    n = p.shape[1]
    out = torch.empty_like(p)
    if n == 2:
        out[:, :1], out[:, 1:] = p[:, 1:], p[:, :1]
        return out
    prefix = [p[:, :1]]  # prefix[c]: channels 0..c
    for c in range(1, n - 1):
        prefix.append(prefix[-1] + p[:, c : c + 1])
    suffix = {n - 1: p[:, n - 1 :]}  # suffix[c]: channels c..n-1
    for c in range(n - 2, 0, -1):
        suffix[c] = suffix[c + 1] + p[:, c : c + 1]
    out[:, :1] = suffix[1]
    for c in range(1, n - 1):
        torch.add(prefix[c - 1], suffix[c + 1], out=out[:, c : c + 1])
    out[:, n - 1 :] = prefix[n - 2]
    return out


class Prims(NamedTuple):
    """Primitives of one slice, float32 (float64 for float64 input); ``None`` where not asked for."""

    p: torch.Tensor | None
    logp: torch.Tensor | None
    log1mp: torch.Tensor | None

    @property
    def like(self) -> torch.Tensor:
        """A tensor of the slice's shape and compute dtype."""
        return next(t for t in self if t is not None)


class LazyPrims:
    """The primitives of one slice ``x``, each computed (once) when first read: a backward pass whose
    gradient formula does not read ``log p`` does not recompute it."""

    def __init__(self, x: torch.Tensor, mode: str) -> None:
        self.x = as_compute_dtype(x)
        self.like = self.x
        self.mode = mode
        self._cache: dict[str, torch.Tensor] = {}

    def _get(self, name: str) -> torch.Tensor:
        if name not in self._cache:
            self._cache[name] = getattr(self, "_" + name)()
        return self._cache[name]

    p = property(lambda self: self._get("p"))
    q = property(lambda self: self._get("q"))  # 1 - p (sigmoid mode), exact for large logits
    logp = property(lambda self: self._get("logp"))
    log1mp = property(lambda self: self._get("log1mp"))
    others = property(lambda self: self._get("others"))  # softmax: LSE over the channels other than c
    # softmax: 1 - p_c as the sum of the other probabilities, None where one underflows (then ``others``)
    one_minus_p = property(lambda self: self._get("one_minus_p"))

    def _p(self) -> torch.Tensor:
        if self.mode == "sigmoid":
            return torch.sigmoid(self.x)
        if self.mode == "softmax":
            return torch.softmax(self.x, 1)
        return self.x

    def _q(self) -> torch.Tensor:
        return self.x.neg().sigmoid_()

    def _softplus(self) -> torch.Tensor:  # log1p(exp(-|x|)), shared by log p and log(1 - p)
        return self.x.abs().neg_().exp_().log1p_()

    def _clipped(self) -> torch.Tensor:
        return self.x.clamp(PROB_CLIP, 1 - PROB_CLIP)

    def _logp(self) -> torch.Tensor:
        if self.mode == "sigmoid":
            return self.x.clamp(max=0).sub_(self._get("softplus"))
        if self.mode == "softmax":
            return torch.log_softmax(self.x, 1)
        return self._get("clipped").log()

    def _log1mp(self) -> torch.Tensor:
        if self.mode == "sigmoid":
            return self.x.neg().clamp_(max=0).sub_(self._get("softplus"))
        if self.mode == "softmax":
            q = self.one_minus_p
            if q is not None:
                return q.log()
            lse, others = log_sum_exp_others(self.x)
            self._cache["others"] = others
            return others - lse
        return torch.log1p(-self._get("clipped"))

    def _one_minus_p(self) -> torch.Tensor | None:
        """``sum_{k != c} p_k`` (no cancellation, and no log-sum-exp chains: a fraction of their cost), or None
        if any falls below ``tiny / eps`` of the dtype (where it loses relative precision to underflow; e.g.
        logits apart by more than ~70 in float32): then the log-sum-exp form, exact there, is used. CPU only (None
        elsewhere): on CUDA the check would cost a device synchronisation per slice."""
        if self.x.device.type != "cpu":
            return None
        q = others_sum(self._get("p"))
        return q if bool(q.amin() >= SOFTMAX_Q_FLOOR[q.dtype]) else None

    def _others(self) -> torch.Tensor:
        self._get("log1mp")
        return self._cache["others"]


class SliceActivation:
    """``mode`` in ``("sigmoid", "softmax", "none")``; ``logs``: the loss reads ``log p`` (and ``log(1 - p)``
    when ``complement``); ``probs=False``: it does not read ``p``. These flags say which primitives autograd
    differentiates (:meth:`leaves`); the hand-written path reads what it needs from :class:`LazyPrims`."""

    def __init__(self, mode: str, logs: bool = False, complement: bool = False, probs: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"activation mode must be one of {MODES}, got {mode!r}.")
        self.mode = mode
        self.logs = logs
        self.complement = logs and complement
        self.probs = probs or not logs

    def forward(self, x: torch.Tensor) -> LazyPrims:
        """Primitives of a slice, without autograd, computed on first use."""
        return LazyPrims(x, self.mode)

    def leaves(self, prims: LazyPrims) -> Prims:
        """The primitives the loss reads, as fresh tensors that require grad (for autograd on one slice)."""
        wanted = (self.probs, self.logs, self.complement)
        tensors = (prims.p if wanted[0] else None, prims.logp if wanted[1] else None)
        tensors += (prims.log1mp if wanted[2] else None,)
        return Prims(*(None if t is None else t.detach().requires_grad_() for t in tensors))

    def reference(self, x: torch.Tensor) -> Prims:
        """The same primitives, differentiable by autograd."""
        x = as_compute_dtype(x)
        if self.mode == "sigmoid":
            p = torch.sigmoid(x) if self.probs else None
            if not self.logs:
                return Prims(p, None, None)
            return Prims(p, F.logsigmoid(x), F.logsigmoid(-x) if self.complement else None)
        if self.mode == "softmax":
            p = torch.softmax(x, 1) if self.probs else None
            if not self.logs:
                return Prims(p, None, None)
            return Prims(p, torch.log_softmax(x, 1), log1m_softmax(x) if self.complement else None)
        if not self.logs:
            return Prims(x, None, None)
        clipped = x.clamp(PROB_CLIP, 1 - PROB_CLIP)
        return Prims(x, clipped.log(), torch.log1p(-clipped) if self.complement else None)

    # ------------------------------------------------------------------ backward
    def backward(
        self,
        prims: LazyPrims,
        dp: torch.Tensor | None,
        dlogp: torch.Tensor | None,
        dlog1mp: torch.Tensor | None,
    ) -> torch.Tensor:
        """Gradient w.r.t. the slice (compute dtype) from the gradients w.r.t. the primitives (full channels)."""
        if self.mode == "sigmoid":
            return self._sigmoid_backward(prims, dp, dlogp, dlog1mp)
        if self.mode == "softmax":
            return self._softmax_backward(prims, dp, dlogp, dlog1mp)
        return self._probability_backward(prims, dp, dlogp, dlog1mp)

    @staticmethod
    def _sigmoid_backward(prims, dp, dlogp, dlog1mp) -> torch.Tensor:
        # dx = (dp p + dlogp) (1 - p) - dlog1mp p, with 1 - p = sigmoid(-x) exact for large x
        grad = None
        if dp is not None:
            grad = dp * prims.p
        if dlogp is not None:
            grad = dlogp.clone() if grad is None else grad.add_(dlogp)
        if grad is not None:
            grad.mul_(prims.q)
        if dlog1mp is not None:
            grad = -(dlog1mp * prims.p) if grad is None else grad.addcmul_(dlog1mp, prims.p, value=-1)
        return torch.zeros_like(prims.x) if grad is None else grad

    @staticmethod
    def _softmax_backward(prims, dp, dlogp, dlog1mp) -> torch.Tensor:
        x, p = prims.x, prims.p
        grad = torch.zeros_like(x) if dlogp is None else dlogp.clone()
        total = None  # sum over channels of (dlogp_c + p_c dp_c + r_c)
        if dp is not None:
            pdp = p * dp
            grad.add_(pdp)
            total = pdp.sum(1, keepdim=True)
        if dlogp is not None:
            s = dlogp.sum(1, keepdim=True)
            total = s if total is None else total.add_(s)
        if dlog1mp is not None:
            s = dlog1mp.sum(1, keepdim=True)
            total = s if total is None else total.add_(s)
            q = prims.one_minus_p
            if q is not None:  # exp(x_k - LSE_{j != c}) = p_k / (1 - p_c), at most 1: sum_{c != k} r_c p_k / (1 - p_c)
                grad.addcmul_(p, others_sum(dlog1mp / q))
                return grad.addcmul_(p, total, value=-1)
            n = x.shape[1]
            others = prims.others
            for c in range(n):
                r_c, lse_c = dlog1mp[:, c : c + 1], others[:, c : c + 1]
                for k in range(n):
                    if k != c:  # d log(1 - p_c) / d x_k = exp(x_k - LSE_{j != c}) - p_k, the first term <= 1
                        grad[:, k : k + 1].addcmul_(r_c, (x[:, k : k + 1] - lse_c).exp_())
        if total is not None:
            grad.addcmul_(p, total, value=-1)
        return grad

    @staticmethod
    def _probability_backward(prims, dp, dlogp, dlog1mp) -> torch.Tensor:
        p = prims.x
        if dlogp is None and dlog1mp is None:  # the caller copies the result into the input's gradient
            return torch.zeros_like(p) if dp is None else dp
        grad = torch.zeros_like(p) if dp is None else dp.clone()
        clipped = prims._get("clipped")
        inside = ((p >= PROB_CLIP) & (p <= 1 - PROB_CLIP)).to(p.dtype)  # torch.clamp's gradient mask
        if dlogp is not None:
            grad.add_(dlogp / clipped * inside)
        if dlog1mp is not None:
            grad.sub_(dlog1mp / (1 - clipped) * inside)
        return grad
