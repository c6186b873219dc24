"""A PNG of where the model fails: for each of the worst cases of one region (or every case, when there are no more
than the figure shows), the axial slice with the largest error where the reference is, the named image channel with
the reference and prediction contours, missed and false-positive lesions marked."""

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
    """Index along the last axis with the most voxels where prediction and reference disagree, among the slices
    that hold reference voxels (when the case has any), so that the reference contour is on the slice.

    The slice with the most disagreement overall is often one just past the end of the reference, where a
    prediction that overshoots it is all error: that panel showed the prediction alone. Ties: the slice with the
    most reference voxels, then the first."""
    axes = tuple(range(reference.ndim - 1))
    error = np.count_nonzero(reference != prediction, axis=axes)
    present = np.count_nonzero(reference, axis=axes)
    if present.any():
        error = np.where(present > 0, error, -1)
    return int(np.argmax(error.astype(np.int64) * (int(present.max()) + 1) + present))  # the first of ties


def _display(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The slice with its exact zeros masked (outside the head after the bundle's ``nonzero`` normalisation: drawn
    black) and the grey window of its other voxels (1st to 99th percentile)."""
    inside = image[image != 0]
    lo, hi = np.percentile(inside, [1, 99]) if inside.size else (0.0, 1.0)
    return np.ma.masked_equal(image, 0), float(lo), float(hi if hi > lo else lo + 1)


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


def title(region: str, shown: int, total: int, modality: str) -> str:
    """The figure's title: "worst" only when the figure shows a selection of the cases."""
    if total > shown:
        which = f"the {shown} worst of {total} cases by lesion-wise Dice"
    else:
        which = f"all {total} case{'s' if total != 1 else ''}, lowest lesion-wise Dice first"
    return f"{region}: {which} ({modality}, axial slice with the largest error where the reference is)"


def render(region: str, slices: list[CaseSlice], total: int | None = None, modality: str = "FLAIR") -> bytes:
    """PNG bytes: one panel per case (worst first) of ``total`` scored cases (default: those shown), ``modality``
    the name of the image drawn; the slice displayed with the first array axis horizontal."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    n = max(len(slices), 1)
    total = len(slices) if total is None else total
    # at least two panels wide: the legend and the title fit
    fig, axes = plt.subplots(1, n, figsize=(3.6 * max(n, 2), 4.4), squeeze=False)
    for ax, s in zip(axes[0], slices):
        image, lo, hi = _display(s.image)
        cmap = matplotlib.colormaps["gray"].with_extremes(bad="black")
        ax.imshow(image.T, cmap=cmap, vmin=lo, vmax=hi, origin="lower")
        _contour(ax, s.reference, REFERENCE_COLOUR, 1.4, fill=0.2)
        _contour(ax, s.prediction, PREDICTION_COLOUR, 1.0, fill=0.2)
        _contour(ax, s.missed, MISSED_COLOUR, 2.2, "dashed")
        _contour(ax, s.false_positive, FALSE_POSITIVE_COLOUR, 2.2, "dashed")
        if not s.reference.any():
            ax.text(
                0.5,
                0.04,
                f"no reference {region} in this case",
                transform=ax.transAxes,
                ha="center",
                color=REFERENCE_COLOUR,
                backgroundcolor="black",
                fontsize=8,
            )
        tp, fn, fp = s.counts
        ax.set_title(
            f"{s.case}\nlesion-wise Dice {s.score:.3f}; {modality}, slice {s.index}\n"
            f"matched {tp}, missed {fn}, false pos. {fp}",
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
    fig.suptitle(title(region, len(slices), total, modality), fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.93))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
