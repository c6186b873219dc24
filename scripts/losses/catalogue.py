"""The loss catalogue: every loss by name, with its paper's defaults (see docs/losses.md).

``LOSSES[name]`` is a :class:`LossSpec`; ``build_loss(name, **overrides)`` builds the loss. Activation flags
are one group: passing any of ``sigmoid``, ``softmax``, ``other_act`` replaces the spec's default mode, so
every name builds with ``build_loss(name, sigmoid=True)`` (multi-label, e.g. BraTS regions) and with
``build_loss(name, softmax=True, to_onehot_y=True)`` (multi-class labels, e.g. KiTS19).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from torch.nn.modules.loss import _Loss

from ._maps import MapLoss
from .asymmetric_similarity import AsymmetricSimilarityLoss
from .boundary import BoundaryLoss
from .cbdice import CbDiceLoss
from .cldice import ClDiceLoss, DiceClDiceLoss
from .combo import ComboLoss
from .cross_entropy import CrossEntropyLoss
from .dice import DiceLoss
from .dice_ce import DiceCELoss
from .dice_focal import DiceFocalLoss
from .dice_two_class import DiceTwoClassLoss
from .distance_penalized_ce import DistancePenalizedCrossEntropyLoss
from .exp_log import ExpLogLoss
from .focal import FocalLoss
from .focal_dice import FocalDiceLoss
from .focal_tversky import FocalTverskyLoss
from .gdl_boundary import GDLBoundaryLoss
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
from .wasserstein_dice import GeneralizedWassersteinDiceLoss
from .weighted_ce import WeightedCrossEntropyLoss

ACTIVATION_KEYS = ("sigmoid", "softmax", "other_act")


@dataclass(frozen=True)
class LossSpec:
    """A catalogue entry: the class, its paper's defaults (``softmax_defaults``: those that differ in softmax
    mode), the citation, and whether the class is a drop-in for MONAI's class of the same name."""

    cls: type[_Loss]
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)
    monai: bool = False
    softmax_defaults: dict[str, Any] = field(default_factory=dict)


LOSSES: dict[str, LossSpec] = {
    # --- region losses: the drop-ins for MONAI's classes, which are exact ---
    "dice": LossSpec(DiceLoss, "Milletari et al., V-Net, 3DV 2016 (Dice with linear denominator)", monai=True),
    "dice_squared": LossSpec(
        DiceLoss, "Milletari et al., V-Net, 3DV 2016 (squared denominator)", {"squared_pred": True}, monai=True
    ),
    "iou": LossSpec(DiceLoss, "Rahman & Wang, ISVC 2016", {"jaccard": True}, monai=True),
    "tversky": LossSpec(TverskyLoss, "Salehi et al., MLMI 2017", {"alpha": 0.3, "beta": 0.7}, monai=True),
    "generalized_dice": LossSpec(GeneralizedDiceLoss, "Sudre et al., DLMIA 2017", {"w_type": "square"}, monai=True),
    # --- region losses of this package ---
    "dice_two_class": LossSpec(DiceTwoClassLoss, "Sudre et al., DLMIA 2017 (two-class Dice DL2)"),
    "focal_tversky": LossSpec(
        FocalTverskyLoss, "Abraham & Khan, ISBI 2019", {"alpha": 0.3, "beta": 0.7, "gamma": 0.75}
    ),
    "focal_dice": LossSpec(
        FocalDiceLoss, "Wang & Chung, DLMIA 2018", {"beta": 2.0, "sampling": None, "neg_ratio": 1.0}
    ),
    "sensitivity_specificity": LossSpec(SensitivitySpecificityLoss, "Brosch et al., MICCAI 2015", {"r": 0.05}),
    # --- distribution losses ---
    "bce": LossSpec(CrossEntropyLoss, "binary cross-entropy (per channel)", {"sigmoid": True}),
    "ce": LossSpec(CrossEntropyLoss, "categorical cross-entropy", {"softmax": True}),
    "wce": LossSpec(WeightedCrossEntropyLoss, "Sudre et al., DLMIA 2017 (weighted CE)", {"pos_weight": "auto"}),
    "focal": LossSpec(FocalLoss, "Lin et al., ICCV 2017", {"sigmoid": True, "gamma": 2.0, "alpha": 0.25}, monai=True),
    # --- compound losses ---
    "bce_dice": LossSpec(
        DiceCELoss, "CE + Dice (Milletari et al. 2016 Dice)", {"lambda_dice": 1.0, "lambda_ce": 1.0}, monai=True
    ),
    "dice_focal": LossSpec(
        DiceFocalLoss,
        "Zhu et al., AnatomyNet, Med. Phys. 2018",
        {"lambda_dice": 1.0, "lambda_focal": 1.0, "gamma": 2.0},
        monai=True,
    ),
    "exp_log": LossSpec(
        ExpLogLoss,
        "Wong et al., MICCAI 2018",
        {"w_dice": 0.8, "w_cross": 0.2, "gamma_dice": 0.3, "gamma_cross": 0.3, "smooth_nr": 1.0, "smooth_dr": 1.0},
    ),
    "combo": LossSpec(ComboLoss, "Taghanaki et al., CMIG 2019", {"alpha": 0.5, "beta": 0.5}),
    # --- Unified Focal family (Yeung et al., CMIG 2022) ---
    "symmetric_focal": LossSpec(SymmetricFocalLoss, "Yeung et al., CMIG 2022", {"delta": 0.7, "gamma": 2.0}),
    "asymmetric_focal": LossSpec(AsymmetricFocalLoss, "Yeung et al., CMIG 2022", {"delta": 0.7, "gamma": 2.0}),
    "symmetric_focal_tversky": LossSpec(
        SymmetricFocalTverskyLoss, "Yeung et al., CMIG 2022", {"delta": 0.7, "gamma": 0.75}
    ),
    "asymmetric_focal_tversky": LossSpec(
        AsymmetricFocalTverskyLoss, "Yeung et al., CMIG 2022", {"delta": 0.7, "gamma": 0.75}
    ),
    "symmetric_unified_focal": LossSpec(
        SymmetricUnifiedFocalLoss, "Yeung et al., CMIG 2022", {"weight": 0.5, "delta": 0.6, "gamma": 0.5}
    ),
    "asymmetric_unified_focal": LossSpec(
        AsymmetricUnifiedFocalLoss, "Yeung et al., CMIG 2022", {"weight": 0.5, "delta": 0.6, "gamma": 0.5}
    ),
    # --- losses for the hardest imbalance (issue 13); the map losses take their maps from the target, or as
    # extra target channels with maps_in_target=True (docs/losses.md, "Maps") ---
    # the boundary term of the foreground classes only (the authors' idc=[1]): every sigmoid channel is foreground
    "boundary": LossSpec(
        BoundaryLoss, "Kervadec et al., MIDL 2019 / MedIA 2021", softmax_defaults={"include_background": False}
    ),
    "gdl_boundary": LossSpec(
        GDLBoundaryLoss, "Kervadec et al., MIDL 2019 (GDL + boundary, alpha rebalanced per epoch)", {"alpha": 1.0}
    ),
    "hausdorff_dt": LossSpec(HausdorffDTLoss, "Karimi & Salcudean, IEEE TMI 2019 (DT form)", {"alpha": 2.0}),
    "log_hausdorff_dt": LossSpec(
        LogHausdorffDTLoss, "Karimi & Salcudean, IEEE TMI 2019 (log of the DT form)", {"alpha": 2.0}
    ),
    "lovasz": LossSpec(LovaszLoss, "Berman et al., CVPR 2018 (Lovasz-softmax / Lovasz hinge)"),
    "mcc": LossSpec(MCCLoss, "Abhishek & Hamarneh, ISBI 2021"),
    "topk_ce": LossSpec(TopKCrossEntropyLoss, "Isensee et al., nnU-Net, Nat. Methods 2021 (TopK10)", {"k": 10.0}),
    "generalized_wasserstein_dice": LossSpec(
        GeneralizedWassersteinDiceLoss, "Fidon et al., BrainLes 2017", {"dist_matrix": None}
    ),
    # --- issue 24 (recall / class-balanced / SegLossOdyssey losses) ---
    "generalized_dice_focal": LossSpec(
        GeneralizedDiceFocalLoss,
        "Sudre et al., DLMIA 2017 (GDL) + Lin et al., ICCV 2017 (focal)",
        {"w_type": "square", "lambda_gdl": 1.0, "lambda_focal": 1.0, "gamma": 2.0},
        monai=True,
    ),
    "penalty_gdl": LossSpec(PenaltyGeneralizedDiceLoss, "Yang et al., MIDL 2019 (penalty GDL)", {"k": 2.5}),
    "asymmetric_similarity": LossSpec(
        AsymmetricSimilarityLoss,
        "Hashemi et al., IEEE Access 2018 (F-beta loss)",
        {"beta": 1.5, "smooth_nr": 1.0, "smooth_dr": 1.0},
    ),
    # --- thin structures (issue 24): the authors' code's defaults (jocpae/clDice: 10 iterations, smooth 1) ---
    "cldice": LossSpec(ClDiceLoss, "Shit et al., clDice, CVPR 2021 (soft clDice)", {"iterations": 10}),
    "dice_cldice": LossSpec(
        DiceClDiceLoss, "Shit et al., clDice, CVPR 2021 (Dice + soft clDice)", {"iterations": 10, "alpha": 0.5}
    ),
    "recall_ce": LossSpec(RecallCrossEntropyLoss, "Tian et al., ICRA 2022 (recall loss)"),
    "distance_penalized_ce": LossSpec(
        DistancePenalizedCrossEntropyLoss, "Caliva et al., MIDL 2019 (distance map penalised cross-entropy)"
    ),
    # the recall of the foreground classes only (the authors' do_bg=False): every sigmoid channel is foreground
    "skeleton_recall": LossSpec(
        SkeletonRecallLoss,
        "Kirchhoff et al., ECCV 2024 (CE + Dice + Skeleton Recall)",
        {"lambda_ce": 1.0, "lambda_dice": 1.0, "lambda_srec": 1.0},
        softmax_defaults={"include_background": False},
    ),
    # the authors' nnU-Net trainer nnUNetTrainer_CE_DC_CBDC (PengchengShi1220/cbDice a970c1d): 2 CE + Dice + cbDice
    "cbdice": LossSpec(
        CbDiceLoss,
        "Shi et al., cbDice, MICCAI 2024 (CE + Dice + centerline boundary Dice)",
        {
            "iterations": 10,
            "smooth_cbdice": 1e-3,
            "lambda_ce": 2.0,
            "lambda_dice": 1.0,
            "lambda_cbdice": 1.0,
            "batch": True,
        },
        softmax_defaults={"include_background": False},
    ),
    # "blob" is added by blob.py, which builds its main loss from this catalogue (no import cycle)
}


def map_kind(name: str) -> str | None:
    """The map the catalogue loss ``name`` takes from its target (``"signed"``, ``"unsigned"``,
    ``"components"``, ``"tubed_skeleton"``), or ``None`` for a loss without maps."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}.")
    cls = LOSSES[name].cls
    return cls.map_kind if issubclass(cls, MapLoss) else None


def takes_maps(name: str) -> bool:
    """Whether the catalogue loss ``name`` takes maps (``maps_in_target``): the bundle's switch."""
    return map_kind(name) is not None


def build_loss(name: str, **overrides: Any) -> _Loss:
    """Build the catalogue loss ``name`` with its paper defaults, updated by ``overrides``.

    ``maps_in_target=False`` is accepted by every name (what the bundle passes for a loss without maps).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names) or an argument the loss does not take.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}.")
    spec = LOSSES[name]
    kwargs = dict(spec.defaults)
    if any(key in overrides for key in ACTIVATION_KEYS):
        for key in ACTIVATION_KEYS:
            kwargs.pop(key, None)
    if overrides.get("softmax"):
        kwargs.update(spec.softmax_defaults)
    kwargs.update(overrides)
    params = inspect.signature(spec.cls).parameters
    if "maps_in_target" not in params and kwargs.get("maps_in_target", None) is False:
        kwargs.pop("maps_in_target")  # a loss without maps takes none: the bundle passes False to every loss
    if "use_softmax" in params:  # MONAI's FocalLoss: the logits' activation is use_softmax (sigmoid otherwise)
        if kwargs.get("sigmoid") and kwargs.get("softmax"):
            raise ValueError("sigmoid=True and softmax=True are mutually exclusive; choose one.")
        if kwargs.pop("other_act", None) is not None or not (kwargs.get("sigmoid") or kwargs.get("softmax")):
            raise ValueError(f"loss {name!r} takes logits: pass sigmoid=True (multi-label) or softmax=True.")
        kwargs.pop("sigmoid", None)
        kwargs["use_softmax"] = bool(kwargs.pop("softmax", False))
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ValueError(
            f"loss {name!r} ({spec.cls.__name__}) takes no argument(s) {unknown}; it takes: {', '.join(params)}."
        )
    return spec.cls(**kwargs)
