"""Weighted cross-entropy with the positive weight from the class frequency (Sudre et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import check_range
from ._log_probs import Activated, LogProbLoss

WEIGHT_SOURCES = ("target", "prediction")


class WeightedCrossEntropyLoss(LogProbLoss):
    """Weighted cross-entropy: positives weighted by the background-to-foreground voxel ratio.

    Sudre C.H. et al., "Generalised Dice overlap as a deep learning loss function for highly unbalanced
    segmentations", DLMIA 2017 (the binary WCE baseline it compares against)::

        WCE = -1/N sum_x [ w g log p + (1 - g) log(1 - p) ],    w = (N - sum_x g) / sum_x g

    with ``N`` the voxels of the batch; ``w`` is computed over the whole batch and detached (it is a weight,
    not a term to optimise). ``weight_from="prediction"`` computes ``w = (N - sum_x p) / sum_x p`` from the
    predicted probabilities instead, as the project's seed survey of imbalance losses (a Keras blog post)
    prints it; also detached. Guard: the denominator is at least one voxel, ``w = (N - S) / max(S, 1)``, so
    an empty foreground (``S = 0``, no positive term anyway) gives a finite weight. An all-foreground batch
    gives ``w = 0`` (the formula's value). ``pos_weight`` may also be a fixed number ``>= 0`` instead of
    ``"auto"``.

    Generalisation beyond the binary paper (the paper defines the binary case only):

    - per-channel binary mode (``sigmoid=True``, or one channel): the formula per channel ``c`` with its own
      ``w_c``; ``reduction="none"`` gives ``(B, C)``, per sample the mean over its voxels.
    - categorical mode (``softmax=True``, or 2+ channels of probabilities): the background (channel 0) keeps
      weight 1, as the binary formula's negative term, every other class ``c`` gets ``w_c`` from its own
      frequency::

          WCE = -1/N sum_x [ g_0 log p_0 + sum_{c>=1} w_c g_c log p_c ]

      so that two softmax channels give the binary formula exactly (``p_0 = 1 - p_1``).
      ``reduction="none"`` gives ``(B, 1)``, per sample. ``include_background=False`` raises ``ValueError``.

    Logs from the logits (``logsigmoid`` / ``log_softmax``); with probabilities as input, of ``p`` clipped to
    ``[1e-7, 1 - 1e-7]``.

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
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        if isinstance(pos_weight, str):
            if pos_weight != "auto":
                raise ValueError(f"pos_weight must be 'auto' or a number >= 0, got {pos_weight!r}.")
            self.pos_weight: float | None = None
        else:
            self.pos_weight = check_range("pos_weight", pos_weight, low=0.0)
        if weight_from not in WEIGHT_SOURCES:
            raise ValueError(f"weight_from must be one of {WEIGHT_SOURCES}, got {weight_from!r}.")
        self.weight_from = weight_from
        if softmax:
            self.check_categorical_background(True)

    def needs_complement(self, categorical: bool) -> bool:
        return not categorical

    def needs_probs(self, categorical: bool) -> bool:
        return self.weight_from == "prediction" and self.pos_weight is None

    def check_mode(self, categorical: bool) -> None:
        if categorical:
            self.check_categorical_background(True)

    def positive_weights(self, source_sums: torch.Tensor, n_voxels: int) -> torch.Tensor:
        """``w_c`` per channel, shape ``(1, C)``, detached, from the per-sample sums ``(B, C)`` of the source
        (target or probabilities) over ``n_voxels`` voxels each."""
        if self.pos_weight is not None:
            return torch.full_like(source_sums[:1], self.pos_weight)
        s = source_sums.detach().sum(0, keepdim=True)
        return (n_voxels * source_sums.shape[0] - s) / s.clamp_min(1.0)

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        source = (a.p if self.needs_probs(a.categorical) else a.g).sum(-1)
        if a.categorical:
            return source, -(a.g * a.logp).sum(-1)
        g = self.kept(a.g)
        return source, -(g * self.kept(a.logp)).sum(-1), -((1 - g) * self.kept(a.log1mp)).sum(-1)

    def activated_partials(self, a: Activated, grads: Sequence[torch.Tensor]) -> tuple:
        # the first sum (weight source) enters the head detached: no gradient
        u = self.upstream(grads)
        if a.categorical:
            return None, -(u[1] * a.g), None
        g = self.kept(a.g)
        return None, self.full_channels(-(u[1] * g)), self.full_channels(u[2] * (g - 1))

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        w = self.positive_weights(sums[0], n_voxels)
        if categorical:
            w = torch.cat([torch.ones_like(w[:, :1]), w[:, 1:]], 1)
            return (w * sums[1]).sum(1, keepdim=True) / n_voxels
        pos, neg = sums[1:]
        return (self.kept(w) * pos + neg) / n_voxels
