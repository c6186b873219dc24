"""MONAI dictionary transforms the bundle's configs need beyond MONAI's own: label conventions to regions/classes
and back, the case name that names each prediction file, the distance / instance / skeleton maps of the map
losses, and the full-resolution output of a deeply supervised network."""

from .brats_labels import BRATS_CLASSES, ClassesToLabeld, LabelToClassesd, classes_to_label, label_to_classes
from .brats_regions import LabelToRegionsd, RegionsToLabeld, label_to_regions, regions_to_label
from .case_names import CaseToMetad, case_name_formatter
from .deep_supervision import FullResolutiond
from .kits_labels import KiTSLabelsd, kits_labels
from .maps import (
    ConnectedComponentsd,
    RemoveMapsd,
    SignedDistanced,
    TubedSkeletond,
    loss_map_channels,
    loss_map_transforms,
)

__all__ = [
    "BRATS_CLASSES",
    "CaseToMetad",
    "ClassesToLabeld",
    "ConnectedComponentsd",
    "FullResolutiond",
    "KiTSLabelsd",
    "LabelToClassesd",
    "LabelToRegionsd",
    "RegionsToLabeld",
    "RemoveMapsd",
    "SignedDistanced",
    "TubedSkeletond",
    "case_name_formatter",
    "classes_to_label",
    "kits_labels",
    "label_to_classes",
    "label_to_regions",
    "loss_map_channels",
    "loss_map_transforms",
    "regions_to_label",
]
