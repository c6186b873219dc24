"""Class-imbalance segmentation losses, each exact to its paper (see docs/losses.md).

Import a loss as ``scripts.losses.<Name>`` or build one by catalogue name with
``scripts.losses.build_loss(name, **overrides)``.
"""

# ruff: noqa: F401  (this module re-exports the package's public names)

from .catalogue import LOSSES, LossSpec, build_loss
from .dice_two_class import DiceTwoClassLoss
from .focal_dice import FocalDiceLoss
from .focal_tversky import FocalTverskyLoss
from .monai_checked import CheckedDiceLoss, CheckedFocalLoss, CheckedGeneralizedDiceLoss, CheckedTverskyLoss
from .sensitivity_specificity import SensitivitySpecificityLoss
