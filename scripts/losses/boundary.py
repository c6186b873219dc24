"""Boundary loss (Kervadec et al. 2019 / 2021)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._maps import MapLoss


class BoundaryLoss(MapLoss):
    """Boundary loss: the predicted probabilities weighted by the signed distance to the target's boundary.

    Kervadec H., Bouchtiba J., Desrosiers C., Granger E., Dolz J., Ben Ayed I., "Boundary loss for highly
    unbalanced segmentation", MIDL 2019 (Medical Image Analysis 67, 2021), eq. 5; as the authors' code
    (``LIVIAETS/boundary-loss``, ``SurfaceLoss`` and ``one_hot2dist``). Per ``(b, c)``::

        loss = mean_x p_c(x) phi_c(x)
        phi_c = d_out outside the target, -(d_in - 1) inside, 0 for an empty or full channel

    ``phi`` is :func:`scripts.losses._maps.boundary_distances` (signed) of ``g_c > 0.5`` in voxel units (the
    bundle computes it on the workers with :class:`scripts.transforms.SignedDistanced` and passes it with
    ``maps_in_target=True``). The loss is minimal (negative) when the prediction fills exactly the target.
    The paper applies it to the foreground classes only (``idc=[1]``): in softmax mode pass
    ``include_background=False`` (``build_loss("boundary", softmax=True)`` does, so the bundle's KiTS config
    does); sigmoid channels are all foreground. It is
    used with a region loss (``gdl_boundary``); alone it may collapse to an empty prediction.

    Args:
        maps_in_target: the target carries the ``C`` signed maps after the plain target (``docs/losses.md``).
        Others as :class:`scripts.losses._base.SegmentationLoss` (``batch=True`` averages over the batch too).

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``, plus ``C`` map channels with ``maps_in_target=True``; ``reduction="none"`` gives
    ``(B, C)`` (``(1, C)`` with ``batch=True``), without channel 0 when ``include_background=False``.

    Example:
        >>> loss = BoundaryLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    map_kind = "signed"

    def __init__(
        self,
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

    def formula(self, input: torch.Tensor, target: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        p = self.kept(self.probabilities(input))
        return self.voxel_sum(p * self.kept(phi)) / self.voxel_count(p)
