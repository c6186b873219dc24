"""Weighted cross-entropy with the positive weight from the class frequency (Sudre et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._checks import check_range
from .class_balanced import effective_number_weights
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

    **Class-balanced weights** (``beta`` set; Cui et al., CVPR 2019, :func:`effective_number_weights`): every
    class, the background included, weighted by ``w_c = (1 - beta) / (1 - beta^n_c)`` normalised to sum to the
    number of classes, ``WCE = -1/N sum_x sum_c w_c g_c log p_c``; per-channel mode: each channel's negatives and
    positives are its two classes, ``-1/N sum_x [w_1 g log p + w_0 (1 - g) log(1 - p)]``. The counts ``n_c``: the
    batch's voxels of each class (``class_counts=None``, detached), or fixed counts of the data set
    (``class_counts``: one per class, or per channel a pair ``[negatives, positives]``; e.g. the pooled fractions of
    ``python -m scripts.data.class_frequency`` times a case's voxels). ``pos_weight`` and ``weight_from`` are then
    unused.

    Args:
        pos_weight: ``"auto"`` (the paper's ``w``) or a fixed weight ``>= 0`` for every foreground channel/class.
        weight_from: ``"target"`` (paper) or ``"prediction"`` (survey); only used with ``pos_weight="auto"``.
        beta: ``None`` (Sudre's weights) or the class-balanced ``beta`` in ``[0, 1)`` (the paper: 0.9, 0.99, 0.999,
            0.9999). class_counts: with ``beta``, the data set's counts instead of the batch's.
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
        beta: float | None = None,
        class_counts: Sequence[float] | Sequence[Sequence[float]] | None = None,
        *,
        compile: bool = True,
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, compile=compile)
        self.beta = None if beta is None else check_range("beta", beta, 0.0, 1.0, high_open=True)
        if class_counts is not None and beta is None:
            raise ValueError("class_counts is used by the class-balanced weights only: set beta too.")
        counts = None if class_counts is None else torch.as_tensor(class_counts, dtype=torch.float64)
        if counts is not None and (not torch.isfinite(counts).all() or (counts < 0).any()):
            raise ValueError(f"class_counts must be finite counts >= 0, got {class_counts!r}.")
        self.class_counts = counts
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

    def class_balanced(self, g: torch.Tensor, categorical: bool) -> torch.Tensor:
        """The class-balanced weights: ``(1, C)`` categorical, ``(2, C)`` (negatives, positives) per channel."""
        if self.class_counts is not None:
            counts = self.class_counts.to(g.device)
            want = (g.shape[1],) if categorical else (g.shape[1], 2)
            if tuple(counts.shape) != want:
                raise ValueError(
                    f"class_counts has shape {tuple(counts.shape)}; this input needs {want} (categorical: one count "
                    "per class; per channel: [negatives, positives] per channel)."
                )
        else:
            pos = g.detach().sum((0, *range(2, g.ndim))).double()
            counts = pos if categorical else torch.stack([g[:, 0].numel() - pos, pos], -1)
        w = effective_number_weights(counts, self.beta).to(g.dtype)
        return w.unsqueeze(0) if categorical else w.T

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.beta is not None:
            return self.class_balanced_formula(input, target)
        p, logp = self.probabilities(input), self.log_probabilities(input)
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        w = self.positive_weight(p, g).view(1, -1, *([1] * (input.ndim - 2)))
        n = self.voxel_count(input)
        if self.categorical(input.shape[1]):
            w = torch.cat([torch.ones_like(w[:, :1]), w[:, 1:]], 1)  # the background: the negative term, weight 1
            return -self.voxel_sum(w * g * logp).sum(1, keepdim=True) / n
        log1mp = self.log_complements(input)
        return -self.voxel_sum(self.kept(w * g * logp + (1 - g) * log1mp)) / n

    def class_balanced_formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = self.log_probabilities(input)
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        n, spatial = self.voxel_count(input), [1] * (input.ndim - 2)
        categorical = self.categorical(input.shape[1])
        w = self.class_balanced(g, categorical)
        if categorical:
            return -self.voxel_sum(w.view(1, -1, *spatial) * g * logp).sum(1, keepdim=True) / n
        w_neg, w_pos = w[0].view(1, -1, *spatial), w[1].view(1, -1, *spatial)
        terms = w_pos * g * logp + w_neg * (1 - g) * self.log_complements(input)
        return -self.voxel_sum(self.kept(terms)) / n
