"""Peak extra memory of a computation: on CPU the process's peak resident memory above its resident memory at the
start, on CUDA ``max_memory_allocated`` above the memory allocated at the start.

On CPU, Linux keeps the peak resident set size (``VmHWM`` in ``/proc/self/status``) and resets it to the current
one when ``5`` is written to ``/proc/self/clear_refs``: no sampling, nothing missed, and it sees every allocation,
also those of compiled kernels, which no tensor hook sees. It is meaningful in glibc's default allocator regime
(``benchmarks/_allocator.py``): blocks above the mmap threshold (at most 32 MiB, so every full-size temporary of a
(2, 3, 128^3) batch) are mapped on allocation and returned on release, so resident memory follows live tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"/proc/self/status has no {key} line: peak memory needs Linux.")


def peak_extra_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak bytes ``fn()`` holds beyond what was held before it (its result is released before the end)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        del result
        return torch.cuda.max_memory_allocated(device) - before
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak resident set size becomes the current one
    before = _status_bytes("VmRSS")
    result = fn()
    del result
    return _status_bytes("VmHWM") - before
