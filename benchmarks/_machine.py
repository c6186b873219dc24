"""One line describing the machine and the software a benchmark ran on."""

from __future__ import annotations

import os
import platform

import monai
import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe(device: torch.device) -> str:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{where}; {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}; "
        f"torch {torch.__version__}, MONAI {monai.__version__}, Python {platform.python_version()}; "
        f"load average {load}"
    )
