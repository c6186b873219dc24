"""MONAI dictionary transforms the bundle's configs need beyond MONAI's own: label conventions to regions/classes
and back."""

from .brats_regions import LabelToRegionsd, RegionsToLabeld, label_to_regions, regions_to_label
from .kits_labels import KiTSLabelsd, kits_labels

__all__ = ["KiTSLabelsd", "LabelToRegionsd", "RegionsToLabeld", "kits_labels", "label_to_regions", "regions_to_label"]
