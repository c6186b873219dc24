"""A PNG of where the model fails: for each of the worst cases of one region, the axial slice with the largest error,
the image with the reference and prediction contours, missed and false-positive lesions marked."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

REFERENCE_COLOUR = "#00d000"  # green
PREDICTION_COLOUR = "#ff2020"  # red
MISSED_COLOUR = "#ffd000"  # yellow
FALSE_POSITIVE_COLOUR = "#20d0ff"  # cyan


@dataclass
class CaseSlice:
    """One axial slice of one case, kept for the figure."""

    case: str
    score: float
    """The case's lesion-wise Dice of the region (the figure's sort key, worst first)."""
    index: int
    """Slice index along the last (axial) axis."""
    image: np.ndarray
    reference: np.ndarray
    prediction: np.ndarray
    missed: np.ndarray
    false_positive: np.ndarray
    counts: tuple[int, int, int]
    """Whole-case matched, missed and false-positive lesions."""


def worst_slice(reference: np.ndarray, prediction: np.ndarray) -> int:
    """Index along the last axis with the most voxels where prediction and reference disagree (the most reference
    voxels when they agree everywhere)."""
    error = np.count_nonzero(reference != prediction, axis=tuple(range(reference.ndim - 1)))
    if error.any():
        return int(np.argmax(error))
    return int(np.argmax(np.count_nonzero(reference, axis=tuple(range(reference.ndim - 1)))))


def _contour(ax, mask: np.ndarray, colour: str, width: float, style: str = "solid", fill: float = 0.0) -> None:
    """Outline of ``mask`` (padded, so that a mask reaching the slice's edge is closed there), optionally filled
    with ``fill`` opacity so that a mask covering the whole slice still shows."""
    if not mask.any():
        return
    padded = np.pad(mask, 1).astype(float)
    xs, ys = np.arange(-1, mask.shape[0] + 1), np.arange(-1, mask.shape[1] + 1)
    if fill:
        ax.contourf(xs, ys, padded.T, levels=[0.5, 1.5], colors=[colour], alpha=fill)
    ax.contour(xs, ys, padded.T, levels=[0.5], colors=[colour], linewidths=width, linestyles=style)


def render(region: str, slices: list[CaseSlice]) -> bytes:
    """PNG bytes: one panel per case (worst first), the slice displayed with the first array axis horizontal."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    n = max(len(slices), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 4.2), squeeze=False)
    for ax, s in zip(axes[0], slices):
        lo, hi = np.percentile(s.image, [1, 99]) if s.image.size else (0, 1)
        ax.imshow(s.image.T, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, origin="lower")
        _contour(ax, s.reference, REFERENCE_COLOUR, 1.4, fill=0.2)
        _contour(ax, s.prediction, PREDICTION_COLOUR, 1.0, fill=0.2)
        _contour(ax, s.missed, MISSED_COLOUR, 2.2, "dashed")
        _contour(ax, s.false_positive, FALSE_POSITIVE_COLOUR, 2.2, "dashed")
        tp, fn, fp = s.counts
        ax.set_title(
            f"{s.case}\nlesion-wise Dice {s.score:.3f}, slice {s.index}\nmatched {tp}, missed {fn}, false pos. {fp}",
            fontsize=8,
        )
        ax.set_xlim(-0.5, s.image.shape[0] - 0.5)
        ax.set_ylim(-0.5, s.image.shape[1] - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[0][len(slices) :]:
        ax.axis("off")
        ax.text(0.5, 0.5, "no case with this region", ha="center", va="center", fontsize=9)
    handles = [
        Line2D([], [], color=REFERENCE_COLOUR, label="reference"),
        Line2D([], [], color=PREDICTION_COLOUR, label="prediction"),
        Line2D([], [], color=MISSED_COLOUR, linestyle="dashed", label="missed lesion"),
        Line2D([], [], color=FALSE_POSITIVE_COLOUR, linestyle="dashed", label="false-positive lesion"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"{region}: worst cases by lesion-wise Dice (axial slice with the largest error)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
