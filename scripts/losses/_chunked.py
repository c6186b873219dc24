"""Voxel sums computed chunk by chunk, with a backward pass that recomputes each chunk.

Every loss of the package is a function of a few sums over the voxels, per ``(b, k)``: ``TP``, ``sum p``,
``sum g`` for the region losses, sums of per-voxel cross-entropy or focal terms for the others. Computed the
plain way, each intermediate (probabilities, products, logs) is a new tensor the size of the input, and on a
CPU writing fresh memory costs more than the arithmetic (page faults: a (2, 3, 128^3) float32 temporary takes
about as long as a sigmoid). :func:`voxel_sums` instead runs a *kernel* on slices of the flattened spatial
axis, small enough to stay in cache, and adds up its per-slice sums. Its backward pass recomputes each slice
with autograd and writes that slice of the input's gradient: one read of the input and target per pass and
one write of the gradient, nothing saved between the passes but the inputs themselves.

The value is the kernel's formula exactly; only the summation order differs from one ``sum`` over the whole
volume (float rounding). On CUDA the slices are large (one slice for typical batches): what is saved there is
memory, not launches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.autograd.function import once_differentiable

# Elements (all rows of the batch together) per slice: ~1 MiB of float32 on CPU, a whole batch on CUDA.
CHUNK_ELEMENTS = {"cpu": 1 << 18}
CHUNK_ELEMENTS_OTHER = 1 << 27

Kernel = Callable[..., Sequence[torch.Tensor]]


def chunk_slices(n_voxels: int, n_rows: int, device: torch.device) -> list[slice]:
    """Slices of the flattened spatial axis (at least one, also for zero voxels)."""
    per_chunk = max(1, CHUNK_ELEMENTS.get(device.type, CHUNK_ELEMENTS_OTHER) // max(1, n_rows))
    return [slice(i, i + per_chunk) for i in range(0, max(n_voxels, 1), per_chunk)]


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], t.shape[1], -1)


def _sum_chunks(kernel: Kernel, xf: torch.Tensor, tfs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    totals: list[torch.Tensor] | None = None
    for sl in chunk_slices(xf.shape[-1], xf.shape[0] * xf.shape[1], xf.device):
        parts = kernel(xf[..., sl], *(tf[..., sl] for tf in tfs))
        totals = list(parts) if totals is None else [total + part for total, part in zip(totals, parts)]
    return tuple(totals)


class _VoxelSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel: Kernel, x: torch.Tensor, *targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.kernel = kernel
        ctx.save_for_backward(x, *targets)
        return _sum_chunks(kernel, _flat(x), [_flat(t) for t in targets])

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: torch.Tensor):
        x, *targets = ctx.saved_tensors
        xf, tfs = _flat(x), [_flat(t) for t in targets]
        dx = torch.empty(xf.shape, dtype=x.dtype, device=x.device)
        for sl in chunk_slices(xf.shape[-1], xf.shape[0] * xf.shape[1], xf.device):
            xc = xf[..., sl].detach().requires_grad_()
            with torch.enable_grad():
                parts = ctx.kernel(xc, *(tf[..., sl] for tf in tfs))
            used = [(p, g) for p, g in zip(parts, grads) if p.requires_grad]
            grad = None
            if used:
                outputs, grad_outputs = zip(*used)
                (grad,) = torch.autograd.grad(outputs, xc, grad_outputs, allow_unused=True)
            if grad is None:
                dx[..., sl] = 0
            else:
                dx[..., sl] = grad
        return None, dx.view(x.shape), *(None for _ in targets)


def voxel_sums(kernel: Kernel, x: torch.Tensor, *targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``kernel(x_chunk, *target_chunks)`` summed over chunks of the voxels, differentiable w.r.t. ``x``.

    ``x`` is ``(B, C, *spatial)``, each target ``(B, K, *spatial)`` (target, masks); the kernel receives
    ``(B, C, n)`` and ``(B, K, n)`` slices (in their own dtypes) and returns a sequence of tensors, each a sum
    over the slice's ``n`` voxels (e.g. ``(B, C)``). A target that requires grad is differentiated too, on the
    whole volume in one piece (the chunked backward writes the gradient of ``x`` only).
    """
    grad = torch.is_grad_enabled()
    if grad and any(t.requires_grad for t in targets):
        return tuple(kernel(_flat(x), *(_flat(t) for t in targets)))
    if not (grad and x.requires_grad):
        with torch.no_grad():
            return _sum_chunks(kernel, _flat(x), [_flat(t) for t in targets])
    return _VoxelSums.apply(kernel, x, *targets)
