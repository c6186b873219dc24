"""TopK cross-entropy (nnU-Net's TopK10 loss)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._base import SegmentationLoss
from ._checks import check_range


class TopKCrossEntropyLoss(SegmentationLoss):
    """The mean cross-entropy of the ``k`` % highest per-voxel values over the batch: the hardest voxels only.

    Isensee F., Jaeger P.F., Kohl S.A.A., Petersen J., Maier-Hein K.H., "nnU-Net: a self-configuring method for
    deep learning-based biomedical image segmentation", Nature Methods 18, 2021; the ``TopKLoss`` of the nnU-Net
    code (``nnunetv2/training/loss/robust_ce_loss.py``, trainer ``nnUNetTrainerTopk10Loss``: ``k = 10``)::

        l(x)  = -sum_c g_c log p_c             (softmax: per voxel)
        l(x)  = -[g log p + (1 - g) log(1 - p)] (sigmoid: per voxel and channel, the kept channels)
        loss  = mean of the n largest l over the whole batch,  n = max(1, floor(N k / 100)), N their count

    (nnU-Net's ``int(num_voxels * k / 100)``; at least one value, for tiny inputs.) Logs come from the logits.
    The mean is over the batch, so the loss is one value: ``reduction="none"`` gives ``(1, 1)``, ``"mean"`` and
    ``"sum"`` a scalar. The selection of the top values is differentiated as a mask (its gradient reaches only
    the selected values), as in nnU-Net.

    Args:
        k: the percentage of values kept, in ``(0, 100]`` (100: the plain cross-entropy).
        include_background: sigmoid mode: ``False`` drops channel 0. Categorical mode: must be ``True``.
        Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``.

    Example:
        >>> loss = TopKCrossEntropyLoss(softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    categorical_keeps_background = True

    def __init__(
        self,
        k: float = 10.0,
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
        self.k = check_range("k", k, low=0.0, high=100.0, low_open=True)

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        if self.categorical(input.shape[1]):
            values = -(g * self.log_probabilities(input)).sum(1)
        else:
            values = -self.kept(g * self.log_probabilities(input) + (1 - g) * self.log_complements(input))
        values = values.flatten()
        n = max(1, int(values.numel() * self.k / 100))
        return torch.topk(values, n, sorted=False).values.mean().reshape(1, 1)
