"""Training step, sliding-window inference and data loading of the BraTS bundle, against the model zoo's BraTS
bundle settings.

Ours: the network, patch size, batch, loss and inferer of ``configs/train.json`` (read with MONAI's
``ConfigParser``, so the table follows the config). Zoo: ``brats_mri_segmentation`` (model zoo, configs
``train.json`` / ``inference.json``): the same SegResNet architecture with ``init_filters`` 16, patches
224x224x144, batch 1, ``DiceLoss(squared_pred=True, smooth_nr=0, sigmoid=True)``; inference with windows
of 240x240x160, ``sw_batch_size`` 1, overlap 0.5, constant blending.

Printed: one training step (forward, loss, backward, Adam step) in ms and in ns per patch voxel; the share
of the loss in it; one sliding-window inference of a BraTS-sized volume (4, 240, 240, 155); and, with
``--loader``, the time the bundle's cached training data loader takes per batch next to the step time (the
loader must not starve the network), with process workers (``DataLoader``, the config's) and with MONAI's
``ThreadDataLoader`` (``--train#dataloader#_target_ ThreadDataLoader`` on the bundle's command line). On CPU
the full sizes take minutes: ``--quick`` halves every edge of the volume and of the zoo's patch and window (ours
as configured).

Usage::

    python -m benchmarks.bench_workflow --quick
    python -m benchmarks.bench_workflow                  # full sizes; about 10 minutes on 2 CPU cores
    python -m benchmarks.bench_workflow --loader True    # also time the training data loader
"""

from __future__ import annotations

import os
import tempfile
import time

import fire
import torch
from monai.bundle import ConfigParser
from monai.inferers import SlidingWindowInferer
from monai.losses import DiceLoss
from monai.networks.nets import SegResNet

from benchmarks._machine import describe
from benchmarks._timing import interleaved_medians, synchronize

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRATS_VOLUME = (240, 240, 155)
# the training loader classes compared: process workers (the config's) and MONAI's thread-buffered loader
LOADERS = ("DataLoader", "ThreadDataLoader")
ZOO = {
    "network": {"blocks_down": [1, 2, 2, 4], "blocks_up": [1, 1, 1], "init_filters": 16, "dropout_prob": 0.2},
    "patch": (224, 224, 144),
    "batch": 1,
    "roi": (240, 240, 160),
    "sw_batch_size": 1,
    "overlap": 0.5,
    "mode": "constant",
}


def bundle_config(config_file: str = "configs/train.json") -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(os.path.join(REPO, config_file))
    return parser


def ours_settings(parser: ConfigParser) -> dict:
    inferer = parser.get("validate#inferer")
    return {
        "network": parser.get_parsed_content("network_def"),
        "patch": tuple(parser.get_parsed_content("patch_size")),
        "batch": parser.get_parsed_content("batch_size") * parser.get_parsed_content("num_samples"),
        "loss": parser.get_parsed_content("loss"),
        "loss_name": parser.get_parsed_content("loss_name"),
        "roi": tuple(parser.get_parsed_content("infer_roi_size")),
        "sw_batch_size": parser.get_parsed_content("sw_batch_size"),
        "overlap": parser.get_parsed_content("sw_overlap"),
        "mode": inferer["mode"],
        "in_channels": parser.get_parsed_content("in_channels"),
        "out_channels": parser.get_parsed_content("out_channels"),
    }


def zoo_settings(in_channels: int, out_channels: int) -> dict:
    net = SegResNet(in_channels=in_channels, out_channels=out_channels, **ZOO["network"])
    loss = DiceLoss(smooth_nr=0, smooth_dr=1e-5, squared_pred=True, to_onehot_y=False, sigmoid=True)
    return {**ZOO, "network": net, "loss": loss, "loss_name": "monai DiceLoss(squared_pred)"}


def _batch(channels: int, out_channels: int, batch: int, patch: tuple, device: torch.device):
    gen = torch.Generator().manual_seed(0)
    image = torch.randn(batch, channels, *patch, generator=gen)
    label = (torch.rand(batch, out_channels, *patch, generator=gen) < 0.05).float()
    return image.to(device), label.to(device)


def train_step_timer(settings: dict, in_channels: int, out_channels: int, device: torch.device, amp: bool):
    """(step closure, loss-only closure, voxels per batch)."""
    net = settings["network"].to(device).train()
    loss_fn = settings["loss"]
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    image, label = _batch(in_channels, out_channels, settings["batch"], settings["patch"], device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=amp):
            out = net(image)
            loss = loss_fn(out, label)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    with torch.no_grad(), torch.autocast(device.type, enabled=amp):
        logits = net(image).detach()

    def loss_only() -> None:
        leaf = logits.detach().requires_grad_()
        with torch.autocast(device.type, enabled=amp):
            loss_fn(leaf, label).backward()

    return step, loss_only, image[:, 0].numel()


def inference_timer(settings: dict, volume: tuple, in_channels: int, device: torch.device, amp: bool, **override):
    net = settings["network"].to(device).eval()
    inferer = SlidingWindowInferer(
        roi_size=override.get("roi", settings["roi"]),
        sw_batch_size=override.get("sw_batch_size", settings["sw_batch_size"]),
        overlap=override.get("overlap", settings["overlap"]),
        mode=override.get("mode", settings["mode"]),
    )
    image = torch.randn(1, in_channels, *volume, generator=torch.Generator().manual_seed(1)).to(device)

    def infer() -> None:
        with torch.inference_mode(), torch.autocast(device.type, enabled=amp):
            inferer(image, net)

    return infer


def loader_timer(n_cases: int, shape: tuple, epochs: int, target: str = "DataLoader") -> tuple[float, float, int]:
    """Build the bundle's cached training loader on a synthetic data set (time of the caching), then time
    ``epochs`` passes: seconds per batch. ``target``: the loader class, as a user overrides it on the command
    line (``--train#dataloader#_target_ ThreadDataLoader``)."""
    with tempfile.TemporaryDirectory() as tmp:
        parser = bundle_config()
        parser["bundle_root"] = tmp
        parser["synthetic_num_cases"] = n_cases
        parser["synthetic_shape"] = list(shape)
        parser["train#dataloader#_target_"] = target
        start = time.perf_counter()
        loader = parser.get_parsed_content("train#dataloader")
        cache_s = time.perf_counter() - start
        n_batches, start = 0, time.perf_counter()
        for _ in range(epochs):
            for _ in loader:
                n_batches += 1
        return cache_s, (time.perf_counter() - start) / max(n_batches, 1), n_batches


def _scaled(t: tuple, factor: float) -> tuple:
    return tuple(max(16, int(round(v * factor / 16)) * 16) for v in t)


def main(
    quick: bool = False,
    repeats: int | None = None,
    device: str | None = None,
    train: bool = True,
    infer: bool = True,
    loader: bool = False,
    amp: bool | None = None,
) -> None:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    amp = dev.type == "cuda" if amp is None else amp
    repeats = repeats or (3 if quick else 2)
    parser = bundle_config()
    ours = ours_settings(parser)
    cin, cout = ours["in_channels"], ours["out_channels"]
    zoo = zoo_settings(cin, cout)
    volume = BRATS_VOLUME
    if quick:
        volume = tuple(v // 2 for v in BRATS_VOLUME)
        zoo.update(patch=_scaled(zoo["patch"], 0.5), roi=_scaled(zoo["roi"], 0.5))
    print(f"# machine: {describe(dev)}; amp {amp}; {repeats} repeats (median), one warm-up")
    print(
        f"# ours: {ours['network'].__class__.__name__} init_filters {ours['network'].init_filters}, "
        f"patch {ours['patch']} x batch {ours['batch']}, loss {ours['loss_name']}, roi {ours['roi']}, "
        f"sw_batch_size {ours['sw_batch_size']}, overlap {ours['overlap']}, {ours['mode']} blending"
    )
    print(
        f"# zoo:  SegResNet init_filters {ZOO['network']['init_filters']}, patch {zoo['patch']} x batch "
        f"{zoo['batch']}, loss {zoo['loss_name']}, roi {zoo['roi']}, sw_batch_size {zoo['sw_batch_size']}, "
        f"overlap {zoo['overlap']}, {zoo['mode']} blending; volume {volume}\n"
    )
    step_ms = None
    if train:
        print("| training step | ms / step | ns / voxel | loss fwd+bwd ms | loss share |\n|---|---:|---:|---:|---:|")
        for name, s in (("ours", ours), ("zoo", zoo)):
            step, loss_only, voxels = train_step_timer(s, cin, cout, dev, amp)
            t = interleaved_medians({"step": step, "loss": loss_only}, repeats, dev)
            if name == "ours":
                step_ms = 1e3 * t["step"]
            print(
                f"| {name} | {1e3 * t['step']:.0f} | {1e9 * t['step'] / voxels:.0f} | {1e3 * t['loss']:.1f} | "
                f"{t['loss'] / t['step']:.1%} |",
                flush=True,
            )
    if infer:
        print(f"\n| sliding-window inference of {volume} | s |\n|---|---:|")
        cases = [
            ("ours (config)", ours, {}),
            ("ours, sw_batch_size 4", ours, {"sw_batch_size": 4}),
            ("ours, overlap 0.25", ours, {"overlap": 0.25}),
            ("zoo", zoo, {}),
        ]
        for label, s, override in cases:
            run = inference_timer(s, volume, cin, dev, amp, **override)
            t = interleaved_medians({"infer": run}, repeats, dev)["infer"]
            synchronize(dev)
            print(f"| {label} | {t:.1f} |", flush=True)
    if loader:
        n_cases, shape = (4, (48, 48, 32)) if quick else (12, (96, 96, 64))
        print(f"\n| cached training loader ({n_cases} synthetic cases {shape}) | caching s | ms per batch |")
        print("|---|---:|---:|")
        for target in LOADERS:
            cache_s, per_batch, n = loader_timer(n_cases, shape, epochs=2, target=target)
            verdict = ""
            if step_ms is not None:
                verdict = " (keeps up)" if 1e3 * per_batch <= step_ms else " (starves the network)"
            print(f"| {target}, {n} batches | {cache_s:.1f} | {1e3 * per_batch:.0f}{verdict} |")
        if step_ms is not None:
            print(f"| our training step | | {step_ms:.0f} |")


if __name__ == "__main__":
    fire.Fire(main)
