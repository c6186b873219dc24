"""MONAI metric and ignite handler of the KiTS23 HEC scores (``kits23_hec_scores``) in the KiTS workflows.

The workflows map the KiTS21/23 cyst to a KiTS19 class before scoring (``KiTSLabelsd``), so the reference the
evaluator holds has lost its cysts; the HECs need them. The metric therefore reads each case's reference label map
from its file (the MetaTensor's ``filename_or_obj``), in the space the evaluator scores (the file's own array, as
the KiTS overlay's validation leaves the label unresampled), and scores the prediction against it. Cases whose label
was KiTS19 (``KiTSLabelsd`` records it in the label's metadata, ``label_convention``) give NaN, left out of the
means: the KiTS23 classes are reported when the data are KiTS23, KiTS19's own metrics otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import nibabel as nib
import numpy as np
import torch
from monai.handlers import IgniteMetricHandler
from monai.utils import MetricReduction

from scripts.data.label_conventions import CONVENTION_META_KEY

from .brats_lesion_metric import spacing_of
from .brats_region_metric import BraTSRegionMetric
from .kits23_hec_scores import KITS23_HECS, kits23_hec_scores

KINDS = ("dice", "surface_dice")


def _filenames(y: torch.Tensor, batch: int) -> list[str]:
    names = getattr(y, "meta", {}).get("filename_or_obj")
    if names is None:
        raise ValueError("the reference carries no file name (filename_or_obj) to read the KiTS23 labels from")
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != batch:
        raise ValueError(f"the reference carries {len(names)} file names for a batch of {batch}")
    return [str(n) for n in names]


def _conventions(y: torch.Tensor, batch: int) -> list[str | None]:
    value = getattr(y, "meta", {}).get(CONVENTION_META_KEY)
    if value is None or isinstance(value, str):
        return [value] * batch
    return [str(v) for v in value]


class KiTS23HECMetric(BraTSRegionMetric):
    """KiTS23 Dice or Surface Dice of the HECs for every case of a batch of predicted label maps (B, 1, ...).

    Args:
        kind: ``"dice"`` or ``"surface_dice"``.
        hecs: HEC names of ``KITS23_HECS`` (columns, in order).
        reduction: MONAI reduction of ``aggregate``.
    """

    def __init__(
        self,
        kind: str = "dice",
        hecs: Sequence[str] = tuple(KITS23_HECS),
        reduction: MetricReduction | str = MetricReduction.MEAN,
    ) -> None:
        super().__init__("dice", reduction=reduction)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        hecs = [hecs] if isinstance(hecs, str) else list(hecs)
        unknown = [h for h in hecs if h not in KITS23_HECS]
        if unknown or not hecs:
            raise ValueError(f"hecs must be a non-empty selection of {list(KITS23_HECS)}, got {hecs}")
        self.kind = kind
        self.hecs = hecs

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if y_pred.shape != y.shape or y_pred.ndim < 3 or y_pred.shape[1] != 1:
            raise ValueError(
                f"y_pred and y must be label maps (B, 1, spatial...) of one shape, got {tuple(y_pred.shape)} "
                f"and {tuple(y.shape)}"
            )
        batch, spatial = y_pred.shape[0], y_pred.ndim - 2
        files = _filenames(y, batch)
        spacings = spacing_of(y, batch, spatial)
        out = np.full((batch, len(self.hecs)), np.nan)
        conventions = _conventions(y, batch)
        for b in range(batch):
            if conventions[b] == "kits19":
                continue
            ref = np.asanyarray(nib.load(files[b]).dataobj)
            if tuple(ref.shape) != tuple(y.shape[2:]):
                raise ValueError(
                    f"{files[b]}: label shape {ref.shape} differs from the scored reference {tuple(y.shape[2:])}"
                )
            scores = kits23_hec_scores(y_pred[b, 0].detach().cpu().numpy(), ref, spacings[b])
            out[b] = [scores[f"{self.kind}_{h}"] for h in self.hecs]
        return torch.as_tensor(out, dtype=torch.float64, device=y_pred.device)


class KiTS23HEC(IgniteMetricHandler):
    """Ignite handler of one KiTS23 HEC score (``KiTS23HECMetric(kind, hecs)``)."""

    def __init__(
        self,
        kind: str = "dice",
        hecs: Sequence[str] = tuple(KITS23_HECS),
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        super().__init__(
            metric_fn=KiTS23HECMetric(kind, hecs=hecs, reduction=reduction),
            output_transform=output_transform,
            save_details=save_details,
        )
