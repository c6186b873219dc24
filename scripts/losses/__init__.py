"""Class-imbalance segmentation losses, each exact to its paper (see docs/losses.md).

Import a loss as ``scripts.losses.<Name>`` or build one by catalogue name with
``scripts.losses.build_loss(name, **overrides)``.
"""

# ruff: noqa: F401  (this module re-exports the package's public names)

from .bce_dice import BCEDiceLoss
from .catalogue import LOSSES, LossSpec, build_loss
from .combo import ComboLoss
from .cross_entropy import CrossEntropyLoss
from .dice_focal import DiceFocalLoss
from .dice_two_class import DiceTwoClassLoss
from .exp_log import ExpLogLoss
from .focal_dice import FocalDiceLoss
from .focal_tversky import FocalTverskyLoss
from .monai_checked import CheckedDiceLoss, CheckedFocalLoss, CheckedGeneralizedDiceLoss, CheckedTverskyLoss
from .sensitivity_specificity import SensitivitySpecificityLoss
from .unified_focal import (
    AsymmetricFocalLoss,
    AsymmetricFocalTverskyLoss,
    AsymmetricUnifiedFocalLoss,
    SymmetricFocalLoss,
    SymmetricFocalTverskyLoss,
    SymmetricUnifiedFocalLoss,
)
from .weighted_ce import WeightedCrossEntropyLoss
