"""Evaluation metrics: the official BraTS region-wise scores (``brats_region_scores``, ``brats_region_metric``) and
lesion-wise scores (``brats_lesion_scores``, ``brats_lesion_metric``); KiTS19 regions (``kits_*``) and
KiTS23 hierarchical classes (``kits23_*``); topology scores of thin structures (``topology_scores``: clDice,
Betti-0 error)."""

from .brats_lesion_metric import BraTSLesionMetric, BraTSLesionwise, lesion_metric_handlers, lesion_report_columns
from .brats_lesion_scores import LesionScores, ReferenceLesion, brats_lesion_scores, reference_lesion_outcomes
from .brats_region_metric import (
    BraTSDice,
    BraTSHD95,
    BraTSRegionMetric,
    region_metric_handlers,
    region_report_columns,
)
from .brats_region_scores import BRATS_HD95_MISSING, brats_dice, brats_hd95
from .key_metric import choose_key_metric
from .kits23_hec_metric import KiTS23HEC, KiTS23HECMetric
from .kits23_hec_scores import KITS23_HECS, kits23_hec_scores
from .kits_region_metric import KiTSDice, KiTSHD95, KiTSRegionMetric
from .kits_region_scores import KITS_REGIONS, kits_case_metrics, kits_dice, kits_hd95
from .topology_scores import betti0, betti0_error, cldice_score, topology_precision_sensitivity

__all__ = [
    "BRATS_HD95_MISSING",
    "KITS23_HECS",
    "KITS_REGIONS",
    "KiTS23HEC",
    "KiTS23HECMetric",
    "BraTSDice",
    "BraTSLesionMetric",
    "BraTSLesionwise",
    "LesionScores",
    "ReferenceLesion",
    "BraTSHD95",
    "BraTSRegionMetric",
    "KiTSDice",
    "KiTSHD95",
    "KiTSRegionMetric",
    "brats_dice",
    "brats_lesion_scores",
    "reference_lesion_outcomes",
    "choose_key_metric",
    "brats_hd95",
    "kits23_hec_scores",
    "lesion_metric_handlers",
    "lesion_report_columns",
    "region_metric_handlers",
    "region_report_columns",
    "kits_case_metrics",
    "kits_dice",
    "kits_hd95",
    # thin structures
    "betti0",
    "betti0_error",
    "cldice_score",
    "topology_precision_sensitivity",
]
