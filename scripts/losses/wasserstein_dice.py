"""Generalised Wasserstein Dice loss (Fidon et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._base import SegmentationLoss

# The distances between the four BraTS labels background, necrotic and non-enhancing core, oedema, enhancing
# core, as the first author's BraTS code (Fidon & Shit 2021, ``BRATS_DIST_MATRIX``): dist(core, oedema) = 0.6,
# dist(core, enhancing) = 0.5, dist(oedema, enhancing) = 0.7, background 1 from every tumour class. The 2017
# paper's matrix is for the five BraTS 2015 labels (necrotic and non-enhancing core apart); this is its
# four-label form by the same author.
BRATS_LABEL_DISTANCES = (
    (0.0, 1.0, 1.0, 1.0),
    (1.0, 0.0, 0.6, 0.5),
    (1.0, 0.6, 0.0, 0.7),
    (1.0, 0.5, 0.7, 0.0),
)


def check_distance_matrix(dist_matrix) -> torch.Tensor | None:
    """The label-distance matrix as float64 ``(C, C)``, scaled to maximum 1 (as MONAI); a ValueError unless it is
    square, finite, >= 0, symmetric, with a zero diagonal and some positive entry."""
    if dist_matrix is None:
        return None
    try:
        m = torch.as_tensor(dist_matrix, dtype=torch.float64).detach().clone()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"dist_matrix must be a square matrix of numbers, got {dist_matrix!r}.") from None
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"dist_matrix must be a square (C, C) matrix with C >= 2, got shape {tuple(m.shape)}.")
    if not torch.isfinite(m).all() or (m < 0).any():
        raise ValueError("dist_matrix must be finite and >= 0.")
    if not torch.equal(m, m.T) or m.diagonal().any() or m.max() == 0:
        raise ValueError("dist_matrix must be symmetric with a zero diagonal and some positive distance.")
    return m / m.max()


class GeneralizedWassersteinDiceLoss(SegmentationLoss):
    """Generalised Wasserstein Dice loss: a generalised Dice whose errors are Wasserstein distances between the
    predicted and the true label distributions, so that confusing close classes costs less.

    Fidon L., Li W., Garcia-Peraza-Herrera L.C., Ekanayake J., Kitchen N., Ourselin S., Vercauteren T.,
    "Generalised Wasserstein Dice score for imbalanced multi-class segmentation using holistic convolutional
    networks", BrainLes (MICCAI) 2017, eq. 6-9. Per sample, with ``M`` the label-distance matrix (scaled to
    maximum 1) and the weights ``a_0 = 0`` (background), ``a_c = 1``::

        W(x)  = sum_{k,l} g_k(x) M_kl p_l(x)                 (eq. 6: the Wasserstein distance for one-hot g)
        TP    = sum_x sum_k a_k g_k(x) (1 - W(x))
        loss  = 1 - (2 TP + smooth_nr) / (2 TP + sum_x W(x) + smooth_dr)

    Equal to MONAI 1.6.1's ``GeneralizedWassersteinDiceLoss(weighting_mode="default")`` on one-hot targets
    (tested); soft targets mix the rows of ``M``. ``dist_matrix=None`` takes ``M = 1 - I`` (all classes equally
    far); :data:`BRATS_LABEL_DISTANCES` is the authors' matrix for the four BraTS labels (background, necrotic
    core, oedema, enhancing), for a softmax over those labels.

    Sigmoid mode (overlapping regions, e.g. the bundle's BraTS TC / WT / ET) is not the paper's: every channel
    is its own two-label problem ``[1 - p_c, p_c]`` with ``M = [[0, 1], [1, 0]]`` and ``a = (0, 1)``, where the
    formula reduces to the soft Dice loss of the channel; ``dist_matrix`` must then be ``None``.

    Args:
        dist_matrix: ``(C, C)`` label distances (softmax mode), or ``None``.
        include_background: must be ``True`` in softmax mode (the background row of ``M`` is what penalises
            false positives); sigmoid mode: ``False`` drops channel 0.
        Others as :class:`scripts.losses._base.SegmentationLoss` (MONAI's smoothing defaults).

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; ``reduction="none"``: ``(B, 1)`` in softmax mode, ``(B, C)`` in sigmoid mode (the
    batch dim 1 with ``batch=True``: the sums over the batch before the ratio).

    Example:
        >>> loss = GeneralizedWassersteinDiceLoss(BRATS_LABEL_DISTANCES, softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 4, 8, 8, 8), torch.randint(0, 4, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    categorical_keeps_background = True

    def __init__(
        self,
        dist_matrix: Sequence[Sequence[float]] | torch.Tensor | None = None,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        *,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile)
        self.dist_matrix = check_distance_matrix(dist_matrix)

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        super().check(input, target)
        if self.dist_matrix is None:
            return
        if not self.categorical(input.shape[1]):
            raise ValueError(
                "dist_matrix applies to mutually exclusive classes (softmax); in sigmoid mode each channel is a "
                "two-label problem with M = [[0, 1], [1, 0]]: pass dist_matrix=None."
            )
        if self.dist_matrix.shape[0] != input.shape[1]:
            raise ValueError(f"dist_matrix is {tuple(self.dist_matrix.shape)} but input has {input.shape[1]} classes.")

    def formula(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p = self.probabilities(input)
        g = self.one_hot_target(target, input.shape[1], p.dtype)
        if self.categorical(input.shape[1]):
            n = input.shape[1]
            m = 1 - torch.eye(n, dtype=p.dtype, device=p.device) if self.dist_matrix is None else self.dist_matrix
            m = m.to(p.device, p.dtype)
            a = torch.ones(n, dtype=p.dtype, device=p.device).index_fill(0, torch.tensor([0], device=p.device), 0)
            wasserstein = torch.einsum("bk...,kl,bl...->b...", g, m, p)
            tp = ((1 - wasserstein) * torch.einsum("bk...,k->b...", g, a)).flatten(1).sum(1)
            total = wasserstein.flatten(1).sum(1)
            if self.batch:
                tp, total = tp.sum(0, keepdim=True), total.sum(0, keepdim=True)
        else:  # per channel: labels (0, 1), M = [[0, 1], [1, 0]], a = (0, 1)
            p, g = self.kept(p), self.kept(g)
            wasserstein = g * (1 - p) + (1 - g) * p
            tp = self.voxel_sum(g * (1 - wasserstein))
            total = self.voxel_sum(wasserstein)
        loss = 1 - (2 * tp + self.smooth_nr) / (2 * tp + total + self.smooth_dr)
        return loss if loss.ndim == 2 else loss.reshape(-1, 1)
