"""Lovász-softmax and Lovász hinge losses (Berman et al. 2018)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import PROB_CLIP, SegmentationLoss


def lovasz_grad(g_sorted: torch.Tensor) -> torch.Tensor:
    """The gradient of the Lovász extension of the Jaccard loss w.r.t. the errors sorted in decreasing order
    (Berman et al., Algorithm 1), along the last dim: ``J_i = 1 - (G - cumsum g)_i / (G + cumsum (1 - g))_i``,
    ``grad = J_i - J_{i-1}`` (``J_0`` itself first)."""
    gts = g_sorted.sum(-1, keepdim=True)
    intersection = gts - g_sorted.cumsum(-1)
    union = gts + (1 - g_sorted).cumsum(-1)
    jaccard = 1 - intersection / union
    return torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], -1)


def lovasz_extension(errors: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``dot(sort(errors, decreasing), lovasz_grad(g in that order))`` per row of the last dim."""
    errors_sorted, order = torch.sort(errors, dim=-1, descending=True)
    return (errors_sorted * lovasz_grad(torch.gather(g, -1, order))).sum(-1)


class LovaszLoss(SegmentationLoss):
    """Lovász loss: the Lovász extension of the Jaccard loss, a convex surrogate that optimises the IoU itself.

    Berman M., Rannen Triki A., Blaschko M.B., "The Lovász-Softmax loss: a tractable surrogate for the
    optimization of the intersection-over-union measure in neural networks", CVPR 2018, eq. 8-12 and
    Algorithm 1, as the authors' code (``bermanmaxim/LovaszSoftmax``, ``lovasz_losses.py``).

    Softmax (categorical) mode, the **Lovász-softmax** with the code's defaults ``classes="present"``,
    ``per_image=False``: the voxels of the whole batch together; per class ``c`` present in the target
    (``sum g_c > 0``), the errors ``m_c = |g_c - p_c|`` sorted in decreasing order give::

        loss_c = sum_i m_c,(i) grad_i(g_c in that order)          (lovasz_grad: Algorithm 1)
        loss   = mean over the present classes (0 when none is present)

    Sigmoid (per-channel) mode, the **Lovász hinge** with ``per_image=True``: per sample and channel, the hinge
    errors ``1 - x s`` of the logits ``x`` with signs ``s = 2g - 1``, through ``relu``, sorted, dotted with the
    same gradient; ``reduction="mean"`` is the mean over samples and channels. With probabilities as input
    (no ``sigmoid``) the hinge takes their logits ``log(p / (1 - p))``, ``p`` clipped to ``[1e-7, 1 - 1e-7]``.
    The sort is differentiated as a permutation (autograd), the gradient vector is computed from the target.
    Soft targets enter the formulas as they are.

    Args:
        include_background: ``False`` drops channel 0 (softmax: from the classes averaged over).
        Others as :class:`scripts.losses._base.SegmentationLoss` (no smoothing, no ``batch``).

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"``: ``(B, C)`` in sigmoid mode, ``(1, 1)`` in softmax mode (one
    value for the batch).

    Example:
        >>> loss = LovaszLoss(softmax=True, to_onehot_y=True)
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
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, compile=compile)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g = self.activated(input, target)
        if self.categorical(input.shape[1]):  # Lovász-softmax over the batch, present classes
            p = p.transpose(0, 1).flatten(1)
            g = g.transpose(0, 1).flatten(1)
            present = (g.sum(-1) > 0).to(p.dtype)
            losses = lovasz_extension((g - p).abs(), g)
            return ((losses * present).sum() / present.sum().clamp_min(1)).reshape(1, 1)
        if self.sigmoid:
            logits = self.kept(input)
        else:
            p = p.clamp(PROB_CLIP, 1 - PROB_CLIP)
            logits = torch.log(p) - torch.log1p(-p)
        g = g.flatten(2)
        errors = torch.relu(1 - logits.flatten(2) * (2 * g - 1))
        return lovasz_extension(errors, g)
