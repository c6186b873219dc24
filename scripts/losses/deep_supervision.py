"""Deep supervision: any loss of the catalogue applied at every output level of a network, nnU-Net's way."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn.modules.loss import _Loss

from ._base import plain_tensor
from ._checks import LossInputError
from ._maps import MapLoss


def deep_supervision_weights(levels: int) -> list[float]:
    """nnU-Net's weights of ``levels`` outputs, highest resolution first: ``1 / 2^i`` for ``i = 0 .. levels - 1``,
    the last (lowest resolution) set to 0, normalised to sum 1; e.g. 3 levels: ``[2/3, 1/3, 0]``, 4 levels:
    ``[4/7, 2/7, 1/7, 0]``. With 2 levels ``[1, 0]``: only the full-resolution output is trained.

    Isensee F., Jaeger P.F., Kohl S.A.A., Petersen J., Maier-Hein K.H., "nnU-Net: a self-configuring method for
    deep learning-based biomedical image segmentation", Nature Methods 18, 203-211 (2021); nnU-Net v2's
    ``nnUNetTrainer._build_loss`` (which uses ``1e-6`` instead of 0 under DDP without ``torch.compile``;
    :class:`DeepSupervisionLoss` keeps a zero-weight level in the autograd graph instead, see there)."""
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"deep supervision needs levels >= 2 (the full resolution and one more), got {levels!r}.")
    weights = [0.5**i for i in range(levels)]
    weights[-1] = 0.0
    total = sum(weights)
    return [w / total for w in weights]


def downsample_target(target: torch.Tensor, spatial_shape: Sequence[int]) -> torch.Tensor:
    """``target`` ``(B, C, *spatial)`` (labels, one-hot or region channels) sampled down to ``spatial_shape`` by
    nearest neighbour: along an axis shrunk by the whole factor ``s`` the voxel ``s * i + s // 2`` (the one
    nearest the centre of each block of ``s`` voxels; torch's ``interpolate(mode="nearest-exact")``, as nnU-Net
    v2 and MONAI's ``DeepSupervisionLoss``). Labels stay labels and one-hot stays one-hot.

    Raises:
        LossInputError: ``spatial_shape`` does not divide the target's spatial shape by whole factors.
    """
    spatial = tuple(target.shape[2:])
    shape = tuple(int(n) for n in spatial_shape)
    if len(shape) != len(spatial) or any(n < 1 or m % n for m, n in zip(spatial, shape)):
        raise LossInputError(
            f"cannot sample the target of spatial shape {spatial} down to {shape}: every axis must shrink by a "
            "whole factor."
        )
    factors = [m // n for m, n in zip(spatial, shape)]
    if all(s == 1 for s in factors):
        return target
    index = (slice(None), slice(None), *(slice(s // 2, None, s) for s in factors))
    return target[index].contiguous()


class DeepSupervisionLoss(_Loss):
    """A loss applied at every output level of a deeply supervised network, each level against the target
    sampled down to that level's own resolution, as nnU-Net (Isensee et al., Nature Methods 2021)::

        loss = sum_l w_l loss(y_l, down_l(g)),   w_l = (1 / 2^l) / sum_k (1 / 2^k) with w_{L-1} = 0

    ``y_0`` is the full-resolution output, ``y_l`` the output of decoder level ``l`` at its native resolution
    (:class:`scripts.networks.DeepSupervisionNetwork` in training mode), ``down_l`` :func:`downsample_target`
    (nearest neighbour, the voxel nearest each block's centre; not max-pooling of the one-hot target, which keeps
    structures smaller than a block but makes the mutually exclusive classes of softmax mode overlap), ``w``
    :func:`deep_supervision_weights` (nnU-Net's) or the ``weights`` given (used as given).

    **Map losses** (``boundary``, ``gdl_boundary``, ``hausdorff_dt``, ``log_hausdorff_dt``, ``blob``): level 0
    gets the target as it comes, with the maps of the transforms when the loss has ``maps_in_target=True``; at
    every lower level the maps are **recomputed** by the loss's own :meth:`MapLoss.target_maps` from the sampled
    plain target, in that level's voxel units: a level's loss is then exactly the loss of that level's output
    against that level's target, as if called with it directly. Sampled maps would not be: a distance sampled
    down and divided by the stride is not the distance of the sampled mask (the signed map's ``- 1`` inside, the
    boundary moved by the sampling), and a sampled instance map loses the components between the samples and
    leaves gaps in the numbering. The lower levels have ``1/8``, ``1/64``, ... of the voxels (3D, stride 2): the
    maps cost a fraction of the full-resolution ones, computed eagerly on the target's device.

    **Where it matches and differs.** nnU-Net v2 (``nnunetv2/training/loss/deep_supervision.py``
    ``DeepSupervisionWrapper`` with the weights of ``nnUNetTrainer._build_loss``; targets sampled down by its data
    loader, ``DownsampleSegForDSTransform``, nearest neighbour): same weights, same sampling of the labels. It
    computes a zero-weight level's loss too; under DDP it sets that weight to ``1e-6``, since a head outside the
    autograd graph makes DDP fail. Here a zero-weight level adds ``0 * mean(y_l)`` instead: its head stays in the
    graph (gradient 0, DDP is satisfied) and its loss, maps included, is not computed. MONAI 1.6.1's
    ``DeepSupervisionLoss``: unnormalised weights (``"exp"``: ``max(0.5^l, 1/16)``, no zero), and it samples the
    whole target (maps included) with ``interpolate``. MONAI's ``DynUNet(deep_supervision=True)`` returns its
    heads interpolated *up* to full resolution, stacked on dim 1: not what this loss takes (one output per
    level at its own resolution).

    Args:
        loss: the loss of every level, e.g. ``build_loss("dice", sigmoid=True)``; its reduction must give the
            same shape at every level (``"mean"``, ``"sum"``, or a per-``(b, c)`` ``"none"``).
        levels: the number of outputs the network gives (>= 2); ``None``: that of ``weights``, or whatever the
            network returns (nnU-Net's weights for that count).
        weights: one weight per level, >= 0, highest resolution first, used as given; ``None``: nnU-Net's
            (:func:`deep_supervision_weights`).

    Shapes: ``input`` a list or tuple of ``L`` tensors ``(B, C, *spatial_l)``, ``spatial_0`` the target's and
    every ``spatial_l`` dividing it by whole factors; ``target`` as the wrapped loss takes it at full resolution
    (``(B, 1, *spatial)`` labels, ``(B, C, *spatial)``, plus the map channels with ``maps_in_target=True``).

    Example:
        >>> from scripts.losses import build_loss
        >>> loss = DeepSupervisionLoss(build_loss("dice", softmax=True, to_onehot_y=True), levels=3)
        >>> loss.weights  # nnU-Net's: [2/3, 1/3, 0]
        (0.6666666666666666, 0.3333333333333333, 0.0)
        >>> outputs = [torch.randn(2, 3, 16, 16, 16), torch.randn(2, 3, 8, 8, 8), torch.randn(2, 3, 4, 4, 4)]
        >>> loss(outputs, torch.randint(0, 3, (2, 1, 16, 16, 16))).shape
        torch.Size([])
    """

    def __init__(self, loss: _Loss, levels: int | None = None, weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not callable(loss):
            raise ValueError(f"loss must be a loss module (callable), got {type(loss).__name__}.")
        self.loss = loss
        if weights is not None:
            values = tuple(float(w) for w in weights)
            if len(values) < 1 or not all(math.isfinite(w) and w >= 0 for w in values) or sum(values) <= 0:
                raise ValueError(f"weights must be finite numbers >= 0, not all 0, got {list(weights)!r}.")
            if levels is not None and levels != len(values):
                raise ValueError(f"levels={levels!r} but {len(values)} weights given: one weight per level.")
            self.weights: tuple[float, ...] | None = values
        elif levels is not None:
            self.weights = tuple(deep_supervision_weights(levels))
        else:
            self.weights = None

    @property
    def levels(self) -> int | None:
        return None if self.weights is None else len(self.weights)

    def level_weights(self, n: int) -> tuple[float, ...]:
        if self.weights is None:
            if n < 2:
                raise LossInputError(f"deep supervision needs 2 or more outputs (levels), got {n}.")
            return tuple(deep_supervision_weights(n))
        if n != len(self.weights):
            raise LossInputError(
                f"the network gave {n} output level(s), the loss expects {len(self.weights)} (one per weight): "
                "set the network's and the loss's number of levels alike (deep_supervision_levels)."
            )
        return self.weights

    def check_levels(self, outputs: Sequence[torch.Tensor], target: torch.Tensor) -> None:
        first = outputs[0]
        for level, y in enumerate(outputs):
            if not isinstance(y, torch.Tensor):
                raise LossInputError(f"output level {level} is a {type(y).__name__}, not a tensor.")
            if y.ndim != target.ndim or y.ndim < 3:
                raise LossInputError(
                    f"output level {level} has shape {tuple(y.shape)}, the target {tuple(target.shape)}: every "
                    "level must be (B, C, *spatial) with the target's number of spatial dims."
                )
            if y.shape[:2] != first.shape[:2]:
                raise LossInputError(
                    f"output level {level} has batch and channels {tuple(y.shape[:2])}, level 0 "
                    f"{tuple(first.shape[:2])}: every level must have the same."
                )
        if first.shape[2:] != target.shape[2:]:
            raise LossInputError(
                f"output level 0 (the full resolution) has spatial shape {tuple(first.shape[2:])}, the target "
                f"{tuple(target.shape[2:])}: pass the levels highest resolution first."
            )
        for level, y in enumerate(outputs[1:], start=1):
            if any(n < 1 or m % n for m, n in zip(target.shape[2:], y.shape[2:])):
                raise LossInputError(
                    f"output level {level} has spatial shape {tuple(y.shape[2:])}, which does not divide the "
                    f"target's {tuple(target.shape[2:])} by whole factors."
                )

    def forward(self, input: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, (list, tuple)):
            shape = f" of shape {tuple(input.shape)}" if isinstance(input, torch.Tensor) else ""
            raise LossInputError(
                f"DeepSupervisionLoss takes the network's outputs as a list or tuple, highest resolution first "
                f"(scripts.networks.DeepSupervisionNetwork in training mode), got a {type(input).__name__}{shape}."
            )
        if not isinstance(target, torch.Tensor):
            raise LossInputError(f"target must be a tensor, got {type(target).__name__}.")
        outputs = [plain_tensor(y) for y in input]
        target = plain_tensor(target)
        weights = self.level_weights(len(outputs))
        self.check_levels(outputs, target)
        maps_in_target = isinstance(self.loss, MapLoss) and self.loss.maps_in_target
        plain = self.loss.split_maps(outputs[0], target)[0] if maps_in_target else target
        terms = []
        for level, (y, w) in enumerate(zip(outputs, weights)):
            if w == 0:
                terms.append(y.float().mean() * 0.0)  # the head stays in the graph (DDP); no loss computed
                continue
            if level == 0:
                t = target
            else:
                t = downsample_target(plain, y.shape[2:])
                if maps_in_target:
                    maps = self.loss.target_maps(y.float() if y.dtype != torch.float64 else y, t)
                    t = torch.cat([t.to(maps.dtype), maps], dim=1)
            value = self.loss(y, t)
            terms.append(w * value)
        shapes = {tuple(t.shape) for t in terms if t.ndim}
        if len(shapes) > 1:
            raise LossInputError(
                f"the loss gives values of different shapes at the levels ({sorted(shapes)}): use a reduction that "
                "gives one shape at every level (mean, sum, or per (b, c))."
            )
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total


def deep_supervision_loss(
    loss: _Loss, enabled: bool = True, levels: int | None = None, weights: Sequence[float] | None = None
) -> _Loss:
    """``DeepSupervisionLoss(loss, levels, weights)`` when ``enabled``, else ``loss`` itself: the bundle's
    ``train_loss`` (``--deep_supervision True``)."""
    if isinstance(enabled, str):
        enabled = enabled.strip().lower() in ("1", "true", "yes")
    return DeepSupervisionLoss(loss, levels=levels, weights=weights) if enabled else loss
