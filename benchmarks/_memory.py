"""Peak extra memory of a computation, counted as the bytes of the tensor storages it allocates.

CPU PyTorch has no ``max_memory_allocated``, and the process RSS depends on glibc's heap. A
``TorchDispatchMode`` sees every tensor an operator returns, forward and backward (the autograd engine runs the
CPU backward under the caller's dispatch modes), so it can keep a ledger of live storages: a storage is counted
from the operator that creates it until its last reference dies (checked through a weak reference). Storages
alive before the measurement (inputs, parameters) are not counted. Buffers an operator allocates and frees
internally are not seen; those of the operators compared here are small. On CUDA, use
``torch.cuda.max_memory_allocated`` instead (:func:`peak_extra_bytes` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class StorageLedger(TorchDispatchMode):
    """Live and peak bytes of the storages created while the mode is active."""

    def __init__(self, known: Iterable[torch.Tensor] = ()) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = 0
        self.peak = 0
        for t in known:
            self._add(t, counted=False)

    def _add(self, t: torch.Tensor, counted: bool = True) -> None:
        storage = t.untyped_storage()
        ref = StorageWeakRef(storage)
        if ref.cdata in self.live:
            return
        nbytes = storage.nbytes() if counted else 0
        self.live[ref.cdata] = (ref, nbytes)
        self.current += nbytes

    def _collect(self) -> None:
        dead = [key for key, (ref, _) in self.live.items() if ref.expired()]
        for key in dead:
            self.current -= self.live.pop(key)[1]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self._collect()
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                self._add(t)
        self.peak = max(self.peak, self.current)
        return out


def peak_extra_bytes(fn: Callable[[], object], known: Iterable[torch.Tensor], device: torch.device) -> int:
    """Peak bytes allocated by ``fn()`` beyond what was allocated before it (``known``: tensors alive before)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        del result
        return torch.cuda.max_memory_allocated(device) - before
    ledger = StorageLedger(known)
    with ledger:
        result = fn()
        del result
    return ledger.peak
