"""Issue 23, steps 3 and 4, on a CUDA device: the real-data settings of docs/data.md (128^3 patches, SegResNet
``init_filters`` 16, windows of 240 x 240 160) at BraTS size.

Printed (markdown): a training step fp32 vs AMP with the default loss, ``boundary`` and ``hausdorff_dt`` (maps in
the target, as the bundle's loader gives them; the Hausdorff loss still computes the prediction's map every
step); the Hausdorff losses' prediction map on the device (cuCIM through MONAI, where installed) vs through the
host (scipy); sliding-window inference of one (4, 240, 240, 155) case fp32 vs AMP; peak memory of each
(``torch.cuda.max_memory_allocated`` on CUDA, resident memory on CPU). Compare the step times with the loader's
time per batch of ``bench_workflow --realsize`` to size the loader's workers (docs/benchmarks.md, "Sizing a GPU
run").

Usage::

    python -m benchmarks.bench_realsize_device                 # on the GPU machine (device_check.sh step 5)
    python -m benchmarks.bench_realsize_device --device cpu --quick True   # a check of the script, small sizes
"""

from __future__ import annotations

import fire
import torch

from benchmarks._machine import describe
from benchmarks._memory import peak_extra_bytes
from benchmarks._timing import interleaved_medians
from benchmarks.bench_workflow import (
    BRATS_VOLUME,
    GPU_SETTINGS,
    _batch,
    bundle_config,
    inference_timer,
    ours_settings,
    train_step_timer,
)
from scripts.losses import build_loss
from scripts.losses._maps import batch_maps, gpu_distances

LOSSES = ("default", "boundary", "hausdorff_dt")


def settings(quick: bool) -> dict:
    parser = bundle_config()
    for key, value in GPU_SETTINGS.items():
        parser[key] = [max(8, v // 32 * 8) for v in value] if quick and isinstance(value, list) else value
    return ours_settings(parser)


def with_maps(name: str, label: torch.Tensor) -> torch.Tensor:
    """The label with the loss's target maps appended, as the bundle's map transforms give it."""
    kind = {"boundary": "signed", "hausdorff_dt": "unsigned"}[name]
    return torch.cat([label, batch_maps(label.cpu() > 0.5, kind).to(label.device)], 1)


def main(device: str | None = None, quick: bool = False, repeats: int = 3) -> None:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ours = settings(quick)
    cin, cout = ours["in_channels"], ours["out_channels"]
    volume = tuple(v // 4 for v in BRATS_VOLUME) if quick else BRATS_VOLUME
    print(f"# {describe(dev)}; cuCIM distances on the GPU: {gpu_distances()}; {repeats} repeats (median)\n")
    print(
        f"| training step, {ours['batch']} patches {ours['patch']}, init_filters {ours['network'].init_filters} "
        "| fp32 ms | AMP ms | fp32 peak GiB | AMP peak GiB |\n|---|---:|---:|---:|---:|"
    )
    image, label = _batch(cin, cout, ours["batch"], ours["patch"], dev)
    for name in LOSSES:
        s = dict(ours)
        target = label
        if name != "default":
            s["loss"] = build_loss(name, sigmoid=True, maps_in_target=True)
            target = with_maps(name, label)
        cells = {}
        for amp in (False, True):
            step, _, _ = train_step_timer(s, cin, cout, dev, amp, data=(image, target))
            cells[amp] = (interleaved_medians({"step": step}, repeats, dev)["step"], peak_extra_bytes(step, dev))
        print(
            f"| {ours['loss_name'] if name == 'default' else name} | {1e3 * cells[False][0]:.0f} | "
            f"{1e3 * cells[True][0]:.0f} | {cells[False][1] / 2**30:.2f} | {cells[True][1] / 2**30:.2f} |",
            flush=True,
        )
    masks = label > 0.5
    fns = {"prediction map where the input is (the loss's path)": lambda: batch_maps(masks, "unsigned")}
    if dev.type == "cuda":
        fns["prediction map through the host (copy, CPU maps, copy back)"] = lambda: batch_maps(
            masks.cpu(), "unsigned"
        ).to(dev)
    t = interleaved_medians(fns, repeats, dev)
    print(f"\n| Hausdorff prediction map of {tuple(masks.shape)} | ms |\n|---|---:|")
    for name, v in t.items():
        print(f"| {name} | {1e3 * v:.0f} |", flush=True)
    print(f"\n| sliding-window inference of one case {volume}, roi {ours['roi']} | s | peak GiB |\n|---|---:|---:|")
    for amp in (False, True):
        infer = inference_timer(ours, volume, cin, dev, amp)
        v = interleaved_medians({"infer": infer}, repeats, dev)["infer"]
        print(f"| {'AMP' if amp else 'fp32'} | {v:.2f} | {peak_extra_bytes(infer, dev) / 2**30:.2f} |", flush=True)


if __name__ == "__main__":
    fire.Fire(main)
