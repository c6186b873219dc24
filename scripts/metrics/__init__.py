"""Evaluation metrics: the official BraTS per-region scores (``brats_region_scores``, ``brats_region_metric``);
KiTS19 regions (``kits_*``)."""

from .brats_region_metric import BraTSDice, BraTSHD95, BraTSRegionMetric
from .brats_region_scores import BRATS_HD95_MISSING, brats_dice, brats_hd95
from .kits_region_metric import KiTSDice, KiTSHD95, KiTSRegionMetric
from .kits_region_scores import KITS_REGIONS, kits_case_metrics, kits_dice, kits_hd95

__all__ = [
    "BRATS_HD95_MISSING",
    "KITS_REGIONS",
    "BraTSDice",
    "BraTSHD95",
    "BraTSRegionMetric",
    "KiTSDice",
    "KiTSHD95",
    "KiTSRegionMetric",
    "brats_dice",
    "brats_hd95",
    "kits_case_metrics",
    "kits_dice",
    "kits_hd95",
]
