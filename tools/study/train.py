"""One study run: train the preset's U-Net with one loss on one (level, seed) data set, then evaluate.

A plain PyTorch loop instead of ``monai.bundle run``: the grid is ~100 runs of a few seconds each, where
config parsing, ignite engines and handlers would cost more than the training itself; the budget is identical
for every loss by construction (same initial weights, same batch order, same optimizer, LR and iterations).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from monai.networks.nets import UNet

from scripts.losses import GDLBoundaryLoss, build_loss, rebalanced_alpha

from .metrics import rare_class_metrics
from .presets import Preset


def build_network(preset: Preset) -> torch.nn.Module:
    """The study network: MONAI's 3D U-Net, one input channel, one (foreground logit) output channel."""
    return UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=1,
        channels=tuple(preset.channels),
        strides=(2,) * (len(preset.channels) - 1),
        num_res_units=preset.num_res_units,
    )


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else CPU; any other name as given (``"cuda"`` must be available).

    Raises:
        ValueError: ``"cuda"`` requested on a machine without a CUDA device.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but no CUDA device is available; use device='auto' or 'cpu'.")
    return torch.device(name)


@torch.no_grad()
def predict(net: torch.nn.Module, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Foreground probabilities (sigmoid of the logits), same shape as ``images``."""
    net.eval()
    device = next(net.parameters()).device
    out = [
        torch.sigmoid(net(torch.from_numpy(images[i : i + batch_size]).to(device))).cpu()
        for i in range(0, len(images), batch_size)
    ]
    net.train()
    return torch.cat(out).numpy()


def mean_metrics(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Per-volume rare-class metrics averaged over volumes (NaNs left out, as for undefined precision)."""
    rows = [rare_class_metrics(p[0] >= threshold, lab[0]) for p, lab in zip(probs, labels)]
    out = {}
    for key in rows[0]:
        values = [r[key] for r in rows if not math.isnan(r[key])]
        out[key] = float(np.mean(values)) if values else math.nan
    return out


def hard_case_slice(image: np.ndarray, label: np.ndarray, prob: np.ndarray) -> dict[str, list]:
    """The axial slice through the foreground centroid of one test volume, for the overlay figure."""
    z = int(round(np.argwhere(label[0]).mean(axis=0)[2])) if label.any() else label.shape[-1] // 2
    return {
        "image": np.round(image[0, :, :, z], 3).tolist(),
        "label": label[0, :, :, z].astype(int).tolist(),
        "prob": np.round(prob[0, :, :, z], 3).tolist(),
    }


def train_one(preset: Preset, loss_name: str, level: float, seed: int, data: dict) -> dict:
    """Train and evaluate one run; returns the record saved as the run's JSON (metrics, curves, overlay)."""
    torch.set_num_threads(preset.threads)
    device = resolve_device(preset.device)
    torch.manual_seed(seed)
    net = build_network(preset).to(device)  # same initial weights for every loss at a given seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-channel include_background notices from MONAI's losses
        loss_fn = build_loss(loss_name, sigmoid=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=preset.lr)
    x_train, y_train = data["train"]
    x_val, y_val = data["val"]
    x_test, y_test = data["test"]
    order = np.random.default_rng(seed).integers(0, len(x_train), size=(preset.iterations, preset.batch_size))
    train_loss, val_dice = [], []
    start = time.perf_counter()
    alphas = []
    for it in range(preset.iterations):
        if it % preset.iterations_per_epoch == 0 and isinstance(loss_fn, GDLBoundaryLoss):
            # the bundle's LossRebalanceHandler: alpha of the 0-based epoch at the start of every epoch
            loss_fn.alpha = rebalanced_alpha(it // preset.iterations_per_epoch)
            alphas.append(loss_fn.alpha)
        idx = order[it]
        x = torch.from_numpy(x_train[idx]).to(device)
        y = torch.from_numpy(y_train[idx].astype(np.float32)).to(device)
        optimizer.zero_grad(set_to_none=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = loss_fn(net(x), y)
        if not torch.isfinite(loss):
            raise ValueError(f"loss {loss_name!r} became {loss.item()} at iteration {it} (level {level}, seed {seed}).")
        loss.backward()
        optimizer.step()
        train_loss.append(float(loss.item()))
        if (it + 1) % preset.iterations_per_epoch == 0 or it + 1 == preset.iterations:
            probs = predict(net, x_val, preset.batch_size)
            val_dice.append(mean_metrics(probs, y_val, preset.threshold)["dice"])
    seconds = time.perf_counter() - start
    test_probs = predict(net, x_test, preset.batch_size)
    test = mean_metrics(test_probs, y_test, preset.threshold)
    train_dice = mean_metrics(predict(net, x_train, preset.batch_size), y_train, preset.threshold)["dice"]
    epoch_loss = [
        float(np.mean(train_loss[i : i + preset.iterations_per_epoch]))
        for i in range(0, len(train_loss), preset.iterations_per_epoch)
    ]
    return {
        "loss": loss_name,
        "level": level,
        "seed": seed,
        "achieved_fraction": float(y_train.mean()),
        **test,
        "train_dice": train_dice,
        "best_val_dice": float(np.nanmax(val_dice)),
        "best_epoch": int(np.nanargmax(val_dice)) + 1,
        "last_val_dice": float(val_dice[-1]),
        "seconds": seconds,
        "alpha_per_epoch": alphas,
        "train_loss_per_iteration": train_loss,
        "train_loss_per_epoch": epoch_loss,
        "val_dice_per_epoch": val_dice,
        "overlay": hard_case_slice(x_test[0], y_test[0], test_probs[0]),
    }
