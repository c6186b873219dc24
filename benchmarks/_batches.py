"""Synthetic batches shaped like the bundle's two problems, with realistic class imbalance.

- BraTS-like, sigmoid: logits ``(B, 3, *spatial)`` and float targets of the nested regions TC within WT and ET
  within TC (about 6 %, 2 % and 0.7 % of the voxels), each channel its own binary problem.
- KiTS-like, softmax: logits ``(B, 3, *spatial)`` and float labels ``(B, 1, *spatial)`` (0 background,
  1 kidney about 3 %, 2 tumour about 0.7 %), as a MONAI data loader delivers them.

The logits look like those of a half-trained network: the right sign on most voxels, with noise.
"""

from __future__ import annotations

import torch


def _ball(spatial: tuple[int, ...], centre: torch.Tensor, radius: float) -> torch.Tensor:
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float32) / n for n in spatial], indexing="ij")
    dist2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return dist2 <= radius**2


def _logits(onehot: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return 3.0 * (2 * onehot - 1) + 2.0 * torch.randn(onehot.shape, generator=gen)


def brats_like(batch: int, spatial: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, target), both ``(batch, 3, *spatial)`` float32; channels TC, WT, ET."""
    gen = torch.Generator().manual_seed(seed)
    targets = []
    for _ in range(batch):
        centre = 0.35 + 0.3 * torch.rand(len(spatial), generator=gen)
        wt, tc, et = _ball(spatial, centre, 0.24), _ball(spatial, centre, 0.17), _ball(spatial, centre, 0.12)
        et = et & ~_ball(spatial, centre, 0.08)  # enhancing rim around a necrotic core
        targets.append(torch.stack([tc, wt, et]))
    target = torch.stack(targets).float()
    return _logits(target, gen), target


def kits_like(batch: int, spatial: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits ``(batch, 3, *spatial)``, float labels ``(batch, 1, *spatial)``); 0 background, 1 kidney, 2 tumour."""
    gen = torch.Generator().manual_seed(seed)
    labels = []
    for _ in range(batch):
        lab = torch.zeros(spatial)
        for side in (0.3, 0.7):
            centre = torch.full((len(spatial),), 0.5)
            centre[-1] = side
            centre += 0.05 * torch.randn(len(spatial), generator=gen)
            lab[_ball(spatial, centre, 0.17)] = 1
        tumour_centre = centre + 0.08
        lab[_ball(spatial, tumour_centre, 0.11)] = 2
        labels.append(lab)
    label = torch.stack(labels)[:, None]
    onehot = torch.cat([label == k for k in range(3)], 1).float()
    return _logits(onehot, gen), label


def class_fractions(target: torch.Tensor, labels: bool) -> list[float]:
    """Fraction of voxels per channel (one-hot / regions) or per label value."""
    if labels:
        return [float((target == k).float().mean()) for k in range(int(target.max()) + 1)]
    return [float(v) for v in target.float().mean((0, *range(2, target.ndim)))]
