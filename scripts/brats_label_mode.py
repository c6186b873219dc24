"""The loss of the BraTS label (softmax) mode, ``configs/brats_labels.json``: a catalogue loss over the four classes
background, NCR, ED, ET (``scripts.transforms.BRATS_CLASSES``), with the paper's label distances for the
generalised Wasserstein Dice loss."""

from __future__ import annotations

from typing import Any

from torch.nn.modules.loss import _Loss

from scripts.losses import BRATS_LABEL_DISTANCES, build_loss
from scripts.transforms import BRATS_CLASSES

WASSERSTEIN = "generalized_wasserstein_dice"


def build_label_mode_loss(name: str, **overrides: Any) -> _Loss:
    """``scripts.losses.build_loss(name, **overrides)``, and for ``generalized_wasserstein_dice`` with
    ``dist_matrix=BRATS_LABEL_DISTANCES`` (the authors' four-label matrix: background, necrotic core, oedema,
    enhancing, the order of the label mode's channels) unless ``overrides`` gives one. The config passes ``softmax=True,
    to_onehot_y=True``: every other catalogue name gets its softmax defaults, as in the KiTS19 overlay."""
    if len(BRATS_LABEL_DISTANCES) != len(BRATS_CLASSES):  # the matrix's rows are the channels, in this order
        raise ValueError(f"BRATS_LABEL_DISTANCES has {len(BRATS_LABEL_DISTANCES)} rows for classes {BRATS_CLASSES}.")
    if name == WASSERSTEIN:
        overrides.setdefault("dist_matrix", BRATS_LABEL_DISTANCES)
    return build_loss(name, **overrides)
