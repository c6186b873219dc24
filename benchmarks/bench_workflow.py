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

With ``--maps``, the cost of the map losses' maps (issue 13) where the bundle computes them and where MONAI does:
per training batch of the bundle's loader (its cached data set and random transforms, on the built-in synthetic
BraTS data, and with ``--kits True`` the KiTS19 overlay's), the worker's CPU time without maps and with each map
transform the config appends for a map loss (``SignedDistanced`` signed / unsigned, ``ConnectedComponentsd``),
and the loader's wall time per batch (``DataLoader``, the config's worker processes); then, on a patch batch of
that loader, what a training step pays when the maps are not data: MONAI's own map computation
(``BoundaryLoss.compute_distance_map``, ``HausdorffDTLoss.distance_field`` of the target), MONAI's losses forward
+ backward (maps inside) against ours with the maps in the target, and our losses' own map computation from a
plain label (``maps_in_target=False``). CPU-clock rows are interleaved in one run (one torch thread: the work
done, not the wait for a core on a shared machine).

Usage::

    python -m benchmarks.bench_workflow --quick
    python -m benchmarks.bench_workflow                  # full sizes; about 10 minutes on 2 CPU cores
    python -m benchmarks.bench_workflow --loader True    # also time the training data loader
    python -m benchmarks.bench_workflow --train False --infer False --maps True --kits True --threads 1
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import time
from collections.abc import Sequence

import fire
import torch
from monai import losses as monai_losses
from monai.bundle import ConfigParser
from monai.data import list_data_collate
from monai.inferers import SlidingWindowInferer
from monai.losses import DiceLoss
from monai.networks.nets import SegResNet

from benchmarks._machine import describe
from benchmarks._memory import peak_extra_bytes
from benchmarks._timing import forward_backward, interleaved_medians, synchronize
from scripts.losses import _maps, build_loss
from scripts.losses._maps import batch_maps

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


TASKS = {
    "brats": ("configs/train.json",),
    "kits19": ("configs/train.json", "configs/kits19_common.json", "configs/kits19.json"),
}
# the loader without maps and with the map transform the config appends for each kind (a loss of that kind)
MAP_LOSSES = (
    ("without maps (the default loss)", None),
    ("+ SignedDistanced, signed (boundary, gdl_boundary)", "boundary"),
    ("+ SignedDistanced, unsigned (hausdorff_dt, log_hausdorff_dt)", "hausdorff_dt"),
    ("+ ConnectedComponentsd (blob)", "blob"),
    ("+ TubedSkeletond (skeleton_recall)", "skeleton_recall"),
)


def bundle_config(config_file: str | Sequence[str] = "configs/train.json") -> ConfigParser:
    files = [config_file] if isinstance(config_file, str) else list(config_file)
    parser = ConfigParser()
    parser.read_config([os.path.join(REPO, f) for f in files])
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


def train_step_timer(
    settings: dict,
    in_channels: int,
    out_channels: int,
    device: torch.device,
    amp: bool,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
):
    """(step closure, loss-only closure, voxels per batch); ``data``: ``(image, label)`` of a loader batch
    instead of random ones."""
    net = settings["network"].to(device).train()
    loss_fn = settings["loss"]
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    if data is None:
        image, label = _batch(in_channels, out_channels, settings["batch"], settings["patch"], device)
    else:
        image, label = (t.as_tensor().to(device) if hasattr(t, "as_tensor") else t.to(device) for t in data)
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


def synthetic_parser(
    tmp: str,
    n_cases: int,
    shape: tuple | None,
    task: str = "brats",
    loss_name: str | None = None,
    overrides: dict | None = None,
) -> ConfigParser:
    """The bundle's training config of ``task`` on its built-in synthetic data under ``tmp`` (``shape``: the
    cases' shape, ``None`` the config's), with ``--loss_name`` and the command line's ``overrides`` when given."""
    parser = bundle_config(TASKS[task])
    for key, value in (overrides or {}).items():
        parser[key] = value
    parser["bundle_root"] = tmp
    parser["synthetic_num_cases"] = n_cases
    if shape is not None:
        parser["synthetic_shape"] = list(shape)
    if loss_name is not None:
        parser["loss_name"] = loss_name
    return parser


def loader_timer(
    n_cases: int,
    shape: tuple | None,
    epochs: int,
    target: str = "DataLoader",
    task: str = "brats",
    loss_name: str | None = None,
) -> tuple[float, float, int]:
    """Build the bundle's cached training loader on a synthetic data set (time of the caching), then time
    ``epochs`` passes: seconds per batch. ``target``: the loader class, as a user overrides it on the command
    line (``--train#dataloader#_target_ ThreadDataLoader``); ``loss_name``: a map loss makes the config append its
    map transform."""
    with tempfile.TemporaryDirectory() as tmp:
        parser = synthetic_parser(tmp, n_cases, shape, task, loss_name)
        parser["train#dataloader#_target_"] = target
        start = time.perf_counter()
        loader = parser.get_parsed_content("train#dataloader")
        cache_s = time.perf_counter() - start
        n_batches, start = 0, time.perf_counter()
        for _ in range(epochs):
            for _ in loader:
                n_batches += 1
        return cache_s, (time.perf_counter() - start) / max(n_batches, 1), n_batches


def map_transform_closures(parser: ConfigParser) -> tuple[dict, list]:
    """The worker's work per training batch (one item of the cached data set: the random transforms, the
    ``num_samples`` patches), without maps and with each kind's map transform appended as the config does
    (closures, each over the cases in the same order); and one collated patch batch of the loader."""
    dataset = parser.get_parsed_content("train#dataset")  # cached: the deterministic transforms, once
    default_loss = parser["loss_name"]
    fns = {}
    for label, loss_name in MAP_LOSSES:
        parser["loss_name"] = loss_name or default_loss
        maps = parser.get_parsed_content("loss_map_transforms", lazy=False)
        if loss_name is not None and not maps:
            raise ValueError(f"the config adds no map transform for --loss_name {loss_name}.")
        cases = itertools.cycle(range(len(dataset)))

        def one_batch(maps=maps, cases=cases) -> list:
            items = dataset[next(cases)]
            items = items if isinstance(items, list) else [items]
            for transform in maps:
                items = [transform(item) for item in items]
            return items

        fns[label] = one_batch
    parser["loss_name"] = default_loss
    return fns, list_data_collate(dataset[0])


def step_map_closures(label: torch.Tensor, softmax: bool, classes: int, compile: bool = True) -> dict:
    """What a training step pays for maps that are not data, on the patch batch ``label`` (float; regions
    ``(B, C, ...)`` for sigmoid, labels ``(B, 1, ...)`` for softmax): MONAI's map computation and losses (maps
    inside), ours with the maps in the target, and our losses' own maps from a plain label."""
    label = label.as_tensor() if hasattr(label, "as_tensor") else label
    act = {"softmax": True, "to_onehot_y": True} if softmax else {"sigmoid": True}
    onehot = torch.cat([label == k for k in range(classes)], 1).float() if softmax else label.float()
    x = torch.randn(onehot.shape, generator=torch.Generator().manual_seed(0))
    masks = onehot > 0.5
    with_maps = {kind: torch.cat([label, batch_maps(masks, kind)], 1) for kind in ("signed", "unsigned")}
    ours_boundary = build_loss("boundary", **act, maps_in_target=True, compile=compile)
    monai_boundary = monai_losses.BoundaryLoss(include_background=ours_boundary.include_background, **act)
    monai_hausdorff = monai_losses.HausdorffDTLoss(alpha=2.0, include_background=True, **act)

    mode = "compiled" if compile else "eager"
    edt_name = "edt" if _maps.HAS_EDT else "MONAI's distance_transform_edt"
    cc_name = "cc3d" if _maps.HAS_CC3D and masks.ndim == 5 else "torch labeller"

    def hausdorff_target_fields() -> list:
        return [monai_hausdorff.distance_field(onehot[:, [c]]) for c in range(onehot.shape[1])]

    return {
        "MONAI BoundaryLoss.compute_distance_map (the target's signed maps)": lambda: (
            monai_boundary.compute_distance_map(onehot)
        ),
        "MONAI HausdorffDTLoss.distance_field of the target, per channel": hausdorff_target_fields,
        "MONAI BoundaryLoss forward + backward (maps inside)": forward_backward(monai_boundary, x, label),
        f"ours boundary, maps in the target, forward + backward ({mode})": forward_backward(
            ours_boundary, x, with_maps["signed"]
        ),
        "MONAI HausdorffDTLoss forward + backward (both maps inside)": forward_backward(monai_hausdorff, x, label),
        f"ours hausdorff_dt, maps in the target, forward + backward ({mode})": forward_backward(
            build_loss("hausdorff_dt", **act, maps_in_target=True, compile=compile), x, with_maps["unsigned"]
        ),
        f"ours, maps from a plain label: signed ({edt_name})": lambda: batch_maps(masks, "signed"),
        f"ours, maps from a plain label: components ({cc_name})": lambda: batch_maps(masks, "components"),
    }


@contextlib.contextmanager
def _threads(n: int | None):
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def maps_tables(
    task: str,
    n_cases: int,
    shape: tuple | None,
    repeats: int,
    loader_epochs: int = 2,
    step: bool = True,
    compile: bool = True,
    overrides: dict | None = None,
) -> str:
    """The two tables of ``--maps`` for ``task`` (markdown); ``overrides``: config ids set as on the command line
    (the GPU settings of docs/data.md for ``--realsize``), then also the map speed table on the first patch."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        parser = synthetic_parser(tmp, n_cases, shape, task, overrides=overrides)
        ours = ours_settings(parser)
        fns, batch = map_transform_closures(parser)
        worker = interleaved_medians(fns, repeats, torch.device("cpu"), clock="cpu")
        label = batch["label"]
        if overrides:
            out.append(map_speed_table(label[0], repeats) + "\n")
        softmax = bool(parser.get("loss").get("softmax", False))
        steps = step_map_closures(label, softmax, ours["out_channels"], compile=compile)
        if step:
            data = (batch["image"], label)
            train_step, _, _ = train_step_timer(
                ours, ours["in_channels"], ours["out_channels"], torch.device("cpu"), False, data
            )
            steps["our training step (the config's network and default loss)"] = train_step
        per_step = interleaved_medians(steps, repeats, torch.device("cpu"), clock="cpu")
    cases = f"{n_cases} synthetic cases" + (f" {tuple(shape)}" if shape else "")
    patches = f"{ours['batch']} patches {ours['patch']}"
    loader_rows = {}
    if loader_epochs:  # the config's DataLoader (worker processes), its own cache per map transform
        for row_label, loss_name in MAP_LOSSES:
            _, per_batch, n = loader_timer(n_cases, shape, loader_epochs, "DataLoader", task, loss_name)
            loader_rows[row_label] = (per_batch, n)
    out.append(
        f"| {task} training loader ({cases}; a batch: {patches}, label {tuple(label.shape)}) | worker CPU ms per "
        "batch | x without maps | DataLoader ms per batch (wall) |\n|---|---:|---:|---:|"
    )
    base = worker[MAP_LOSSES[0][0]]
    for row_label, _ in MAP_LOSSES:
        wall = loader_rows.get(row_label)
        wall_cell = f"{1e3 * wall[0]:.0f} ({wall[1]} batches)" if wall else ""
        out.append(f"| {row_label} | {1e3 * worker[row_label]:.0f} | {worker[row_label] / base:.2f} | {wall_cell} |")
    step_key = next((k for k in per_step if k.startswith("our training step")), None)
    out.append(
        f"\n| {task}: per training step, on a loader batch (label {tuple(label.shape)}) | CPU ms | share of our "
        "training step |\n|---|---:|---:|"
    )
    for row_label, t in per_step.items():
        share = f"{t / per_step[step_key]:.1%}" if step_key and row_label != step_key else ""
        out.append(f"| {row_label} | {1e3 * t:.0f} | {share} |")
    return "\n".join(out)


# the settings for real data on a GPU of docs/data.md (its command for a BraTS download), as config ids
GPU_SETTINGS = {"patch_size": [128, 128, 128], "infer_roi_size": [240, 240, 160], "network_def#init_filters": 16}
MAP_TARGETS = {"distance": 0.35, "components": 0.5}  # issue 22: the transforms' time per patch against scipy's


def map_speed_table(label: torch.Tensor, repeats: int) -> str:
    """The map transforms' computation against scipy's on the same masks: the channels ``> 0.5`` of one patch
    label ``(C, *spatial)``; one thread, CPU clock. scipy: both Euclidean distance transforms per channel and the
    float32 map, as the transforms computed it before ``edt``; ``ndimage.label`` with full connectivity."""
    import numpy as np
    from scipy import ndimage

    from scripts.transforms.maps import component_map, distance_map

    masks = label.as_tensor().numpy() > 0.5 if hasattr(label, "as_tensor") else label.numpy() > 0.5

    def scipy_distances() -> list:
        out = []
        for m in masks:
            d_out, d_in = ndimage.distance_transform_edt(~m), ndimage.distance_transform_edt(m)
            out.append(np.where(m, -(d_in - 1), d_out).astype(np.float32))
        return out

    structure = np.ones((3,) * (masks.ndim - 1))
    fns = {
        "distance: scipy": scipy_distances,
        "distance: SignedDistanced (edt)": lambda: [distance_map(m, True) for m in masks],
        "components: scipy": lambda: [ndimage.label(m, structure=structure)[0].astype(np.float32) for m in masks],
        "components: ConnectedComponentsd (cc3d)": lambda: [component_map(m, None) for m in masks],
    }
    t = interleaved_medians(fns, repeats, torch.device("cpu"), clock="cpu")
    lines = [
        f"| maps of one patch, {tuple(masks.shape)}, {masks.mean():.1%} foreground | CPU ms | x scipy | target |",
        "|---|---:|---:|---:|",
    ]
    for kind in ("distance", "components"):
        base = t[f"{kind}: scipy"]
        for name in (n for n in t if n.startswith(kind)):
            ratio = t[name] / base
            target = (
                ""
                if name.endswith("scipy")
                else f"<= {MAP_TARGETS[kind]} ({'met' if ratio <= MAP_TARGETS[kind] else 'NOT met'})"
            )
            lines.append(f"| {name} | {1e3 * t[name]:.0f} | {ratio:.2f} | {target} |")
    return "\n".join(lines)


def realsize_tables(repeats: int, n_cases: int = 2, maps_only: bool = False) -> None:
    """``--realsize``: the GPU settings of docs/data.md on 240 x 240 x 155 synthetic cases, on this CPU: the map speed
    table, the loader per batch with each map transform, the map rows per step and a training step (one thread),
    then the training step's and one case's sliding-window inference's wall time and peak memory; printed as
    each table is done. ``maps_only``: the map tables only."""
    print(
        maps_tables("brats", n_cases, BRATS_VOLUME, repeats, 0, step=False, compile=False, overrides=GPU_SETTINGS),
        flush=True,
    )
    if maps_only:
        return
    parser = bundle_config()
    for key, value in GPU_SETTINGS.items():
        parser[key] = value
    ours = ours_settings(parser)
    cin, cout, cpu = ours["in_channels"], ours["out_channels"], torch.device("cpu")
    step, _, _ = train_step_timer(ours, cin, cout, cpu, False)
    infer = inference_timer(ours, BRATS_VOLUME, cin, cpu, False)
    print(
        f"\n| README GPU settings on this CPU ({ours['batch']} patches {ours['patch']}, init_filters "
        f"{ours['network'].init_filters}, roi {ours['roi']}) | wall s | peak extra memory GiB | load average |"
        "\n|---|---:|---:|---:|",
        flush=True,
    )
    for name, fn in (("training step", step), (f"sliding-window inference of one case {BRATS_VOLUME}", infer)):
        fn()  # warm-up
        start = time.perf_counter()
        peak = peak_extra_bytes(fn, cpu)
        wall = time.perf_counter() - start
        load = os.getloadavg()[0]
        print(f"| {name} | {wall:.1f} | {peak / 2**30:.2f} | {load:.1f} |", flush=True)


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
    maps: bool = False,
    kits: bool = False,
    threads: int | None = None,
    map_repeats: int = 10,
    map_loader_epochs: int = 2,
    realsize: bool = False,
    realsize_maps_only: bool = False,
) -> None:
    """``maps``: the map tables (CPU, one thread unless ``threads``); ``kits``: with the KiTS19 overlay's loader
    too; ``threads``: torch's intra-op threads for the whole run (default: torch's); ``map_loader_epochs``: epochs
    of the config's ``DataLoader`` per map transform for the wall-clock column (0: none, e.g. on a loaded
    machine, where wall time measures the other jobs); ``realsize``: the real-size tables (``realsize_tables``),
    ``realsize_maps_only``: their map tables only (minutes, not the training step and inference)."""
    if threads:
        torch.set_num_threads(threads)
    if realsize:
        with _threads(threads or 1):
            print(f"# machine: {describe(torch.device('cpu'))}; realsize: {repeats or 2} repeats (median), cpu clock\n")
            realsize_tables(repeats or 2, maps_only=realsize_maps_only)
            print(f"\n# load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
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
    if maps:
        with _threads(threads or 1):
            n_cases, shape = (4, (48, 48, 32)) if quick else (12, (96, 96, 64))
            print(f"\n# maps: torch threads {torch.get_num_threads()}, {map_repeats} repeats (median), cpu clock\n")
            print(maps_tables("brats", n_cases, shape, map_repeats, loader_epochs=map_loader_epochs), flush=True)
            if kits:
                print()
                # the worker's work only: each DataLoader row would cache the resampled volumes again
                print(maps_tables("kits19", 4 if quick else 6, None, map_repeats, loader_epochs=0), flush=True)
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
