"""MONAI metric and ignite handlers of the KiTS19 region metrics (``kits_region_scores``) over batches of label maps.

They reuse the BraTS mechanism (:class:`BraTSRegionMetric`'s NaN-aware ``aggregate``, per-case details for
``scripts.reports.CaseMetricsReport``); what differs is the input (KiTS19 label maps 0/1/2, regions built here) and
the HD95 (millimetres, with the voxel spacing read from each case's affine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.handlers import IgniteMetricHandler
from monai.utils import MetricReduction

from .brats_region_metric import BraTSRegionMetric
from .kits_region_scores import KITS_REGIONS, kits_dice, kits_hd95, kits_region_masks


def _spacings(y: torch.Tensor, batch: int, spatial: int) -> list[tuple[float, ...]]:
    if not isinstance(y, MetaTensor):
        raise ValueError(
            "the reference has no affine to read the voxel spacing from (not a MetaTensor): give spacing=..."
        )
    affine = torch.as_tensor(y.affine, dtype=torch.float64).cpu()
    affines = affine.reshape(-1, *affine.shape[-2:])
    if affines.shape[0] not in (1, batch):
        raise ValueError(f"the reference carries {affines.shape[0]} affines for a batch of {batch}")
    spacings = [tuple(float(s) for s in affine_to_spacing(a, r=spatial)) for a in affines]
    return spacings * batch if len(spacings) == 1 else spacings


class KiTSRegionMetric(BraTSRegionMetric):
    """KiTS19 Dice or HD95 for every (case, region) of a batch of label maps.

    Inputs ``y_pred`` and ``y`` are label maps in the KiTS19 classes, shape (B, 1, H, W, D) (e.g. ``AsDiscrete
    (argmax=True)`` of the network output and the reference after ``KiTSLabelsd``). The buffer holds one column
    per region of ``regions``; ``aggregate`` reduces it as :class:`BraTSRegionMetric` does (NaN entries, regions
    empty in both masks, left out).

    Args:
        kind: ``"dice"`` or ``"hd95"``.
        regions: region names of ``KITS_REGIONS`` to score, in column order (default both).
        reduction: MONAI reduction mode of ``aggregate`` (default ``"mean"``).
        spacing: voxel size per array axis for HD95; ``None`` (default) reads it from the reference's affine
            (``y`` must then be a MetaTensor), so HD95 is in millimetres in whatever space the maps are.
        get_not_nans: also return the count of non-NaN entries from ``aggregate``.

    Example:
        >>> y = torch.zeros(1, 1, 4, 4, 4); y[..., 1:3, 1:3, 1:3] = 1; y[..., 1, 1, 1] = 2
        >>> m = KiTSRegionMetric("dice", spacing=(1.0, 1.0, 1.0))
        >>> _ = m(y, y)
        >>> float(m.aggregate())
        1.0
    """

    def __init__(
        self,
        kind: str = "dice",
        regions: Sequence[str] = tuple(KITS_REGIONS),
        reduction: MetricReduction | str = MetricReduction.MEAN,
        spacing: Sequence[float] | None = None,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__(kind, reduction=reduction, spacing=spacing, get_not_nans=get_not_nans)
        regions = [regions] if isinstance(regions, str) else list(regions)
        kits_region_masks(np.zeros(1, dtype=np.int64), regions)  # ValueError naming unknown regions
        self.regions = regions

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y must have the same shape, got {tuple(y_pred.shape)} and {tuple(y.shape)}")
        if y_pred.ndim < 3 or y_pred.shape[1] != 1:
            raise ValueError(f"y_pred and y must be label maps (B, 1, spatial...), got shape {tuple(y_pred.shape)}")
        batch, spatial = y_pred.shape[0], y_pred.ndim - 2
        if self.kind == "hd95":
            spacings = [self.spacing] * batch if self.spacing is not None else _spacings(y, batch, spatial)
        out = np.empty((batch, len(self.regions)), dtype=np.float64)
        for b in range(batch):
            pred = kits_region_masks(y_pred[b, 0], self.regions, what="prediction")
            ref = kits_region_masks(y[b, 0], self.regions, what="reference")
            for c in range(len(self.regions)):
                if self.kind == "dice":
                    out[b, c] = kits_dice(pred[c], ref[c])
                else:
                    out[b, c] = kits_hd95(pred[c], ref[c], spacings[b])
        return torch.as_tensor(out, dtype=torch.float64, device=y_pred.device)


class KiTSDice(IgniteMetricHandler):
    """Ignite handler of the KiTS19 Dice (``KiTSRegionMetric("dice", regions)``); both regions: the challenge's
    mean of kidney-and-tumour and tumour Dice."""

    def __init__(
        self,
        regions: Sequence[str] = tuple(KITS_REGIONS),
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        super().__init__(
            metric_fn=KiTSRegionMetric("dice", regions=regions, reduction=reduction),
            output_transform=output_transform,
            save_details=save_details,
        )


class KiTSHD95(IgniteMetricHandler):
    """Ignite handler of the KiTS HD95 in mm (``KiTSRegionMetric("hd95", regions, spacing=spacing)``)."""

    def __init__(
        self,
        regions: Sequence[str] = tuple(KITS_REGIONS),
        reduction: MetricReduction | str = MetricReduction.MEAN,
        spacing: Sequence[float] | None = None,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        super().__init__(
            metric_fn=KiTSRegionMetric("hd95", regions=regions, reduction=reduction, spacing=spacing),
            output_transform=output_transform,
            save_details=save_details,
        )
