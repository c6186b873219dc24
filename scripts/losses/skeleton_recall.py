"""Skeleton Recall (Kirchhoff et al., ECCV 2024): CE + Dice + the soft recall of the label's tubed skeleton."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._checks import LossInputError, check_range
from ._maps import MapLoss, tubed_skeletons

# the authors' floor of every denominator (nnU-Net's MemoryEfficientSoftDiceLoss, SoftSkeletonRecallLoss)
DENOMINATOR_FLOOR = 1e-8


class SkeletonRecallLoss(MapLoss):
    """Skeleton Recall loss: cross-entropy + soft Dice + the soft recall of the target's tubed skeleton.

    Kirchhoff Y., Rokuss M.R., Roy S., Kovacs B., Ulrich C., Wald T., Zenk M., Vollmuth P., Kleesiek J., Isensee F.,
    Maier-Hein K., "Skeleton Recall Loss for Connectivity Conserving and Resource Efficient Segmentation of Thin
    Tubular Structures", ECCV 2024 (code: github MIC-DKFZ/Skeleton-Recall, commit f259f63: ``SkeletonTransform``,
    ``SoftSkeletonRecallLoss``, ``DC_SkelREC_and_CE_loss``, ``nnUNetTrainerSkeletonRecall``). Per ``(b, c)`` of the
    kept channels, with ``p`` the probabilities, ``g`` the one-hot target and ``t`` its tubed skeleton::

        CE    = -mean_x sum_k g_k log p_k                 (categorical; per channel: the binary CE of channel c)
        Dice  = 1 - (2 sum p g + smooth_nr) / max(sum p + sum g + smooth_dr, 1e-8)
        SRec  = 1 - (sum p t + smooth_nr) / max(sum t + smooth_dr, 1e-8)
        loss  = lambda_ce CE + lambda_dice Dice + lambda_srec SRec

    The tubed skeleton ``t`` (the authors' ``SkeletonTransform``): scikit-image's ``skeletonize`` of the union of
    the foreground classes, dilated twice with the cross-shaped footprint, times the label, i.e. in channel ``c``
    ``tube & (g_c > 0.5)``. It is *data* (``map_kind = "tubed_skeleton"``): the bundle computes it on the loader's
    workers with :class:`scripts.transforms.TubedSkeletond` after the random crop (as the authors, on the
    augmented patch) and passes it with ``maps_in_target=True``; called with a plain target the loss computes it
    itself (scikit-image, on the host; tested equal). It carries no gradient.

    The authors' training setting (``nnUNetTrainerSkeletonRecall``), the catalogue's defaults: softmax over the
    classes, ``lambda_ce = lambda_dice = lambda_srec = 1``, smooth 1e-5 in both ratios, Dice and recall over the
    foreground classes (``include_background=False``: their ``do_bg=False``), ``batch`` as nnU-Net's
    ``batch_dice``. Differences from their code:

    - the authors return ``-Dice`` and ``-recall`` (scores); here ``1 - score`` per ``(b, c)`` as every loss of
      the package: the value is theirs plus ``lambda_dice + lambda_srec``, the gradient the same (tested);
    - ``reduction="mean"`` is the mean over ``(b, c)`` of the sum above (the cross-entropy, a mean over each
      sample's voxels, is the same in every channel of a sample): their value, which averages each term on its own;
    - the recall term has no background: the categorical mode raises ``ValueError`` for ``include_background=True``
      (their ``SoftSkeletonRecallLoss`` raises for ``do_bg=True``);
    - per-channel mode (``sigmoid=True``, e.g. the overlapping BraTS regions; their trainer raises for regions):
      every channel is a foreground region, the tube is the skeleton of the union of all channels, and each term
      is per channel (binary cross-entropy, Dice, recall), over the kept channels;
    - no ``ignore_label`` (the authors call it experimental).

    Args:
        lambda_ce, lambda_dice, lambda_srec: the terms' weights (>= 0).
        maps_in_target: the target carries the ``C`` tubed-skeleton channels after the plain target
            (``docs/losses.md``, "Maps").
        Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, H[, W[, D]])`` (1 to 3 spatial dims; 1D as a row of a 2D image); target as the other
    losses. ``reduction="none"``: ``(B, C')``, with ``batch=True`` ``(1, C')``.

    Example:
        >>> loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False, compile=False)
        >>> loss(torch.randn(2, 3, 16, 16), torch.randint(0, 3, (2, 1, 16, 16))).shape
        torch.Size([])
    """

    map_kind = "tubed_skeleton"

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        lambda_ce: float = 1.0,
        lambda_dice: float = 1.0,
        lambda_srec: float = 1.0,
        *,
        maps_in_target: bool = False,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile=compile, maps_in_target=maps_in_target)
        self.lambda_ce = check_range("lambda_ce", lambda_ce, low=0.0)
        self.lambda_dice = check_range("lambda_dice", lambda_dice, low=0.0)
        self.lambda_srec = check_range("lambda_srec", lambda_srec, low=0.0)
        if softmax and include_background:
            raise ValueError(self.background_excluded())

    def background_excluded(self) -> str:
        return (
            "include_background=True is not supported by SkeletonRecallLoss with mutually exclusive classes (softmax, "
            "or 2+ channels of probabilities): the skeleton recall has no background term (the authors' "
            "SoftSkeletonRecallLoss raises for do_bg=True); pass include_background=False."
        )

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        super().check(input, target)
        if self.include_background and self.categorical(input.shape[1]):
            raise LossInputError(self.background_excluded())

    def target_maps(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        masks = self.one_hot_target(target, input.shape[1], input.dtype) > 0.5
        first_foreground = 1 if self.categorical(input.shape[1]) else 0
        return tubed_skeletons(masks, first_foreground).to(input.dtype)

    def formula(self, input: torch.Tensor, target: torch.Tensor, tubes: torch.Tensor) -> torch.Tensor:
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        n = self.voxel_count(input)
        if self.softmax:  # p from log p: compiled peak memory 1-2x the input (two runs), was 3x (2, 3, 128^3; CPU)
            logp = torch.log_softmax(input, 1)
            p = logp.exp()
        else:
            logp, p = self.log_probabilities(input), self.probabilities(input)
        if self.categorical(input.shape[1]):
            ce = -self.voxel_sum((g * logp).sum(1, keepdim=True)) / n
        elif self.sigmoid:  # -[g log p + (1 - g) log(1 - p)] = softplus(x) - g x
            ce = self.voxel_sum(self.kept(F.softplus(input) - g * input)) / n
        else:
            ce = -self.voxel_sum(self.kept(g * logp + (1 - g) * self.log_complements(input))) / n
        p, g, t = self.kept(p), self.kept(g), self.kept(tubes)
        dice = 1 - (2 * self.voxel_sum(p * g) + self.smooth_nr) / (
            self.voxel_sum(p) + self.voxel_sum(g) + self.smooth_dr
        ).clamp_min(DENOMINATOR_FLOOR)
        recall = 1 - (self.voxel_sum(p * t) + self.smooth_nr) / (self.voxel_sum(t) + self.smooth_dr).clamp_min(
            DENOMINATOR_FLOOR
        )
        return self.lambda_ce * ce + self.lambda_dice * dice + self.lambda_srec * recall
