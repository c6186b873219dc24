"""For each catalogue loss and mode, the same loss (or the nearest one) as MONAI 1.6.1 or torch computes it.

Each entry is ``(label, loss_fn)``; ``loss_fn(logits, target)`` gets the same tensors as ours. MONAI's Unified
Focal classes take probabilities, so their entry applies the activation first (part of the timed work). Where
MONAI computes something else, the label says so: its ``DiceFocalLoss`` always takes a sigmoid focal term
(issue #8242), its ``DiceCELoss(sigmoid=True)`` a softmax cross-entropy over the channels, its Unified Focal
classes only the first two channels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from monai import losses as ml
from monai.losses import unified_focal_loss as mufl

Counterpart = tuple[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


def _on_probs(loss: torch.nn.Module, softmax: bool) -> Callable:
    def run(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return loss(torch.softmax(x, 1) if softmax else torch.sigmoid(x), target)

    return run


def counterparts(softmax: bool) -> dict[str, Counterpart]:
    """Catalogue name -> counterpart, for ``sigmoid=True`` (float targets) or ``softmax=True`` (labels)."""
    act = {"softmax": True, "to_onehot_y": True} if softmax else {"sigmoid": True}
    onehot = {"to_onehot_y": True} if softmax else {}
    table: dict[str, Counterpart] = {
        "dice": ("monai DiceLoss", ml.DiceLoss(**act)),
        "dice_squared": ("monai DiceLoss(squared_pred)", ml.DiceLoss(squared_pred=True, **act)),
        "iou": ("monai DiceLoss(jaccard)", ml.DiceLoss(jaccard=True, **act)),
        "tversky": ("monai TverskyLoss", ml.TverskyLoss(alpha=0.3, beta=0.7, **act)),
        "generalized_dice": ("monai GeneralizedDiceLoss", ml.GeneralizedDiceLoss(**act)),
        "focal": ("monai FocalLoss", ml.FocalLoss(gamma=2.0, alpha=0.25, use_softmax=softmax, **onehot)),
        "dice_focal": (
            "monai DiceFocalLoss" + (" (sigmoid focal term)" if softmax else ""),
            ml.DiceFocalLoss(gamma=2.0, **act),
        ),
        "generalized_dice_focal": (
            "monai GeneralizedDiceFocalLoss" + (" (sigmoid focal term)" if softmax else ""),
            ml.GeneralizedDiceFocalLoss(gamma=2.0, **act),
        ),
        "bce_dice": (
            "monai DiceCELoss" + ("" if softmax else " (softmax CE)"),
            ml.DiceCELoss(**act),
        ),
        "asymmetric_focal": (
            "monai AsymmetricFocalLoss (2 ch)",
            _on_probs(mufl.AsymmetricFocalLoss(delta=0.7, gamma=2.0, **onehot), softmax),
        ),
        "asymmetric_focal_tversky": (
            "monai AsymmetricFocalTverskyLoss (2 ch)",
            _on_probs(mufl.AsymmetricFocalTverskyLoss(delta=0.7, gamma=0.75, **onehot), softmax),
        ),
    }
    unified = ml.AsymmetricUnifiedFocalLoss(weight=0.5, delta=0.6, gamma=0.5, num_classes=3 if softmax else 2, **onehot)
    for name in ("asymmetric_unified_focal", "symmetric_unified_focal"):
        table[name] = ("monai AsymmetricUnifiedFocalLoss (2 ch)", _on_probs(unified, softmax))
    table.update(_issue13(softmax, act))
    # clDice at the catalogue's 10 skeleton iterations (MONAI's default is 3): the same work per call
    table["cldice"] = ("monai SoftclDiceLoss(iter_=10)", ml.SoftclDiceLoss(iter_=10, **act))
    table["dice_cldice"] = ("monai SoftDiceclDiceLoss(iter_=10)", ml.SoftDiceclDiceLoss(iter_=10, **act))
    if softmax:
        table["ce"] = ("torch cross_entropy", lambda x, t: F.cross_entropy(x, t[:, 0].long()))
    else:
        table["bce"] = ("torch BCE with logits", F.binary_cross_entropy_with_logits)
    return table


def _issue13(softmax: bool, act: dict) -> dict[str, Counterpart]:
    """The losses of issue 13 that MONAI 1.6.1 has (none for ``blob``, ``lovasz``, ``topk_ce``)."""
    from scripts.losses import build_loss

    gdl = ml.GeneralizedDiceLoss(**act)
    background = build_loss("boundary", **act, compile=False).include_background  # the catalogue's choice per mode
    # the boundary term of gdl_boundary is over the foreground: softmax classes c >= 1, every sigmoid channel
    boundary_fg = ml.BoundaryLoss(include_background=not softmax, **act)

    def gdl_boundary(x: torch.Tensor, target: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        return alpha * gdl(x, target) + (1 - alpha) * boundary_fg(x, target)  # alpha 1: the maps still computed

    table: dict[str, Counterpart] = {
        "boundary": ("monai BoundaryLoss (maps per call)", ml.BoundaryLoss(include_background=background, **act)),
        "gdl_boundary": ("monai GeneralizedDiceLoss + BoundaryLoss (maps per call)", gdl_boundary),
        "hausdorff_dt": (
            "monai HausdorffDTLoss (maps per call)",
            ml.HausdorffDTLoss(alpha=2.0, include_background=True, **act),
        ),
        "log_hausdorff_dt": (
            "monai LogHausdorffDTLoss (maps per call; log after the mean)",
            ml.LogHausdorffDTLoss(alpha=2.0, include_background=True, **act),
        ),
        "mcc": ("monai MCCLoss", ml.MCCLoss(**act)),
    }
    if softmax:
        wasserstein = ml.GeneralizedWassersteinDiceLoss(dist_matrix=1 - np.eye(3))
        table["generalized_wasserstein_dice"] = ("monai GeneralizedWassersteinDiceLoss", wasserstein)
    else:
        two_labels = ml.GeneralizedWassersteinDiceLoss(dist_matrix=1 - np.eye(2))

        def per_channel(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            logits = x.reshape(-1, 1, *x.shape[2:])
            return two_labels(torch.cat([torch.zeros_like(logits), logits], 1), target.reshape(logits.shape))

        table["generalized_wasserstein_dice"] = ("monai GeneralizedWassersteinDiceLoss (per channel)", per_channel)
    return table
