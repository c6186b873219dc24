"""Hausdorff distance losses, distance-transform form (Karimi & Salcudean 2019)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_range
from ._maps import MapLoss, batch_maps


class HausdorffDTLoss(MapLoss):
    """Hausdorff distance loss, distance-transform form: the squared error weighted by the distances of each
    voxel to the boundaries of the target and of the prediction.

    Karimi D., Salcudean S.E., "Reducing the Hausdorff distance in medical image segmentation with
    convolutional neural networks", IEEE TMI 39(2), 2019, eq. 8 (``Loss_DT``). Per ``(b, c)``::

        loss = mean_x (p - g)^2 (d_p^alpha + d_g^alpha),   alpha = 2

    ``d_g`` is the distance of each voxel to the target's boundary (``d_in`` inside, ``d_out`` outside, 0 for an
    empty or full channel: :func:`scripts.losses._maps.boundary_distances` (unsigned) of ``g > 0.5``, voxel units; the
    bundle computes it on the workers with ``SignedDistanced(signed=False)`` and passes it with
    ``maps_in_target=True``). ``d_p`` is the same of the prediction ``p > 0.5``, computed every step from the
    detached prediction (it is not differentiated, as in the paper and MONAI). Equal to MONAI 1.6.1's
    ``HausdorffDTLoss`` (which computes both maps every step; tested), also in 1D and with probabilities.

    Where ``d_p`` is computed: on a CUDA input, on the GPU by MONAI's ``distance_transform_edt`` (cuCIM) where
    cuCIM and cupy are installed (``scripts.losses._maps.gpu_distances()``), with no copy to the host; without
    them the prediction's masks go to the host, scipy computes ``d_p`` and it comes back (a device-to-host round
    trip every step, seconds per 128^3 batch: install cuCIM for GPU training). On the CPU: ``edt`` where
    installed (a bundle dependency), else scipy.

    Args:
        alpha: the distances' exponent, >= 0 (the paper: 2).
        maps_in_target: the target carries the ``C`` unsigned maps ``d_g`` after the plain target.
        Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)`` (plus ``C`` map channels with ``maps_in_target=True``); ``reduction="none"`` gives
    ``(B, C)`` (``(1, C)`` with ``batch=True``).

    Example:
        >>> loss = HausdorffDTLoss(sigmoid=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 2, (2, 3, 8, 8, 8))).shape
        torch.Size([])
    """

    map_kind = "unsigned"

    def __init__(
        self,
        alpha: float = 2.0,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        batch: bool = False,
        *,
        maps_in_target: bool = False,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, batch=batch, compile=compile, maps_in_target=maps_in_target)
        self.alpha = check_range("alpha", alpha, low=0.0)

    def extra_inputs(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.no_grad():
            return (batch_maps(self.probabilities(input) > 0.5, "unsigned").to(input.dtype),)

    def formula(self, input: torch.Tensor, target: torch.Tensor, d_g: torch.Tensor, d_p: torch.Tensor):
        p, g = self.activated(input, target)
        weight = self.kept(d_p).pow(self.alpha) + self.kept(d_g).pow(self.alpha)
        return self.voxel_sum((p - g) ** 2 * weight) / self.voxel_count(p)


class LogHausdorffDTLoss(HausdorffDTLoss):
    """The logarithm of the Hausdorff DT loss, per ``(b, c)``: ``log(1 + HausdorffDT_bc)``, which compresses the
    large values of early training. Karimi & Salcudean, IEEE TMI 2019 (the loss of eq. 8); arguments and shapes
    as :class:`HausdorffDTLoss`. MONAI 1.6.1's ``LogHausdorffDTLoss`` takes the log after its reduction
    (``log(1 + mean_bc HD_bc)``); ours takes it per ``(b, c)``, so that ``reduction="none"`` gives the values
    whose mean is the loss, as every loss of the package. Both agree for one sample and channel (tested).

    Example:
        >>> loss = LogHausdorffDTLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 1, 8, 8))).shape
        torch.Size([])
    """

    def formula(self, input: torch.Tensor, target: torch.Tensor, d_g: torch.Tensor, d_p: torch.Tensor):
        return torch.log1p(super().formula(input, target, d_g, d_p))
