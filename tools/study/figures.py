"""Matplotlib (Agg) figures of the study, drawn from the consolidated results only."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scripts.files import atomic_path  # noqa: E402

N_BOOT = 2000


def size_class_of(voxels, size_classes) -> np.ndarray:
    """Index of the size class (by the upper bounds, ascending) of every lesion size."""
    uppers = np.array([hi for _, hi in size_classes])
    return np.minimum(np.searchsorted(uppers, np.asarray(voxels), side="left"), len(uppers) - 1)


def detection_by_size(lesions: pd.DataFrame, size_classes, seed: int = 0) -> pd.DataFrame:
    """Detection sensitivity per (level, sampler, loss, size class): the mean of ``detected`` and a 95 % interval
    from a bootstrap over seeds (the lesions of a seed share its network, so seeds are the resampled unit)."""
    rng = np.random.default_rng(seed)
    df = lesions.assign(size_class=size_class_of(lesions["lesion_voxels"], size_classes))
    rows = []
    for key, sub in df.groupby(["level", "sampler", "loss", "size_class"], sort=False):
        per_seed = sub.groupby("seed")["detected"].agg(["sum", "count"]).to_numpy(float)
        idx = rng.integers(0, len(per_seed), size=(N_BOOT, len(per_seed)))
        boot = per_seed[idx, 0].sum(axis=1) / per_seed[idx, 1].sum(axis=1)
        low, high = np.quantile(boot, [0.025, 0.975])
        rows.append(dict(zip(["level", "sampler", "loss", "size_class"], key))
                    | {"sensitivity": per_seed[:, 0].sum() / per_seed[:, 1].sum(), "low": low, "high": high,
                       "lesions": int(per_seed[:, 1].sum())})  # fmt: skip
    return pd.DataFrame(rows)


def detection_figure(table: pd.DataFrame, losses, size_classes, path: str) -> None:
    """Sensitivity with its interval per loss and size class; one panel per (level, sampler)."""
    cells = list(table[["level", "sampler"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = plt.subplots(len(cells), 1, figsize=(13, 2.8 * len(cells)), sharex=True, squeeze=False)
    x = np.arange(len(losses))
    labels = [f"{lo}-{hi} voxels" for lo, hi in size_classes]
    for ax, (level, sampler) in zip(axes[:, 0], cells):
        sub = table[(table["level"] == level) & (table["sampler"] == sampler)].set_index(["loss", "size_class"])
        for k, label in enumerate(labels):
            rows = [sub.loc[(n, k)] if (n, k) in sub.index else None for n in losses]
            mean = np.array([r["sensitivity"] if r is not None else np.nan for r in rows])
            low = np.array([r["low"] if r is not None else np.nan for r in rows])
            high = np.array([r["high"] if r is not None else np.nan for r in rows])
            ax.errorbar(x + (k - 1) * 0.22, mean, yerr=[mean - low, high - mean], fmt="o", ms=4, capsize=2,
                        label=label)  # fmt: skip
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("detected")
        ax.set_title(f"level {level}, {sampler} sampler", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(ncol=len(labels), fontsize=8, title="lesion size", title_fontsize=8)
    axes[-1, 0].set_xticks(x)
    axes[-1, 0].set_xticklabels(losses, rotation=35, ha="right")
    fig.suptitle("Detection sensitivity by lesion size (official BraTS matching), 95 % bootstrap interval over seeds")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def paired_figure(paired: pd.DataFrame, losses, metrics, path: str) -> None:
    """Forest plot: each loss minus the baseline with its 95 % interval, one panel per metric, one colour per
    (level, sampler)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 0.32 * len(losses) + 1.8), sharey=True)
    others = [n for n in losses if n in set(paired["loss"])]
    y = np.arange(len(others))
    cells = list(paired[["level", "sampler"]].drop_duplicates().itertuples(index=False, name=None))
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        for k, (level, sampler) in enumerate(cells):
            sub = paired[(paired["metric"] == metric) & (paired["level"] == level) & (paired["sampler"] == sampler)]
            sub = sub.set_index("loss").reindex(others)
            m = sub["mean_diff"].to_numpy(float)
            ax.errorbar(m, y + (k - (len(cells) - 1) / 2) * 0.18,
                        xerr=[m - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - m],
                        fmt="o", ms=3, capsize=1.5, label=f"{level}, {sampler}")  # fmt: skip
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{metric}: loss − {paired['baseline'].iloc[0]}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(y)
    first.set_yticklabels(others)
    first.invert_yaxis()
    first.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
