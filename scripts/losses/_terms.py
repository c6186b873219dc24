"""Per-voxel and per-(b, c) terms shared by the compound losses: cross-entropies, soft Dice, voxel means."""

from __future__ import annotations

import torch

from ._base import region_stats, safe_pow


def voxel_mean(t: torch.Tensor, batch: bool = False) -> torch.Tensor:
    """Mean of a per-voxel term ``(B, K, *spatial)`` over the voxels: ``(B, K)``, or ``(1, K)`` over the batch
    too when ``batch=True``."""
    m = t.flatten(2).mean(2)
    return m.mean(0, keepdim=True) if batch else m


def binary_ce(logp: torch.Tensor, log1mp: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Per voxel and channel ``-(g log p + (1 - g) log(1 - p))``."""
    return -(g * logp + (1 - g) * log1mp)


def categorical_ce(logp: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Per voxel ``-sum_c g_c log p_c``, shape ``(B, 1, *spatial)``."""
    return -(g * logp).sum(1, keepdim=True)


def soft_dice(p: torch.Tensor, g: torch.Tensor, batch: bool, smooth_nr: float, smooth_dr: float) -> torch.Tensor:
    """Soft Dice coefficient per (b, c), MONAI's form: ``(2 TP + smooth_nr) / (sum p + sum g + smooth_dr)``."""
    tp, sum_p, sum_g = region_stats(p, g, batch)
    return (2 * tp + smooth_nr) / (sum_p + sum_g + smooth_dr)


def pow_tiny_floor(base: torch.Tensor, exponent: float) -> torch.Tensor:
    """``base ** exponent`` for ``base >= 0``; for ``exponent < 1`` the base is floored at the dtype's smallest
    normal number, so the value is exact to ~1e-11 while value and gradient stay finite at ``base = 0``.

    Used where the base is computed without cancellation (``-log p`` from logits, ``1 - mTI`` from FN and FP),
    so that bases far below ``POW_EPS`` are real and a ``1e-7`` floor would visibly change the value."""
    return safe_pow(base, exponent, eps=torch.finfo(base.dtype).tiny)
