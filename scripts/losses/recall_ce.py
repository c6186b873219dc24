"""Recall cross-entropy (Tian et al., ICRA 2022): each class's cross-entropy weighted by its false-negative rate."""

from __future__ import annotations

import torch

from .cross_entropy import CrossEntropyLoss


def _at_least_one(counts: torch.Tensor) -> torch.Tensor:
    """The authors' counters start at 1 and are overwritten by the counts of the classes present: 0 -> 1."""
    return torch.where(counts > 0, counts, torch.ones_like(counts))


class RecallCrossEntropyLoss(CrossEntropyLoss):
    """Recall loss: cross-entropy weighted per class by the class's current false-negative rate.

    Tian J., Mithun N.C., Seymour Z., Chiu H.-P., Kira Z., "Striking the Right Balance: Recall Loss for Semantic
    Segmentation", ICRA 2022 (code: github PotatoTian/recall-semseg, ``RecallCrossEntropy``, commit a3f7fc3).
    Categorical mode (``softmax=True``, the paper's), over the whole batch::

        FN_c = #{x : g(x) = c, argmax_k p_k(x) != c},   N_c = #{x : g(x) = c}
        w_c  = FN_c' / N_c'      (a count of 0 taken as 1: the authors' counters start at 1)
        loss = -mean_x w_{g(x)} log p_{g(x)}(x)

    The weights come from the hard prediction of the current batch (no running estimate, as the authors' code)
    and carry no gradient. A class with no false negatives keeps the weight ``1 / N_c`` (the counter's 1), an
    absent class ``1 / 1`` (it has no voxel to weigh).

    Beyond the paper (its setting is a softmax over classes): per-channel binary mode (``sigmoid=True``): each
    channel is the two-class problem {not c, c} with the prediction ``p > 0.5``, its positives weighted by
    ``w_1 = FN'/N'`` and its negatives by ``w_0 = FP'/(N - N_pos)'`` (the false negatives of the class "not c"),
    which is the categorical formula for two softmax channels. ``include_background=False`` drops channel 0 in
    that mode and raises ``ValueError`` in the categorical one.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)`` one-hot / binary. ``reduction="none"``: ``(B, 1)`` categorical, ``(B, C)`` per channel
    (each a mean over the sample's voxels, so that ``"mean"`` is the authors' mean over all voxels).

    Example:
        >>> loss = RecallCrossEntropyLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = self.log_probabilities(input)
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        n = self.voxel_count(input)
        spatial = (0, *range(2, input.ndim))
        if self.categorical(input.shape[1]):
            predicted = torch.nn.functional.one_hot(input.argmax(1), input.shape[1]).movedim(-1, 1).to(g.dtype)
            fn = (g * (1 - predicted)).sum(spatial)
            w = (_at_least_one(fn) / _at_least_one(g.sum(spatial))).detach()
            w = w.view(1, -1, *([1] * (input.ndim - 2)))
            return -self.voxel_sum(w * g * logp).sum(1, keepdim=True) / n
        predicted = (self.probabilities(input) > 0.5).to(g.dtype)  # argmax of (0, x): class 0 on a tie
        w_pos = _at_least_one((g * (1 - predicted)).sum(spatial)) / _at_least_one(g.sum(spatial))
        w_neg = _at_least_one(((1 - g) * predicted).sum(spatial)) / _at_least_one((1 - g).sum(spatial))
        shape = (1, -1, *([1] * (input.ndim - 2)))
        w_pos, w_neg = w_pos.detach().view(shape), w_neg.detach().view(shape)
        log1mp = self.log_complements(input)
        return -self.voxel_sum(self.kept(w_pos * g * logp + w_neg * (1 - g) * log1mp)) / n
