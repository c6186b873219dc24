"""The CPU allocator regime of a benchmark run.

PyTorch's CPU tensors come from glibc's ``malloc``. By default glibc serves every block above its mmap threshold
(dynamic, at most 32 MiB on 64-bit) with a fresh ``mmap`` and returns it to the system on ``free``: each
full-size temporary of a (2, 3, 128^3) float32 batch (50 MB) then costs its page faults again on every call,
often more than the arithmetic. An allocator that keeps freed memory (jemalloc or tcmalloc preloaded, or a GPU's
caching allocator) does not pay them. Timings, and which implementation wins, differ between the two regimes, so
a run states its regime:

- ``"default"``: glibc as configured by the environment (what a plain ``python`` gets);
- ``"warm"``: ``mallopt(M_MMAP_MAX, 0)`` and the largest ``M_TRIM_THRESHOLD``: no block is mmapped and freed
  memory stays in the heap, so repeated calls reuse memory that is already mapped (what
  ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647`` in the environment also gives).
"""

from __future__ import annotations

import ctypes
import ctypes.util

REGIMES = ("default", "warm")
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def set_regime(regime: str) -> None:
    """Switch this process's allocator to ``regime`` (before the tensors are allocated)."""
    if regime not in REGIMES:
        raise ValueError(f"allocator must be one of {REGIMES}, got {regime!r}.")
    if regime == "default":
        return
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt"):
        raise ValueError("allocator='warm' needs glibc's mallopt, which this platform's C library lacks.")
    if not (libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)):
        raise ValueError("glibc refused mallopt(M_MMAP_MAX, 0) / mallopt(M_TRIM_THRESHOLD, 2**31 - 1).")
