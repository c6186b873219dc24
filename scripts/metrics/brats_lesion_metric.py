"""MONAI metric and ignite handler of the official BraTS lesion-wise scores (``brats_lesion_scores``) over batches.

One :class:`BraTSLesionMetric` gives one quantity (``kind``: lesion-wise ``dice``, ``hd95``, ``nsd``, or the
detection numbers ``tp``, ``fp``, ``fn``, ``sensitivity``, ``precision``) for every (case, region channel). Several
metrics on the same masks (the evaluate config asks for all of them) share one computation: the last results are
kept, keyed by the masks' bytes and the spacing.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.handlers import IgniteMetricHandler
from monai.utils import MetricReduction

from .brats_lesion_scores import LESION_KINDS, LesionScores, brats_lesion_scores
from .brats_region_metric import BraTSRegionMetric

_CACHE: OrderedDict[tuple, LesionScores] = OrderedDict()
_CACHE_SIZE = 8
"""Results kept: the regions of one case (4 with RC) for every metric of an iteration, twice over. Each holds two
lesion label maps (uint16 where the lesions fit: 2 x 18 MB for a 240 x 240 x 155 BraTS case)."""


def cached_lesion_scores(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, ...]) -> LesionScores:
    """:func:`brats_lesion_scores`, remembered for the last few (pred, ref, spacing)."""
    key = (
        hashlib.blake2b(np.packbits(pred).tobytes(), digest_size=16).hexdigest(),
        hashlib.blake2b(np.packbits(ref).tobytes(), digest_size=16).hexdigest(),
        pred.shape,
        spacing,
    )
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    scores = brats_lesion_scores(pred, ref, spacing)
    for name in ("ref_lesions", "pred_lesions"):
        labels = getattr(scores, name)
        if labels is not None and labels.max(initial=0) < np.iinfo(np.uint16).max:
            setattr(scores, name, labels.astype(np.uint16))
    _CACHE[key] = scores
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return scores


def spacing_of(y: torch.Tensor, batch: int, spatial: int) -> list[tuple[float, ...]]:
    """Voxel size per case of a batch from the MetaTensor's affine (1 per axis for a plain tensor)."""
    if not isinstance(y, MetaTensor):
        return [(1.0,) * spatial] * batch
    affine = torch.as_tensor(y.affine, dtype=torch.float64).cpu()
    affines = affine.reshape(-1, *affine.shape[-2:])
    spacings = [tuple(float(s) for s in affine_to_spacing(a, r=spatial)) for a in affines]
    return spacings * batch if len(spacings) == 1 else spacings


class BraTSLesionMetric(BraTSRegionMetric):
    """Official BraTS lesion-wise ``kind`` for every (case, region channel) of binary region masks (B, C, ...).

    Args:
        kind: one of ``dice``, ``hd95``, ``nsd`` (lesion-wise means over matched lesions), ``tp``, ``fp``, ``fn``
            (matched, false-positive and missed lesions), ``sensitivity``, ``precision``.
        reduction: MONAI reduction of ``aggregate`` (NaN entries, regions empty in both masks, left out).
        spacing: voxel size per axis; ``None`` reads it from the reference's affine (1 per axis without one).
        get_not_nans: also return the count of non-NaN entries from ``aggregate``.

    Example:
        >>> m = BraTSLesionMetric("dice", spacing=(1.0, 1.0, 1.0))
        >>> _ = m(torch.ones(1, 3, 4, 4, 4), torch.ones(1, 3, 4, 4, 4))
        >>> float(m.aggregate())
        1.0
    """

    def __init__(
        self,
        kind: str = "dice",
        reduction: MetricReduction | str = MetricReduction.MEAN,
        spacing: Sequence[float] | None = None,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__("dice", reduction=reduction, spacing=spacing, get_not_nans=get_not_nans)
        if kind not in LESION_KINDS:
            raise ValueError(f"kind must be one of {LESION_KINDS}, got {kind!r}")
        self.kind = kind

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y must have the same shape, got {tuple(y_pred.shape)} and {tuple(y.shape)}")
        if y_pred.ndim < 3:
            raise ValueError(f"y_pred must be (B, C, spatial...), got shape {tuple(y_pred.shape)}")
        batch, spatial = y_pred.shape[0], y_pred.ndim - 2
        spacings = [tuple(self.spacing)] * batch if self.spacing is not None else spacing_of(y, batch, spatial)
        pred = y_pred.detach().cpu().numpy() > 0.5
        ref = y.detach().cpu().numpy() > 0.5
        out = np.empty(pred.shape[:2], dtype=np.float64)
        for b in range(batch):
            for c in range(pred.shape[1]):
                out[b, c] = cached_lesion_scores(pred[b, c], ref[b, c], spacings[b]).value(self.kind)
        return torch.as_tensor(out, dtype=torch.float64, device=y_pred.device)


class BraTSLesionwise(IgniteMetricHandler):
    """Ignite handler of one official BraTS lesion-wise quantity (``BraTSLesionMetric(kind)``), e.g. the
    lesion-wise Dice as the key validation metric."""

    def __init__(
        self,
        kind: str = "dice",
        reduction: MetricReduction | str = MetricReduction.MEAN,
        spacing: Sequence[float] | None = None,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        super().__init__(
            metric_fn=BraTSLesionMetric(kind, reduction=reduction, spacing=spacing),
            output_transform=output_transform,
            save_details=save_details,
        )


def lesion_metric_handlers(regions: Sequence[str], kinds: Sequence[str] = ("dice",)) -> dict[str, BraTSLesionwise]:
    """``{"val_lesion_<kind>_<region>": handler}`` for the evaluator's ``additional_metrics``: each scores the
    postprocessed ``pred_<region>`` / ``label_<region>`` (``SplitDimd`` of the region channels)."""
    from monai.handlers import from_engine

    unknown = [k for k in kinds if k not in LESION_KINDS]
    if unknown:
        raise ValueError(f"lesion kinds must be among {LESION_KINDS}, got {unknown}")
    return {
        f"val_lesion_{kind}_{region}": BraTSLesionwise(
            kind, output_transform=from_engine([f"pred_{region}", f"label_{region}"])
        )
        for kind in kinds
        for region in regions
    }


def lesion_report_columns(regions: Sequence[str], kinds: Sequence[str] = LESION_KINDS) -> dict[str, str]:
    """``{"lesion_<kind>_<region>": "val_lesion_<kind>_<region>"}``: the report columns of
    :func:`lesion_metric_handlers`."""
    return {f"lesion_{kind}_{region}": f"val_lesion_{kind}_{region}" for kind in kinds for region in regions}
