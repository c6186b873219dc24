"""Weighted cross-entropy with the positive weight from the class frequency (Sudre et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_range
from .cross_entropy import CrossEntropyLoss

WEIGHT_SOURCES = ("target", "prediction")


class WeightedCrossEntropyLoss(CrossEntropyLoss):
    """Weighted cross-entropy: positives weighted by the background-to-foreground voxel ratio.

    Sudre C.H. et al., "Generalised Dice overlap as a deep learning loss function for highly unbalanced
    segmentations", DLMIA 2017 (the binary WCE baseline it compares against)::

        WCE = -1/N sum_x [ w g log p + (1 - g) log(1 - p) ],    w = (N - sum_x g) / sum_x g

    with ``N`` the voxels of the batch; ``w`` is computed over the whole batch and detached (a weight, not a
    term to optimise). ``weight_from="prediction"`` computes ``w = (N - sum_x p) / sum_x p`` from the predicted
    probabilities instead, as the project's seed survey of imbalance losses prints it; also detached. The
    denominator is at least one voxel, ``w = (N - S) / max(S, 1)``, so an empty foreground gives a finite weight
    (and has no positive term anyway); an all-foreground batch gives ``w = 0``. ``pos_weight`` may be a fixed
    number ``>= 0`` instead of ``"auto"``.

    Beyond the binary paper: per-channel binary mode (``sigmoid=True``, or one channel): the formula per channel
    with its own ``w_c``; ``reduction="none"`` gives ``(B, C)``. Categorical mode (``softmax=True``): the
    background (channel 0) keeps weight 1, as the binary formula's negative term, every other class ``c`` gets
    ``w_c`` from its own frequency, ``WCE = -1/N sum_x [g_0 log p_0 + sum_{c>=1} w_c g_c log p_c]``, so that two
    softmax channels give the binary formula exactly; ``reduction="none"`` gives ``(B, 1)``;
    ``include_background=False`` raises ``ValueError``. Logs from the logits.

    Args:
        pos_weight: ``"auto"`` (the paper's ``w``) or a fixed weight ``>= 0`` for every foreground channel/class.
        weight_from: ``"target"`` (paper) or ``"prediction"`` (survey); only used with ``pos_weight="auto"``.
        Others as :class:`scripts.losses.CrossEntropyLoss`.

    Example:
        >>> loss = WeightedCrossEntropyLoss(sigmoid=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 2, (2, 3, 8, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        pos_weight: float | str = "auto",
        weight_from: str = "target",
        reduction: str = "mean",
        *,
        compile: bool = True,
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, compile=compile)
        if isinstance(pos_weight, str) and pos_weight != "auto":
            raise ValueError(f"pos_weight must be 'auto' or a number >= 0, got {pos_weight!r}.")
        self.pos_weight = None if pos_weight == "auto" else check_range("pos_weight", pos_weight, low=0.0)
        if weight_from not in WEIGHT_SOURCES:
            raise ValueError(f"weight_from must be one of {WEIGHT_SOURCES}, got {weight_from!r}.")
        self.weight_from = weight_from

    def positive_weight(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``w_c = (N - S_c) / max(S_c, 1)`` per channel, ``(1, C)``, over the batch, detached."""
        if self.pos_weight is not None:
            return torch.full((1, g.shape[1]), self.pos_weight, dtype=g.dtype, device=g.device)
        source = (p if self.weight_from == "prediction" else g).detach()
        s = source.sum((0, *range(2, source.ndim))).unsqueeze(0)
        return (source[:, 0].numel() - s) / s.clamp_min(1.0)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, logp = self.probabilities(input), self.log_probabilities(input)
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        w = self.positive_weight(p, g).view(1, -1, *([1] * (input.ndim - 2)))
        n = self.voxel_count(input)
        if self.categorical(input.shape[1]):
            w = torch.cat([torch.ones_like(w[:, :1]), w[:, 1:]], 1)  # the background: the negative term, weight 1
            return -self.voxel_sum(w * g * logp).sum(1, keepdim=True) / n
        log1mp = self.log_complements(input)
        return -self.voxel_sum(self.kept(w * g * logp + (1 - g) * log1mp)) / n
