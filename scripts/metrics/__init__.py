"""BraTS evaluation metrics with the official package's per-region convention."""

from .brats_convention import BRATS_HD95_MISSING, brats_dice, brats_hd95
from .region_metric import BraTSDice, BraTSHD95, BraTSRegionMetric

__all__ = ["BRATS_HD95_MISSING", "BraTSDice", "BraTSHD95", "BraTSRegionMetric", "brats_dice", "brats_hd95"]
