"""One study run: patch-based training of the preset's U-Net with one loss on one (level, sampler, seed) data set,
then whole-volume sliding-window evaluation with lesion-wise outcomes.

A plain PyTorch loop with the bundle's MONAI transforms instead of ``monai.bundle run``: the grid is hundreds of
runs of seconds each. Paired by design: at a given seed every loss starts from the same weights and sees the same
patches in the same order (the volume and the crop of iteration ``i`` come from a generator seeded by
``(seed, i)``, never from a stream that the loss or the network could advance).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet
from monai.transforms import RandCropByPosNegLabeld, RandSpatialCropd

from scripts.losses import GDLBoundaryLoss, build_loss, rebalanced_alpha
from scripts.metrics import betti0, brats_hd95, cldice_score, reference_lesion_outcomes

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
    """``"auto"``: CUDA when available, else CPU; any other name as given (``"cuda"`` must be available)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but no CUDA device is available; use device='auto' or 'cpu'.")
    return torch.device(name)


def make_sampler(name: str, preset: Preset):
    """The patch transform of ``name``: ``RandSpatialCropd`` or the bundle's ``RandCropByPosNegLabeld``."""
    keys = ["image", "label"]
    if name == "uniform":
        return RandSpatialCropd(keys, roi_size=preset.patch, random_size=False)
    if name == "foreground":
        return RandCropByPosNegLabeld(
            keys, label_key="label", spatial_size=preset.patch, pos=1, neg=1, num_samples=preset.num_samples
        )
    raise ValueError(f"unknown sampler {name!r}; valid: uniform, foreground.")


def patch_batch(sampler, name: str, preset: Preset, images, labels, seed: int, iteration: int):
    """The patches of one iteration: a volume and ``num_samples`` crops drawn from a generator seeded by
    ``(seed, iteration)`` only, so every loss at that seed sees the same batch."""
    rng = np.random.default_rng([seed, iteration])
    k = int(rng.integers(len(images)))
    sampler.set_random_state(seed=int(rng.integers(2**31)))
    item = {"image": images[k], "label": labels[k]}
    if name == "uniform":
        crops = [sampler(item) for _ in range(preset.num_samples)]
    else:
        crops = sampler(item)
    x = np.stack([np.asarray(c["image"]) for c in crops])
    y = np.stack([np.asarray(c["label"]) for c in crops]).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def predict_volume(net: torch.nn.Module, image: np.ndarray, preset: Preset) -> np.ndarray:
    """Foreground probability of one whole volume (1, *shape) by sliding-window inference over patches."""
    net.eval()
    device = next(net.parameters()).device
    x = torch.from_numpy(image[None]).to(device)
    logits = sliding_window_inference(x, preset.patch, preset.sw_batch_size, net, overlap=0.25)
    net.train()
    return torch.sigmoid(logits)[0, 0].cpu().numpy()


def case_outcomes(pred: np.ndarray, ref: np.ndarray) -> tuple[dict, list[dict]]:
    """Per-volume metrics and per-reference-lesion rows of one test case (binary masks of the same shape).

    Voxel Dice; HD95 of ``scripts.metrics.brats_hd95`` with the volume diagonal where it has no finite value
    (an empty prediction); the official BraTS matching for the lesions: detected, lesion-wise Dice (0 when
    missed), false-positive lesions; ``lesion_dice`` of the case is the mean over its reference lesions
    (missed ones count 0) and ``sensitivity`` the fraction detected.
    """
    pred, ref = pred.astype(bool), ref.astype(bool)
    tp, total = int(np.count_nonzero(pred & ref)), int(pred.sum() + ref.sum())
    diagonal = float(np.sqrt(np.sum(np.square(ref.shape))))
    outcomes, fp = reference_lesion_outcomes(pred, ref)
    lesion_rows = [{"lesion_voxels": o.voxels, "detected": int(o.detected), "lesion_dice": o.dice} for o in outcomes]
    case = {
        "dice": 2.0 * tp / total if total else 1.0,
        "hd95": brats_hd95(pred, ref, no_overlap_value=diagonal),
        "fp_lesions": fp,
        "lesion_dice": float(np.mean([o.dice for o in outcomes])),
        "sensitivity": float(np.mean([o.detected for o in outcomes])),
        "n_lesions": len(outcomes),
        "pred_voxels": int(pred.sum()),
        "ref_voxels": int(ref.sum()),
    }
    return case, lesion_rows


def tube_case_outcomes(pred: np.ndarray, ref: np.ndarray) -> tuple[dict, list[dict]]:
    """Per-volume metrics of one thin-structure test case: voxel Dice, clDice, the Betti-0 error (26-connectivity)
    and the component counts behind it; no per-lesion rows."""
    pred, ref = pred.astype(bool), ref.astype(bool)
    tp, total = int(np.count_nonzero(pred & ref)), int(pred.sum() + ref.sum())
    b_pred, b_ref = betti0(pred), betti0(ref)
    case = {
        "dice": 2.0 * tp / total if total else 1.0,
        "cldice": cldice_score(pred, ref),
        "betti0_error": abs(b_pred - b_ref),
        "pred_components": b_pred,
        "ref_components": b_ref,
        "pred_voxels": int(pred.sum()),
        "ref_voxels": int(ref.sum()),
    }
    return case, []


def train_one(preset: Preset, loss_name: str, level: str, sampler_name: str, seed: int, data: dict) -> dict:
    """Train and evaluate one run; returns ``{"cases": [...], "lesions": [...], "seconds", "train_loss"}``."""
    torch.set_num_threads(preset.threads)
    device = resolve_device(preset.device)
    torch.manual_seed(seed)
    net = build_network(preset).to(device)  # same initial weights for every loss at a given seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-channel include_background notices from MONAI's losses
        loss_fn = build_loss(loss_name, sigmoid=True, **({} if preset.compile_loss else {"compile": False}))
    optimizer = torch.optim.Adam(net.parameters(), lr=preset.lr)
    sampler = make_sampler(sampler_name, preset)
    x_train, y_train = data["train"]
    start, losses = time.perf_counter(), []
    for it in range(preset.iterations):
        if it % preset.iterations_per_epoch == 0 and isinstance(loss_fn, GDLBoundaryLoss):
            loss_fn.alpha = rebalanced_alpha(it // preset.iterations_per_epoch)  # the bundle's rebalance handler
        x, y = patch_batch(sampler, sampler_name, preset, x_train, y_train, seed, it)
        optimizer.zero_grad(set_to_none=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = loss_fn(net(x.to(device)), y.to(device))
        if not torch.isfinite(loss):
            raise ValueError(f"loss {loss_name!r} became {loss.item()} at iteration {it} ({level}, seed {seed}).")
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    key = {"level": level, "sampler": sampler_name, "seed": seed, "loss": loss_name}
    cases, lesion_rows = [], []
    outcomes = tube_case_outcomes if preset.task == "tubes" else case_outcomes
    for case, (image, label) in enumerate(zip(*data["test"])):
        pred = predict_volume(net, image, preset) >= preset.threshold
        metrics, rows = outcomes(pred, label[0])
        cases.append(key | {"case": case} | metrics)
        lesion_rows += [key | {"case": case, "lesion": i} | r for i, r in enumerate(rows)]
    return {
        "cases": cases,
        "lesions": lesion_rows,
        "seconds": time.perf_counter() - start,
        "final_train_loss": float(np.mean(losses[-preset.iterations_per_epoch :])),
    }
