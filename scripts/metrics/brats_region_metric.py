"""MONAI metric and ignite handlers that apply the official BraTS per-region scores to batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from monai.handlers import IgniteMetricHandler
from monai.metrics import CumulativeIterationMetric
from monai.metrics.utils import do_metric_reduction
from monai.utils import MetricReduction

from .brats_region_scores import BRATS_HD95_MISSING, brats_dice, brats_hd95

_KINDS = ("dice", "hd95")


class BraTSRegionMetric(CumulativeIterationMetric):
    """Official BraTS Dice or HD95 (see ``brats_region_scores``) for every (case, region channel) of a batch.

    Inputs are binary region masks of shape (B, C, H, W[, D]) (e.g. TC/WT/ET after thresholding); each channel
    is one region. ``aggregate`` reduces the (cases, C) buffer with MONAI's ``do_metric_reduction``, which leaves
    out NaN entries (both masks empty, as the official summary does).

    Args:
        kind: ``"dice"`` or ``"hd95"``.
        reduction: MONAI reduction mode of ``aggregate`` (default ``"mean"``: per-case mean over the regions
            with a value, then the mean over cases).
        spacing: voxel size for HD95; ``None`` measures in voxels, as the official package.
        no_overlap_value: HD95 when a region has no overlap but is not empty in both masks (official 373).
        get_not_nans: also return the count of non-NaN entries from ``aggregate``.

    Example:
        >>> m = BraTSRegionMetric("dice")
        >>> _ = m(torch.ones(1, 3, 4, 4, 4), torch.ones(1, 3, 4, 4, 4))
        >>> float(m.aggregate())
        1.0
    """

    def __init__(
        self,
        kind: str = "dice",
        reduction: MetricReduction | str = MetricReduction.MEAN,
        spacing: Sequence[float] | None = None,
        no_overlap_value: float = BRATS_HD95_MISSING,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        self.kind = kind
        self.reduction = reduction
        self.spacing = spacing
        self.no_overlap_value = no_overlap_value
        self.get_not_nans = get_not_nans

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y must have the same shape, got {tuple(y_pred.shape)} and {tuple(y.shape)}")
        if y_pred.ndim < 3:
            raise ValueError(f"y_pred must be (B, C, spatial...), got shape {tuple(y_pred.shape)}")
        pred = y_pred.detach().cpu().numpy() > 0.5
        ref = y.detach().cpu().numpy() > 0.5
        out = np.empty(pred.shape[:2], dtype=np.float64)
        for b in range(pred.shape[0]):
            for c in range(pred.shape[1]):
                if self.kind == "dice":
                    out[b, c] = brats_dice(pred[b, c], ref[b, c])
                else:
                    out[b, c] = brats_hd95(pred[b, c], ref[b, c], self.spacing, self.no_overlap_value)
        return torch.as_tensor(out, dtype=torch.float64, device=y_pred.device)

    def aggregate(self, reduction: MetricReduction | str | None = None):
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"the metric buffer must be a tensor, got {type(data).__name__}")
        f, not_nans = do_metric_reduction(data.clone(), reduction or self.reduction)
        # do_metric_reduction reports 0 where every entry is NaN; keep NaN: "no region to score" is not a score
        f = torch.where(not_nans > 0, f, torch.full_like(f, float("nan")))
        return (f, not_nans) if self.get_not_nans else f


class BraTSDice(IgniteMetricHandler):
    """Ignite handler of the official BraTS global Dice per region (``BraTSRegionMetric("dice")``)."""

    def __init__(
        self,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        super().__init__(
            metric_fn=BraTSRegionMetric("dice", reduction=reduction),
            output_transform=output_transform,
            save_details=save_details,
        )


class BraTSHD95(IgniteMetricHandler):
    """Ignite handler of the official BraTS global HD95 per region (``BraTSRegionMetric("hd95")``)."""

    def __init__(
        self,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        spacing: Sequence[float] | None = None,
        no_overlap_value: float = BRATS_HD95_MISSING,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        super().__init__(
            metric_fn=BraTSRegionMetric(
                "hd95", reduction=reduction, spacing=spacing, no_overlap_value=no_overlap_value
            ),
            output_transform=output_transform,
            save_details=save_details,
        )


def region_metric_handlers(regions: Sequence[str]) -> dict[str, IgniteMetricHandler]:
    """``{"val_dice_<region>": BraTSDice, "val_hd95_<region>": BraTSHD95}`` for the evaluator's
    ``additional_metrics``, scoring the postprocessed ``pred_<region>`` / ``label_<region>`` of each region."""
    from monai.handlers import from_engine

    handlers: dict[str, IgniteMetricHandler] = {}
    for kind, cls in (("dice", BraTSDice), ("hd95", BraTSHD95)):
        for region in regions:
            handlers[f"val_{kind}_{region}"] = cls(output_transform=from_engine([f"pred_{region}", f"label_{region}"]))
    return handlers


def region_report_columns(regions: Sequence[str]) -> dict[str, str]:
    """``{"dice_<region>": "val_dice_<region>", "hd95_<region>": "val_hd95_<region>"}``: the report columns of
    :func:`region_metric_handlers`."""
    return {f"{kind}_{region}": f"val_{kind}_{region}" for kind in ("dice", "hd95") for region in regions}
