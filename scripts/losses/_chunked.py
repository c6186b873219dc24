"""Voxel sums computed slice by slice, with a hand-written backward pass that recomputes each slice.

Every loss of the package is a function of a few sums over the voxels, per ``(b, k)``: ``TP``, ``sum p``,
``sum g`` for the region losses, sums of per-voxel cross-entropy or focal terms for the others. Computed the
plain way, each intermediate (probabilities, one-hot, logs, products) is a new tensor the size of the input,
and autograd keeps most of them until the backward pass: on a CPU, writing fresh memory costs more than the
arithmetic (page faults), and the memory is several times the input's. :func:`voxel_sums` instead runs a
:class:`TermsKernel` on slices of the flattened spatial axis, small enough to stay in cache, and adds up the
per-slice sums. The backward pass recomputes each slice's activation (:mod:`scripts.losses._activation`,
whose gradient is written by hand), takes the derivatives of the loss's terms w.r.t. ``p``, ``log p`` and
``log(1 - p)`` (written by hand in each loss, ``partials``; autograd on that slice only where a loss gives
none, e.g. MONAI's focal loss), and writes that slice of the input's gradient. Nothing is saved between the
passes but the inputs; the only full-size allocation is the gradient itself. The tests check every
hand-written gradient against autograd through the whole loss (``tests/test_losses_chunked.py``).

The value is the kernel's formula exactly; only the summation order differs from one ``sum`` over the whole
volume (float rounding). On CUDA the slices are large (one slice for typical batches): what is saved there is
memory, not launches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.autograd.function import once_differentiable

from ._activation import SliceActivation

# Elements (all rows of the batch together) per slice: ~1 MiB of float32 on CPU, a whole batch on CUDA.
CHUNK_ELEMENTS = {"cpu": 1 << 18}
CHUNK_ELEMENTS_OTHER = 1 << 27
# On CPU the slices are shared out between worker threads (at most torch.get_num_threads(), contiguous runs of
# slices), each running its operations single-threaded: a slice's operations are short (~0.1 ms), and
# splitting each across threads costs a synchronisation per operation; on a shared CPU (data-loader workers,
# other jobs) a thread that is not scheduled then stalls every operation. Measured on the 2-core benchmark
# machine, intra-op threads made the slice loop 2-3x slower than one thread (docs/benchmarks.md).
PARALLEL_SLICES = {"cpu": True}


def run_slices(device: torch.device, slices: list[slice], work: Callable[[list[slice]], object]) -> list:
    """``work(run)`` for contiguous runs of ``slices``: one run per worker thread on CPU (see
    ``PARALLEL_SLICES``), one run on other devices. Results in slice order; grad and inference modes, which
    are per thread, are carried into the workers."""
    if not PARALLEL_SLICES.get(device.type, False):
        return [work(slices)]
    before = torch.get_num_threads()
    n = max(1, min(before, len(slices)))
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def in_modes(run: list[slice]) -> object:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return work(run)

    bounds = [round(i * len(slices) / n) for i in range(n + 1)]
    runs = [slices[bounds[i] : bounds[i + 1]] for i in range(n)]
    torch.set_num_threads(1)  # new threads take this setting on their first operation
    try:
        if n == 1:
            return [work(slices)]
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(in_modes, runs))
    finally:
        torch.set_num_threads(before)


class TermsKernel:
    """A loss's voxel sums on one slice: ``terms(make(prims, *target_slices))``, where ``prims`` are the
    :class:`scripts.losses._activation.Prims` of the slice's logits and ``make`` builds what ``terms`` reads
    (one-hot target, kept channels, ...). ``terms`` returns a tuple of sums over the slice's voxels and must
    be differentiable w.r.t. ``p``, ``log p``, ``log(1 - p)`` (autograd differentiates it, slice by slice),
    unless ``partials(made, grads)`` gives those derivatives of ``sum_k grads[k] * terms[k]`` by hand (or, as
    one tensor, the derivative w.r.t. the slice ``x`` itself)."""

    def __init__(
        self,
        activation: SliceActivation,
        make: Callable[..., object],
        terms: Callable[..., Sequence],
        partials: Callable[..., Sequence] | None = None,
    ):
        self.activation = activation
        self.make = make
        self.terms = terms
        self.partials = partials

    def sums(self, x: torch.Tensor, *targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.terms(self.make(self.activation.forward(x), *targets)))

    def reference(self, x: torch.Tensor, *targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The sums with autograd through everything (activation included)."""
        return tuple(self.terms(self.make(self.activation.reference(x), *targets)))

    def grad(self, x: torch.Tensor, *targets: torch.Tensor, grads: Sequence[torch.Tensor]) -> torch.Tensor:
        """``d (sum_k grads[k] * sums[k]) / dx`` for one slice."""
        prims = self.activation.forward(x)
        if self.partials is not None:
            partial = self.partials(self.make(prims, *targets), grads)
            if isinstance(partial, torch.Tensor):  # already the gradient w.r.t. the slice
                return partial
            return self.activation.backward(prims, *partial)
        leaves = self.activation.leaves(prims)
        with torch.enable_grad():
            sums = self.terms(self.make(leaves, *targets))
        used = [(s, g) for s, g in zip(sums, grads) if s.requires_grad]
        inputs = [t for t in leaves if t is not None]
        partial: list[torch.Tensor | None] = [None] * len(inputs)
        if used:
            outputs, grad_outputs = zip(*used)
            partial = list(torch.autograd.grad(outputs, inputs, grad_outputs, allow_unused=True))
        by_prim = iter(partial)
        dp, dlogp, dlog1mp = (None if t is None else next(by_prim) for t in leaves)
        return self.activation.backward(prims, dp, dlogp, dlog1mp)


def chunk_slices(n_voxels: int, n_rows: int, device: torch.device) -> list[slice]:
    """Slices of the flattened spatial axis (at least one, also for zero voxels)."""
    per_chunk = max(1, CHUNK_ELEMENTS.get(device.type, CHUNK_ELEMENTS_OTHER) // max(1, n_rows))
    return [slice(i, i + per_chunk) for i in range(0, max(n_voxels, 1), per_chunk)]


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], t.shape[1], -1)


def _sum_chunks(kernel: TermsKernel, xf: torch.Tensor, tfs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    def work(run: list[slice]) -> list[torch.Tensor]:
        totals: list[torch.Tensor] | None = None
        for sl in run:
            parts = kernel.sums(xf[..., sl], *(tf[..., sl] for tf in tfs))
            totals = list(parts) if totals is None else [total + part for total, part in zip(totals, parts)]
        return totals

    slices = chunk_slices(xf.shape[-1], xf.shape[0] * xf.shape[1], xf.device)
    per_run = run_slices(xf.device, slices, work)
    return tuple(sum(parts[1:], parts[0]) for parts in zip(*per_run))


class _VoxelSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel: TermsKernel, x: torch.Tensor, *targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.kernel = kernel
        ctx.save_for_backward(x, *targets)
        return _sum_chunks(kernel, _flat(x), [_flat(t) for t in targets])

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: torch.Tensor):
        x, *targets = ctx.saved_tensors
        xf, tfs = _flat(x), [_flat(t) for t in targets]
        dx = torch.empty(xf.shape, dtype=x.dtype, device=x.device)

        def work(run: list[slice]) -> None:
            for sl in run:  # runs are disjoint: each worker writes its own part of dx
                dx[..., sl] = ctx.kernel.grad(xf[..., sl], *(tf[..., sl] for tf in tfs), grads=grads)

        run_slices(x.device, chunk_slices(xf.shape[-1], xf.shape[0] * xf.shape[1], xf.device), work)
        return None, dx.view(x.shape), *(None for _ in targets)


def voxel_sums(kernel: TermsKernel, x: torch.Tensor, *targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The kernel's sums over all voxels, computed slice by slice, differentiable w.r.t. ``x``.

    ``x`` is ``(B, C, *spatial)`` logits (or probabilities), each target ``(B, K, *spatial)`` (target, masks);
    the kernel sees ``(B, C, n)`` and ``(B, K, n)`` slices in their own dtypes. A target that requires grad is
    differentiated too: then the whole volume is one slice and autograd runs through everything.
    """
    grad = torch.is_grad_enabled()
    if grad and any(t.requires_grad for t in targets):
        return kernel.reference(_flat(x), *(_flat(t) for t in targets))
    if not (grad and x.requires_grad):
        with torch.no_grad():
            return _sum_chunks(kernel, _flat(x), [_flat(t) for t in targets])
    return _VoxelSums.apply(kernel, x, *targets)
