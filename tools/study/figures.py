"""Matplotlib (Agg) figures of the study, drawn from the consolidated results only."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from scripts.files import atomic_path  # noqa: E402

METRICS = (("dice", "Dice (higher is better)"), ("hd95", "HD95, voxels (lower is better)"),
           ("precision", "Precision"), ("recall", "Recall"))  # fmt: skip


def level_label(level: float) -> str:
    return f"{100 * level:g} %"


def bar_chart(results: pd.DataFrame, losses: list[str], path: str) -> None:
    """Mean over seeds with standard-deviation error bars, one group per loss, one bar per imbalance level."""
    levels = sorted(results["level"].unique(), reverse=True)
    fig, axes = plt.subplots(len(METRICS), 1, figsize=(13, 3.2 * len(METRICS)), sharex=True)
    width = 0.8 / len(levels)
    x = np.arange(len(losses))
    for ax, (metric, title) in zip(axes, METRICS):
        stats = results.groupby(["loss", "level"])[metric].agg(["mean", "std"])
        for k, level in enumerate(levels):
            mean = [stats["mean"].get((n, level), np.nan) for n in losses]
            std = [stats["std"].get((n, level), np.nan) for n in losses]
            ax.bar(x + (k - (len(levels) - 1) / 2) * width, mean, width, yerr=std, capsize=2,
                   label=f"foreground {level_label(level)}")  # fmt: skip
        ax.set_ylabel(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(ncol=len(levels), fontsize=8)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(losses, rotation=35, ha="right")
    fig.suptitle("Rare-class metrics on the test volumes: mean ± std over seeds")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


def curves_figure(curves: pd.DataFrame, losses: list[str], path: str) -> None:
    """Training loss (per run rescaled to first epoch = 1, lowest epoch = 0, so losses of different scales and
    signs, e.g. Combo's negative values, compare) and validation Dice per epoch, mean over seeds; one column per
    imbalance level."""
    levels = sorted(curves["level"].unique(), reverse=True)
    fig, axes = plt.subplots(2, len(levels), figsize=(5 * len(levels), 8), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for j, level in enumerate(levels):
        sub = curves[curves["level"] == level]
        for i, loss in enumerate(losses):
            c = sub[sub["loss"] == loss]
            if c.empty:
                continue
            first = c[c["epoch"] == 1].set_index("seed")["train_loss"]
            low = c.groupby("seed")["train_loss"].min()
            span = (c["seed"].map(first) - c["seed"].map(low)).where(lambda s: s.abs() > 1e-12)
            rel = (c["train_loss"] - c["seed"].map(low)) / span
            mean = c.assign(rel=rel).groupby("epoch")[["rel", "val_dice"]].mean()
            style = "-" if i < 10 else "--"
            axes[0, j].plot(mean.index, mean["rel"], style, color=cmap(i), label=loss)
            axes[1, j].plot(mean.index, mean["val_dice"], style, color=cmap(i), label=loss)
        axes[0, j].set_title(f"foreground {level_label(level)}")
        axes[0, j].set_ylabel("training loss, rescaled (first epoch 1, lowest 0)")
        axes[1, j].set_ylabel("validation Dice")
        axes[1, j].set_xlabel("epoch")
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8)
    fig.suptitle("Training and validation curves (mean over seeds)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def overlay_figure(overlays: dict, losses: list[str], level: float, path: str, half_window: int = 10) -> None:
    """The hard case: one test slice through the rare object (cropped to ``half_window`` voxels around it),
    reference (green outline) and prediction (red)."""
    cols = 4
    rows = int(np.ceil(len(losses) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, loss in zip(axes.ravel(), losses):
        item = overlays.get(f"{loss}__{level:g}")
        if item is None:
            continue
        image, label, prob = (np.asarray(item[k], dtype=float) for k in ("image", "label", "prob"))
        if label.any():
            cx, cy = np.argwhere(label).mean(axis=0).round().astype(int)
            x0, y0 = max(cx - half_window, 0), max(cy - half_window, 0)
            crop = (slice(x0, cx + half_window + 1), slice(y0, cy + half_window + 1))
            image, label, prob = image[crop], label[crop], prob[crop]
        ax.imshow(image.T, cmap="gray", origin="lower")
        pred = np.ma.masked_where(prob.T < 0.5, np.ones_like(prob.T))
        ax.imshow(pred, cmap=ListedColormap(["red"]), alpha=0.5, origin="lower", vmin=0, vmax=1)
        if label.any():
            ax.contour(label.T, levels=[0.5], colors="lime", linewidths=1.0, origin="lower")
        ax.set_title(loss, fontsize=9)
    fig.suptitle(f"Hard case: foreground {level_label(level)}, first seed, first test volume "
                 "(green: reference, red: prediction)")  # fmt: skip
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
