"""Lesion detection over all cases and the figure of the worst cases per region, added to the evaluation summary.

:class:`LesionSummary` is an ignite handler for the BraTS evaluator. Per region channel of the postprocessed
``pred`` / ``label`` (binary region masks), it sums the official lesion counts over the cases (matched, missed and
false-positive lesions; pooled sensitivity ``TP / (TP + FN)`` and precision ``TP / (TP + FP)``), keeps the axial
slice with the largest error of the cases with the lowest lesion-wise Dice, and at the end of the run writes one PNG
per region (:mod:`scripts.reports.worst_case_figure`): ``figures/worst_<region>.png`` when there are more cases than
it shows, else ``figures/all_<region>.png``. It adds both to ``metrics_summary.json`` (keys ``lesion_detection`` and
``figures``, paths relative to the summary), with ``lesion_metrics``: what the lesion-wise quantities mean, the NSD
tolerance used, and why a case scores 0. Attach it after :class:`scripts.reports.CaseMetricsReport`, which writes
that summary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.handlers import from_engine

from scripts.files import write_bytes, write_json
from scripts.metrics.brats_lesion_metric import cached_lesion_scores, spacing_of

from .case_report import SUMMARY_JSON
from .worst_case_figure import CaseSlice, render, worst_slice

FIGURE_FOLDER = "figures"
MODALITIES = ("FLAIR", "T1", "T1ce", "T2")
"""The image channels in the bundle's order (BraTS 2023 and later: t2f, t1n, t1c, t2w)."""
LESION_METRICS = {
    "matching": "lesions are the connected components (26-connectivity) of the prediction and the reference, "
    "matched one-to-one by maximal summed Dice among overlapping pairs (official BraTS package)",
    "dice": "mean Dice of the matched lesion pairs of a case",
    "hd95": "mean over the matched pairs of the 95th percentile of the surface distances of both directions, in mm",
    "nsd": "mean over the matched pairs of the normalised surface Dice: the fraction of the surface voxels of both "
    "lesions lying within the tolerance (nsd_tolerance_mm) of the other lesion's surface; 0 when a matched pair's "
    "surfaces are everywhere farther apart than that, e.g. a prediction enclosing the reference with a margin of "
    "more than one voxel, even where its Dice is well above 0",
    "no_match": "a case of a region with no matched lesion (every reference lesion missed, or only false-positive "
    "lesions) scores Dice 0, NSD 0 and HD95 inf, as the official package; a region empty in both masks is NaN "
    "and left out of the means",
    "missed_and_false_positive": "do not lower the lesion-wise Dice, HD95 or NSD while one lesion of the case is "
    "matched: they are counted in lesion_detection",
}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


class LesionSummary:
    """Ignite handler; see the module docstring.

    Args:
        output_dir: the folder of ``metrics_summary.json``; figures go to its ``figures/``.
        regions: names of the region channels of ``pred`` and ``label``, in order (e.g. ``["tc", "wt", "et"]``).
        num_cases: worst cases shown per region.
        image_channel: the image channel drawn (0: FLAIR in the bundle's channel order).
        modality: its name on the figure (default: from ``image_channel`` and :data:`MODALITIES`).
        case_transform: case names of a batch (default: the ``case`` key of every item).
    """

    def __init__(
        self,
        output_dir: str | Path,
        regions: Sequence[str],
        num_cases: int = 3,
        image_channel: int = 0,
        modality: str | None = None,
        case_transform: Callable | None = None,
    ) -> None:
        if not regions:
            raise ValueError("regions must name at least one region channel")
        self.output_dir = Path(output_dir)
        self.regions = [str(r) for r in regions]
        self.num_cases = int(num_cases)
        self.image_channel = int(image_channel)
        if modality is None and not 0 <= self.image_channel < len(MODALITIES):
            raise ValueError(f"image_channel {image_channel} has no default modality name {MODALITIES}: set modality")
        self.modality = str(modality) if modality is not None else MODALITIES[self.image_channel]
        self.case_transform = case_transform or from_engine(["case"])
        self._reset(None)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _reset(self, engine: Engine | None) -> None:
        self._counts = {r: [0, 0, 0] for r in self.regions}
        self._worst: dict[str, list[CaseSlice]] = {r: [] for r in self.regions}
        self._scored = {r: 0 for r in self.regions}
        self._tolerances: set[float] = set()

    def _collect(self, engine: Engine) -> None:
        cases = self.case_transform(engine.state.batch)
        cases = [cases] if isinstance(cases, str) else list(cases)
        outputs = engine.state.output if isinstance(engine.state.output, list) else [engine.state.output]
        if len(outputs) != len(cases):
            raise ValueError(f"{len(outputs)} outputs for {len(cases)} cases: LesionSummary needs decollated outputs")
        for case, item in zip(cases, outputs):
            self._collect_case(str(case), item)

    def _collect_case(self, case: str, item: dict) -> None:
        pred, label, image = item["pred"], item["label"], item["image"]
        if pred.shape[0] != len(self.regions) or label.shape != pred.shape:
            raise ValueError(
                f"case {case!r}: pred {tuple(pred.shape)} and label {tuple(label.shape)} must hold one channel per "
                f"region {self.regions}"
            )
        spatial = pred.ndim - 1
        (spacing,) = spacing_of(label, 1, spatial)
        self._tolerances.add(min(spacing))  # the NSD tolerance of brats_lesion_scores
        p_all = torch.as_tensor(pred).detach().cpu().numpy() > 0.5
        r_all = torch.as_tensor(label).detach().cpu().numpy() > 0.5
        img = torch.as_tensor(image).detach().cpu().numpy()[self.image_channel]
        for c, region in enumerate(self.regions):
            p, r = p_all[c], r_all[c]
            s = cached_lesion_scores(p, r, spacing)
            counts = self._counts[region]
            counts[0] += s.tp
            counts[1] += s.fn
            counts[2] += s.fp
            if math.isnan(s.dice):
                continue
            self._scored[region] += 1
            worst = self._worst[region]
            if len(worst) >= self.num_cases and s.dice >= worst[-1].score:
                continue
            z = worst_slice(r, p)
            missed = np.isin(s.ref_lesions[..., z], s.missed) if s.missed else np.zeros_like(r[..., z])
            false_pos = (
                np.isin(s.pred_lesions[..., z], s.false_positives) if s.false_positives else np.zeros_like(p[..., z])
            )
            entry = CaseSlice(case, s.dice, z, img[..., z], r[..., z], p[..., z], missed, false_pos, (s.tp, s.fn, s.fp))
            worst.append(entry)
            worst.sort(key=lambda e: e.score)
            del worst[self.num_cases :]

    def _write(self, engine: Engine) -> None:
        figures = {}
        for region in self.regions:
            shown, total = self._worst[region], self._scored[region]
            relative = f"{FIGURE_FOLDER}/{'worst' if total > len(shown) else 'all'}_{region}.png"
            png = render(region.upper(), shown, total=total, modality=self.modality)
            write_bytes(self.output_dir / relative, png, what="figure")
            figures[region] = relative
        detection = {}
        for region, (tp, fn, fp) in self._counts.items():
            detection[region] = {
                "matched": tp,
                "missed": fn,
                "false_positive": fp,
                "sensitivity": _ratio(tp, tp + fn),
                "precision": _ratio(tp, tp + fp),
            }
        summary_path = self.output_dir / SUMMARY_JSON
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        summary["lesion_detection"] = detection
        summary["lesion_metrics"] = {**LESION_METRICS, "nsd_tolerance_mm": sorted(self._tolerances)}
        summary["figures"] = figures
        write_json(summary_path, summary, indent=2, allow_nan=False)
