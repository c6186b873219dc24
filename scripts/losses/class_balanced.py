"""Class-balanced weights by the effective number of samples (Cui et al., CVPR 2019)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import check_range

PAPER_BETAS = (0.9, 0.99, 0.999, 0.9999)


def effective_number_weights(counts: Sequence[float] | torch.Tensor, beta: float) -> torch.Tensor:
    """``w_c = (1 - beta) / (1 - beta^n_c)``, normalised to ``sum_c w_c = C`` (Cui Y., Jia M., Lin T.-Y., Song Y.,
    Belongie S., "Class-Balanced Loss Based on Effective Number of Samples", CVPR 2019; the authors' code,
    github richardaecn/class-balanced-loss 1d78572, ``src/cifar_main.py``).

    ``counts``: the samples per class, here voxels (``(C,)``, or ``(..., C)`` for several sets at once, each
    normalised on its own); a count below 1 is taken as 1 (an absent class would divide by 0; with 1 it gets the
    largest weight, ``1 / (sum of the others' relative weights)``). ``beta`` in ``[0, 1)`` (the paper: 0.9, 0.99,
    0.999, 0.9999); ``beta = 0`` gives equal weights. With voxel counts, ``beta^n_c`` vanishes for any class of
    more than a few times ``1 / (1 - beta)`` voxels, so such classes get equal weights: only classes rarer than
    that are up-weighted.

    Example:
        >>> effective_number_weights([1000.0, 10.0], beta=0.99)
        tensor([0.1746, 1.8254], dtype=torch.float64)
    """
    beta = check_range("beta", beta, 0.0, 1.0, high_open=True)
    n = torch.as_tensor(counts, dtype=torch.float64).clamp_min(1.0)
    w = (1.0 - beta) / (1.0 - torch.pow(torch.as_tensor(beta, dtype=n.dtype), n))
    return w / w.sum(-1, keepdim=True) * n.shape[-1]
