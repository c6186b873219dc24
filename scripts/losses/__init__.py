"""Class-imbalance segmentation losses, each its paper's formula (see docs/losses.md).

Import a loss as ``scripts.losses.<Name>`` or build one by catalogue name with
``scripts.losses.build_loss(name, **overrides)``. ``DiceLoss``, ``GeneralizedDiceLoss``, ``TverskyLoss``,
``FocalLoss``, ``DiceCELoss``, ``DiceFocalLoss``, ``GeneralizedDiceFocalLoss``, ``SoftclDiceLoss`` and
``SoftDiceclDiceLoss`` are drop-ins for MONAI's classes of the same names.
"""

# ruff: noqa: F401  (this module re-exports the package's public names)

from ._base import CompileFallbackWarning
from ._checks import LossInputError
from .asymmetric_similarity import AsymmetricSimilarityLoss
from .blob import BlobLoss
from .boundary import BoundaryLoss
from .brats_label_mode import build_label_mode_loss
from .catalogue import LOSSES, LossSpec, build_loss, map_kind, takes_maps
from .cbdice import CbDiceLoss
from .cldice import ClDiceLoss, DiceClDiceLoss
from .cldice_monai import SoftclDiceLoss, SoftDiceclDiceLoss
from .combo import ComboLoss
from .cross_entropy import CrossEntropyLoss
from .deep_supervision import DeepSupervisionLoss, deep_supervision_loss, deep_supervision_weights, downsample_target
from .dice import DiceLoss
from .dice_ce import DiceCELoss
from .dice_focal import DiceFocalLoss
from .dice_two_class import DiceTwoClassLoss
from .distance_penalized_ce import DistancePenalizedCrossEntropyLoss
from .exp_log import ExpLogLoss
from .focal import FocalLoss
from .focal_dice import FocalDiceLoss
from .focal_tversky import FocalTverskyLoss
from .gdl_boundary import GDLBoundaryLoss, rebalanced_alpha
from .generalized_dice import GeneralizedDiceLoss
from .generalized_dice_focal import GeneralizedDiceFocalLoss
from .hausdorff_dt import HausdorffDTLoss, LogHausdorffDTLoss
from .lovasz import LovaszLoss
from .mcc import MCCLoss
from .penalty_gdl import PenaltyGeneralizedDiceLoss
from .recall_ce import RecallCrossEntropyLoss
from .sensitivity_specificity import SensitivitySpecificityLoss
from .skeleton_recall import SkeletonRecallLoss
from .topk_ce import TopKCrossEntropyLoss
from .tversky import TverskyLoss
from .unified_focal import (
    AsymmetricFocalLoss,
    AsymmetricFocalTverskyLoss,
    AsymmetricUnifiedFocalLoss,
    SymmetricFocalLoss,
    SymmetricFocalTverskyLoss,
    SymmetricUnifiedFocalLoss,
)
from .wasserstein_dice import BRATS_LABEL_DISTANCES, GeneralizedWassersteinDiceLoss
from .weighted_ce import WeightedCrossEntropyLoss
