"""The loss of the BraTS label (softmax) mode, ``configs/brats_labels.json``: a catalogue loss over the four classes
background, NCR, ED, ET (``scripts.transforms.BRATS_CLASSES``, the rows of ``BRATS_LABEL_DISTANCES``; a test holds
the two in step), with the paper's label distances for the generalised Wasserstein Dice loss."""

from __future__ import annotations

from typing import Any

from torch.nn.modules.loss import _Loss

from .catalogue import build_loss
from .wasserstein_dice import BRATS_LABEL_DISTANCES

WASSERSTEIN = "generalized_wasserstein_dice"


def build_label_mode_loss(name: str, **overrides: Any) -> _Loss:
    """``build_loss(name, **overrides)``, and for ``generalized_wasserstein_dice`` with
    ``dist_matrix=BRATS_LABEL_DISTANCES`` (the authors' four-label matrix: background, necrotic core, oedema,
    enhancing, the order of the label mode's channels) unless ``overrides`` gives one. The config passes ``softmax=True,
    to_onehot_y=True``: every other catalogue name gets its softmax defaults, as in the KiTS19 overlay."""
    if name == WASSERSTEIN:
        overrides.setdefault("dist_matrix", BRATS_LABEL_DISTANCES)
    return build_loss(name, **overrides)
