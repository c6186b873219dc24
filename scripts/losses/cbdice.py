"""cbDice (Shi et al., MICCAI 2024): CE + Dice + the centerline boundary Dice, the authors' training loss."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_range
from ._maps import MapLoss, batch_maps, inside_distances
from .cldice import check_iterations, check_skeleton_input, soft_skeleton
from .dice import DiceLoss


def radius_weights(
    d: torch.Tensor, skel: torch.Tensor, exponent: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The authors' ``get_weights`` before its multiplication by the mask: from the inside distances ``d`` and the
    binary skeleton ``skel``, per ``(b, c)``: ``R`` the largest skeleton radius (at least 1), ``m`` the smallest
    value of the radius map over *all* voxels, at least 1 (the code's ``skel_i.min()``, 0 off the skeleton, so 1
    unless the skeleton fills the image), and ``(min(d, R) / R, r / R, ((R - r + m) / R)^exponent on the
    skeleton)``, ``r = d skel`` the skeleton's radius map."""
    spatial = tuple(range(2, d.ndim))
    r = d * skel
    top = r.amax(spatial, keepdim=True).clamp_min(1)
    low = r.amin(spatial, keepdim=True).clamp_min(1)
    inverse = ((top - r + low) / top).pow(exponent) * skel
    return torch.minimum(d, top) / top, r / top, inverse


def combined(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The authors' ``combine_tensors``: ``c a`` where ``a != 0`` and ``b == 0``, else ``c b``."""
    return c * torch.where((a != 0) & (b == 0), a, b)


class CbDiceLoss(MapLoss):
    """``lambda_ce CE + lambda_dice Dice + lambda_cbdice cbDice``: the training loss of the centerline boundary
    Dice.

    Shi P., Hu J., Yang Y., Gao Z., Liu W., Ma T., "Centerline Boundary Dice Loss for Vascular Segmentation",
    MICCAI 2024; the authors' code (github PengchengShi1220/cbDice a970c1d): ``SoftcbDiceLoss`` in
    ``loss/cbdice_loss.py`` inside ``DC_and_CE_and_CBDC_loss`` (``loss/compound_cbdice_loss.py``) as the nnU-Net
    trainer ``nnUNetTrainer_CE_DC_CBDC`` builds it: ``lambda_cbdice = 1``, ``lambda_dice = 1``, ``lambda_ce =
    lambda_dice + lambda_cbdice = 2``; nnU-Net's Dice without the background, smooth 1e-5; cbDice with 10
    soft-skeleton iterations, smooth 1e-3, the morphological skeleton (the default ``t_skeletonize_flage=False``).
    Their trainers without deep supervision (``..._NoDeepSupervision``, the NexToU / SwinUNETR variants) use
    ``lambda_cbdice = 2``, ``lambda_ce = 3``.

    cbDice, from the foreground probability ``p`` and the binary target ``g``, their binary skeletons ``S_p``
    (the soft skeleton of ``p > 0.5``) and ``S_g``, and the distances ``d`` of their voxels to the nearest voxel
    outside the mask (of ``p > 0.5``, computed here without gradient; of ``g``, data: the ``"unsigned"`` map)::

        R = max(max_skeleton d, 1),  r = d on the skeleton,  per sample (per (b, c) in per-channel mode)
        Q_v = min(d, R) / R * mask,  Q_sv = r / R * mask,  Q_s = ((R - r + 1) / R)^k * skeleton   (k: 1 2D, 2 3D)
        (mask, skeleton: g, S_g for the target; p, S_p p for the prediction)
        Tprec = (sum Q_sp Q_vg + s) / (sum Q_sp [Q_svp if Q_svp != 0 and Q_svg = 0 else Q_svg] + s)
        Tsens = (sum Q_sg Q_vp + s) / (sum Q_sg [Q_svg if Q_svg != 0 and Q_svp = 0 else Q_svp] + s)
        cbDice = 1 - 2 Tprec Tsens / (Tprec + Tsens)

    The "+ 1" is the code's ``max(skel_i.min(), 1)`` (see :func:`radius_weights`). One deviation: a mask that
    fills the whole patch has no voxel outside it, where the authors' scipy EDT measures to a point beyond the
    image; here its distances are 0, as in the unsigned maps.

    Modes. Categorical (softmax, the authors'): one binary problem, the foreground the union of the classes
    ``g > 0`` (the target's channel 0 ``<= 0.5``) and ``p = softmax(x_0, max_{c >= 1} x_c)_1`` (the code's
    reduction of the foreground channels; ``max p_c / (p_0 + max p_c)`` for probabilities); its distance map
    the background channel's unsigned map. Per-channel (sigmoid, e.g. the BraTS regions; not in the paper): each
    kept channel its own binary problem, the authors' code with the logits ``(0, x_c)``. Dice as
    :class:`scripts.losses.DiceLoss` per kept channel; CE over all channels (categorical cross-entropy, or the
    mean per-channel binary cross-entropy), per sample.

    Conventions: Dice and cbDice are ``1 - score`` (the authors return ``-score``: this loss is theirs plus
    ``lambda_dice + lambda_cbdice``, the same gradient). The authors sum cbDice over the whole batch:
    ``batch=True`` (the catalogue's default) is their value, and nnU-Net's batch Dice (its plans' setting for
    2d, and 3d_fullres where a 3d_lowres exists); ``batch=False`` gives per-sample values. 1D input takes the 2D
    form (``k = 1``). The target's skeleton and normalisation are computed in the loss from its distance map
    (data with ``maps_in_target``: the ``"unsigned"`` maps of every channel, only channel 0 read in categorical
    mode); the prediction's are computed from its hard mask every call, eagerly, without gradient.

    Args:
        iterations: soft-skeleton iterations, >= 0. smooth_cbdice: cbDice's ``s``, > 0.
        lambda_ce, lambda_dice, lambda_cbdice: the terms' factors (>= 0).
        smooth_nr, smooth_dr: the Dice term's. Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, H[, W[, D]])``; target as the other losses. ``reduction="none"``: ``(B, C')``, the
    sum of the terms per ``(b, c)`` (CE per sample, categorical cbDice per sample, broadcast over the channels).

    Example:
        >>> loss = CbDiceLoss(softmax=True, to_onehot_y=True, include_background=False, compile=False)
        >>> loss(torch.randn(2, 3, 12, 12), torch.randint(0, 3, (2, 1, 12, 12))).shape
        torch.Size([])
    """

    map_kind = "unsigned"

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
        iterations: int = 10,
        smooth_cbdice: float = 1e-3,
        lambda_ce: float = 2.0,
        lambda_dice: float = 1.0,
        lambda_cbdice: float = 1.0,
        *,
        maps_in_target: bool = False,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, smooth_nr, smooth_dr, batch, compile=compile, maps_in_target=maps_in_target)
        self.iterations = check_iterations(iterations)
        self.smooth_cbdice = check_range("smooth_cbdice", smooth_cbdice, low=0.0, low_open=True)
        self.lambda_ce = check_range("lambda_ce", lambda_ce, low=0.0)
        self.lambda_dice = check_range("lambda_dice", lambda_dice, low=0.0)
        self.lambda_cbdice = check_range("lambda_cbdice", lambda_cbdice, low=0.0)
        activation = include_background, to_onehot_y, sigmoid, softmax, other_act
        self.dice = DiceLoss(*activation, smooth_nr=smooth_nr, smooth_dr=smooth_dr, batch=batch, compile=False)

    def check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        super().check(input, target)
        check_skeleton_input(self, input)

    # ------------------------------------------------------------------ the binary problems
    def foreground(self, input: torch.Tensor) -> torch.Tensor:
        """The foreground probability: categorical ``(B, 1, ...)``, per-channel the kept channels'."""
        if not self.categorical(input.shape[1]):
            return self.kept(self.probabilities(input))
        if self.softmax:
            return torch.sigmoid(input[:, 1:].max(1, keepdim=True).values - input[:, :1])
        p = self.probabilities(input)
        top = p[:, 1:].max(1, keepdim=True).values
        return top / (p[:, :1] + top).clamp_min(torch.finfo(p.dtype).tiny)

    def foreground_target(self, target: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
        """The binary target of :meth:`foreground`'s problems (soft targets thresholded at 0.5)."""
        g = self.one_hot_target(target, n, dtype)
        if self.categorical(n):
            return (g[:, :1] <= 0.5).to(dtype)
        return (self.kept(g) > 0.5).to(dtype)

    def target_maps(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not self.categorical(input.shape[1]):
            return super().target_maps(input, target)
        background = self.one_hot_target(target, input.shape[1], input.dtype)[:, :1] > 0.5
        read = batch_maps(background, self.map_kind).to(input.dtype)
        # C channels as the maps of the transforms (deep supervision concatenates them); the others are not read
        return torch.cat([read, read.new_zeros(read.shape[0], input.shape[1] - 1, *read.shape[2:])], 1)

    def extra_inputs(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The prediction's inside distances and binary skeleton, from its hard mask ``p > 0.5``."""
        with torch.no_grad():
            hard = (self.foreground(input) > 0.5).to(input.dtype)
            skel = soft_skeleton(hard, self.iterations)
            return inside_distances(hard > 0.5).to(input.dtype), skel

    # ------------------------------------------------------------------ the loss
    def cbdice(self, p: torch.Tensor, g: torch.Tensor, d_g: torch.Tensor, d_p: torch.Tensor, skel_p: torch.Tensor):
        exponent = 2 if p.ndim == 5 else 1
        skel_g = soft_skeleton(g, self.iterations)
        vg, svg, sg = radius_weights(d_g, skel_g, exponent)
        vp, svp, sp = radius_weights(d_p, skel_p, exponent)
        q_vg, q_svg, q_sg = vg * g, svg * g, sg
        q_vp, q_svp, q_sp = vp * p, svp * p, sp * p
        s = self.smooth_cbdice
        prec_nr, prec_dr = self.voxel_sum(q_sp * q_vg) + s, self.voxel_sum(combined(q_svp, q_svg, q_sp)) + s
        sens_nr, sens_dr = self.voxel_sum(q_sg * q_vp) + s, self.voxel_sum(combined(q_svg, q_svp, q_sg)) + s
        # 2 Tprec Tsens / (Tprec + Tsens) with the ratios multiplied out; a denormal s is 0 in float32, and where
        # target and prediction have no skeleton (empty or full masks) the score 0 / 0 is taken as 0
        harmonic = 2 * prec_nr * sens_nr / (prec_nr * sens_dr + sens_nr * prec_dr).clamp_min(torch.finfo(p.dtype).tiny)
        return 1 - harmonic

    def formula(
        self, input: torch.Tensor, target: torch.Tensor, maps: torch.Tensor, d_p: torch.Tensor, skel_p: torch.Tensor
    ) -> torch.Tensor:
        n = input.shape[1]
        p, g = self.foreground(input), self.foreground_target(target, n, input.dtype)
        d_g = (maps[:, :1] if self.categorical(n) else self.kept(maps)) * g
        cbdice = self.cbdice(p, g, d_g, d_p, skel_p)
        dice = self.dice.formula(input, target).reshape(cbdice.shape[0], -1)
        ce = self.cross_entropy(input, target)
        return self.lambda_ce * ce + self.lambda_dice * dice + self.lambda_cbdice * cbdice

    def cross_entropy(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per sample ``(B, 1)``: the categorical cross-entropy's mean over the voxels, or the binary
        cross-entropy's over the channels and voxels."""
        g = self.one_hot_target(target, input.shape[1], input.dtype)
        if self.categorical(input.shape[1]):
            terms = (g * self.log_probabilities(input)).sum(1, keepdim=True)
        else:
            terms = g * self.log_probabilities(input) + (1 - g) * self.log_complements(input)
        return -terms.flatten(1).mean(1, keepdim=True)
