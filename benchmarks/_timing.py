"""Interleaved timing: the candidates of one comparison run in turn, repeat after repeat, so that a change in
the machine's load (2 cores shared with other jobs) hits all of them alike; medians over the repeats.

Two clocks: ``"wall"`` (``time.perf_counter``, what a user waits) and ``"cpu"`` (``time.process_time``, user
and system time of this process: the work done, page faults included, without the time spent waiting for a
core while other jobs run; meaningful with one intra-op thread, since waiting OpenMP threads spin)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def interleaved_medians(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device, warmup: int = 1, clock: str = "wall"
) -> dict[str, float]:
    """Median time in seconds of each ``fns[name]()``; the order rotates from one repeat to the next."""
    return {name: statistics.median(ts) for name, ts in interleaved_times(fns, repeats, device, warmup, clock).items()}


def interleaved_times(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device, warmup: int = 1, clock: str = "wall"
) -> dict[str, list[float]]:
    """All ``repeats`` times in seconds of each ``fns[name]()``, interleaved as :func:`interleaved_medians`."""
    now = CLOCKS[clock]
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            synchronize(device)
            start = now()
            result = fns[name]()
            synchronize(device)
            times[name].append(now() - start)
            del result
    return times


def forward_backward(loss_fn: Callable, x: torch.Tensor, target: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A closure: the loss of fresh leaf logits ``x`` and its backward; returns the gradient."""

    def run() -> torch.Tensor:
        leaf = x.detach().requires_grad_()
        loss_fn(leaf, target).backward()
        return leaf.grad

    return run


def floor_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The issue's floor: ``(sigmoid(x) * y).sum()``, one read of logits and target, one gradient write.
    A label target ``(B, 1, ...)`` broadcasts over the channels."""
    return (torch.sigmoid(x) * target).sum()
