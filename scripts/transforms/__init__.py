"""MONAI dictionary transforms the bundle's configs need beyond MONAI's own: label conventions to regions/classes
and back, and the case name that names each prediction file."""

from .brats_regions import LabelToRegionsd, RegionsToLabeld, label_to_regions, regions_to_label
from .case_names import CaseToMetad, case_name_formatter
from .kits_labels import KiTSLabelsd, kits_labels

__all__ = [
    "CaseToMetad",
    "KiTSLabelsd",
    "LabelToRegionsd",
    "RegionsToLabeld",
    "case_name_formatter",
    "kits_labels",
    "label_to_regions",
    "regions_to_label",
]
