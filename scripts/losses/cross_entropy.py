"""Cross-entropy, binary (per channel) or categorical, from the logits."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss


class CrossEntropyLoss(SegmentationLoss):
    """Cross-entropy, the distribution-based baseline of every segmentation-loss survey.

    Per-channel binary mode (``sigmoid=True``, or a single channel), per ``(b, c)``::

        BCE = -mean_x [ g log p + (1 - g) log(1 - p) ]

    with ``log p = logsigmoid(x)``, ``log(1 - p) = logsigmoid(-x)`` (``reduction="mean"`` equals
    ``torch.nn.functional.binary_cross_entropy_with_logits``). Categorical mode (``softmax=True``, or 2+ channels
    of probabilities without activation), per sample::

        CE = -mean_x sum_c g_c log p_c

    with ``log p = log_softmax(x)`` (``reduction="mean"`` equals ``torch.nn.functional.cross_entropy``). With
    probabilities as input the logs are of ``p`` clipped to ``[1e-7, 1 - 1e-7]``. The catalogue's ``bce`` is
    this class with ``sigmoid=True``, ``ce`` with ``softmax=True``.

    Args:
        include_background: per-channel mode: ``False`` drops channel 0. Categorical mode: must be ``True``
            (without the background term false positives go unpenalised); ``False`` raises ``ValueError``.
        Others as :class:`scripts.losses._base.SegmentationLoss` (``batch=True`` averages over the batch too).

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)`` values in [0, 1]. ``reduction="none"``: ``(B, C)`` per-channel, ``(B, 1)`` categorical.

    Example:
        >>> loss = CrossEntropyLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    categorical_keeps_background = True

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, reduction, batch=batch, compile=compile
        )

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = self.log_probabilities(input)
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        n = self.voxel_count(input)
        if self.categorical(input.shape[1]):
            return -self.voxel_sum(g * logp).sum(1, keepdim=True) / n
        log1mp = self.log_complements(input)
        return -self.voxel_sum(self.kept(g * logp + (1 - g) * log1mp)) / n
