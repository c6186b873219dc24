"""Per-voxel terms and per-(b, c) formulas shared by the compound losses: cross-entropies, region sums, soft Dice."""

from __future__ import annotations

import torch

from ._base import safe_pow


def binary_ce(logp: torch.Tensor, log1mp: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Per voxel and channel ``-(g log p + (1 - g) log(1 - p))``."""
    return -(g * logp + (1 - g) * log1mp)


def categorical_ce(logp: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Per voxel ``-sum_c g_c log p_c``, shape ``(B, 1, *spatial)``."""
    return -(g * logp).sum(1, keepdim=True)


def region_sums(p: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(TP, sum p, sum g)`` over the last (voxel) axis of a slice ``(B, K, n)``."""
    return (p * g).sum(-1), p.sum(-1), g.sum(-1)


def dice_from(
    tp: torch.Tensor, sum_p: torch.Tensor, sum_g: torch.Tensor, smooth_nr: float, smooth_dr: float
) -> torch.Tensor:
    """Soft Dice coefficient from the region sums (MONAI's form): ``(2 TP + s_nr) / (sum p + sum g + s_dr)``."""
    return (2 * tp + smooth_nr) / (sum_p + sum_g + smooth_dr)


def pow_tiny_floor(base: torch.Tensor, exponent: float) -> torch.Tensor:
    """``base ** exponent`` for ``base >= 0``; for ``exponent < 1`` the base is floored at the dtype's smallest
    normal number, so the value is exact to ~1e-11 while value and gradient stay finite at ``base = 0``.

    Used where the base is computed without cancellation (``-log p`` from logits, ``1 - mTI`` from FN and FP),
    so that bases far below ``POW_EPS`` are real and a ``1e-7`` floor would visibly change the value."""
    return safe_pow(base, exponent, eps=torch.finfo(base.dtype).tiny)


def pow_tiny_floor_(base: torch.Tensor, exponent: float) -> torch.Tensor:
    """:func:`pow_tiny_floor` in place on ``base`` (a fresh temporary, no autograd)."""
    if exponent < 1:
        base.clamp_min_(torch.finfo(base.dtype).tiny)
    return base.pow_(exponent)


def d_pow_tiny_floor_(base: torch.Tensor, exponent: float) -> torch.Tensor:
    """The derivative of :func:`pow_tiny_floor` w.r.t. ``base``, in place on ``base`` (a fresh temporary):
    ``exponent * base^(exponent - 1)``, zero where the floor is active (``torch.clamp_min`` passes gradient
    where ``base >= tiny``)."""
    if exponent >= 1:
        return base.pow_(exponent - 1).mul_(exponent)
    tiny = torch.finfo(base.dtype).tiny
    above = torch.empty_like(base)
    torch.ge(base, tiny, out=above)
    return base.clamp_min_(tiny).pow_(exponent - 1).mul_(above).mul_(exponent)


def is_binary(g: torch.Tensor, ng: torch.Tensor) -> bool:
    """Whether every target value of a slice is 0 or 1 (``g (1 - g) = 0``; ``ng = 1 - g``): then a per-channel
    binary loss needs, at each voxel, the term of that voxel's label only. CPU only (False elsewhere): on CUDA
    the answer would cost a device synchronisation per slice."""
    if g.device.type != "cpu":
        return False
    return not bool((g * ng).sum())  # a sum of non-negative values (torch.any on floats is 4x slower)


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum_x a b`` over the last (voxel) axis."""
    return (a * b).sum(-1)


# Above this, ``softplus(x) = x`` exactly in float32 and float64 (torch's default of 20 is ~1e-10 off in float64)
SOFTPLUS_THRESHOLD = 40.0
