"""Cross-entropy loss, binary (per channel) or categorical, in logits form."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._log_probs import Activated, LogProbLoss
from ._terms import binary_ce, categorical_ce


class CrossEntropyLoss(LogProbLoss):
    """Cross-entropy, the distribution-based baseline of every segmentation-loss survey.

    Per-channel binary mode (``sigmoid=True``, or a single channel): every channel is a binary problem::

        BCE_{b,c} = -mean_x [ g log p + (1 - g) log(1 - p) ]

    computed from the logits as ``logsigmoid(x)``, ``logsigmoid(-x)`` (the form of
    ``torch.nn.functional.binary_cross_entropy_with_logits``; ``reduction="mean"`` equals it).

    Categorical mode (``softmax=True``, or 2+ channels of probabilities without activation)::

        CE_b = -mean_x sum_c g_c log p_c

    with ``log p = log_softmax(x)`` (``reduction="mean"`` equals ``torch.nn.functional.cross_entropy``).
    With probabilities as input the logs are of ``p`` clipped to ``[1e-7, 1 - 1e-7]``.

    The catalogue's ``bce`` is this class with ``sigmoid=True``, ``ce`` with ``softmax=True``.

    Args:
        include_background: per-channel mode: ``False`` drops channel 0. Categorical mode: must be ``True``
            (dropping the background term would leave false positives unpenalised); ``False`` raises
            ``ValueError``.
        to_onehot_y, sigmoid, softmax, other_act, reduction: as :class:`scripts.losses._base.ImbalanceLoss`.

    Shapes: input ``(B, C, *spatial)`` logits (probabilities without activation); target ``(B, 1, *spatial)``
    labels with ``to_onehot_y=True`` or ``(B, C, *spatial)`` values in [0, 1]. ``reduction="none"`` gives
    ``(B, C)`` per sample and channel in per-channel mode, ``(B, 1)`` per sample in categorical mode.

    Example:
        >>> loss = CrossEntropyLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        if softmax:
            self.check_categorical_background(True)

    def needs_complement(self, categorical: bool) -> bool:
        return not categorical

    def needs_probs(self, categorical: bool) -> bool:
        return False

    def check_mode(self, categorical: bool) -> None:
        if categorical:
            self.check_categorical_background(True)

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        if a.categorical:
            return (categorical_ce(a.logp, a.g).sum(-1),)
        return (binary_ce(self.kept(a.logp), self.kept(a.log1mp), self.kept(a.g)).sum(-1),)

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple:
        (u,) = self.upstream(grads)
        if a.categorical:
            return None, -(u * a.g), None
        g = self.kept(a.g)
        return None, self.full_channels(-(u * g)), self.full_channels(u * (g - 1))

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        return sums[0] / n_voxels
