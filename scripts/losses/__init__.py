"""Class-imbalance segmentation losses, each its paper's formula (see docs/losses.md).

Import a loss as ``scripts.losses.<Name>`` or build one by catalogue name with
``scripts.losses.build_loss(name, **overrides)``. ``DiceLoss``, ``GeneralizedDiceLoss``, ``TverskyLoss``,
``FocalLoss``, ``DiceCELoss`` and ``DiceFocalLoss`` are drop-ins for MONAI's classes of the same names.
"""

# ruff: noqa: F401  (this module re-exports the package's public names)

from ._checks import LossInputError
from .catalogue import LOSSES, LossSpec, build_loss
from .combo import ComboLoss
from .cross_entropy import CrossEntropyLoss
from .dice import DiceLoss
from .dice_ce import DiceCELoss
from .dice_focal import DiceFocalLoss
from .dice_two_class import DiceTwoClassLoss
from .exp_log import ExpLogLoss
from .focal import FocalLoss
from .focal_dice import FocalDiceLoss
from .focal_tversky import FocalTverskyLoss
from .generalized_dice import GeneralizedDiceLoss
from .sensitivity_specificity import SensitivitySpecificityLoss
from .tversky import TverskyLoss
from .unified_focal import (
    AsymmetricFocalLoss,
    AsymmetricFocalTverskyLoss,
    AsymmetricUnifiedFocalLoss,
    SymmetricFocalLoss,
    SymmetricFocalTverskyLoss,
    SymmetricUnifiedFocalLoss,
)
from .weighted_ce import WeightedCrossEntropyLoss
