"""Log-probabilities in logits form, and the base class of the losses that need them.

The cross-entropy based losses (CE, weighted CE, Combo, exponential logarithmic, Dice + focal, BCE + Dice,
the Unified Focal family) take ``log p`` and ``log(1 - p)`` straight from the logits where the activation is
known: ``logsigmoid(x)`` / ``logsigmoid(-x)`` for ``sigmoid=True``, ``log_softmax(x)`` and a log-sum-exp over
the other channels for ``softmax=True``. These are exact and finite at logits of +-1e4, where
``log(sigmoid(x))`` is ``-inf``. With probabilities as input (no activation, or ``other_act``) the logs are
taken of probabilities clipped to ``[1e-7, 1 - 1e-7]``, as the Keras reference code of Yeung et al. does.

Two modes (see ``docs/losses.md``):

- **per-channel binary** (``sigmoid=True``, or one channel): every channel is its own binary problem
  ``[1 - p, p]`` against ``[1 - g, g]`` (BraTS overlapping regions TC/WT/ET);
- **categorical** (``softmax=True``, or probabilities with two or more channels and no activation): classes
  are mutually exclusive, channel 0 is the background (KiTS19 background/kidney/tumour). To pass multi-label
  probabilities, pass the logits with ``sigmoid=True`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ._base import ImbalanceLoss, activate, check_input_target, chunk_one_hot, device_type, reduce
from ._chunked import voxel_sums

PROB_CLIP = 1e-7
LOG_CLIP_LOW = math.log(PROB_CLIP)
LOG_CLIP_HIGH = math.log1p(-PROB_CLIP)


def is_categorical(n_channels: int, sigmoid: bool, softmax: bool) -> bool:
    """True for mutually exclusive classes (channel 0 the background), False for per-channel binary problems."""
    return softmax or (not sigmoid and n_channels > 1)


def log1m_softmax(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - softmax(x))`` along dim 1 without cancellation: log-sum-exp over the other channels minus
    log-sum-exp over all channels (``log1p(-softmax)`` is ``-inf`` once a probability rounds to 1)."""
    n = x.shape[1]
    others = [torch.logsumexp(torch.cat([x[:, :c], x[:, c + 1 :]], 1), 1, keepdim=True) for c in range(n)]
    return torch.cat(others, 1) - torch.logsumexp(x, 1, keepdim=True)


def log_probs(
    x: torch.Tensor, p: torch.Tensor, sigmoid: bool, softmax: bool, complement: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(log p, log(1 - p))`` for logits ``x`` and their probabilities ``p``, both ``(B, C, *spatial)``.

    Logits forms for ``sigmoid``/``softmax``; otherwise ``p`` clipped to ``[PROB_CLIP, 1 - PROB_CLIP]``.
    ``log(1 - p)`` is ``None`` when ``complement=False`` (it costs one log-sum-exp per channel in softmax mode).
    """
    if sigmoid:
        return F.logsigmoid(x), F.logsigmoid(-x) if complement else None
    if softmax:
        return torch.log_softmax(x, 1), log1m_softmax(x) if complement else None
    clipped = p.clamp(PROB_CLIP, 1 - PROB_CLIP)
    return clipped.log(), torch.log1p(-clipped) if complement else None


class Activated(NamedTuple):
    """What a :class:`LogProbLoss` computes from, for one slice ``(B, C, n)`` of the voxels: all channels,
    float32 (float64 for float64 input)."""

    p: torch.Tensor  # probabilities (B, C, *spatial)
    g: torch.Tensor  # one-hot / binary target (B, C, *spatial)
    logp: torch.Tensor  # log p
    log1mp: torch.Tensor | None  # log(1 - p), None unless the loss asks for it
    categorical: bool  # mode, see is_categorical


class LogProbLoss(ImbalanceLoss):
    """Base class of the cross-entropy based losses: like :class:`ImbalanceLoss`, with log-probabilities.

    Subclasses implement :meth:`activated_terms`, the sums over the voxels of a slice's :class:`Activated`
    (it holds **all** channels: a categorical cross-entropy needs the background even when
    ``include_background=False``; use :meth:`kept` to drop channel 0 where the loss says so), and
    :meth:`activated_head`, the loss from the sums over the whole volume, a tensor that broadcasts against
    ``(B, C)``. :meth:`needs_complement` says whether ``log(1 - p)`` is needed; :meth:`check_mode` rejects flag
    combinations a mode does not support. The sums are computed slice by slice (see
    :func:`scripts.losses._chunked.voxel_sums`).
    """

    def needs_complement(self, categorical: bool) -> bool:
        """Whether the loss uses ``log(1 - p)`` in this mode (default: yes)."""
        return True

    def kept(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` without channel 0 when ``include_background=False``."""
        return t if self.include_background else t[:, 1:]

    def check_categorical_background(self, categorical: bool) -> None:
        """For losses whose categorical form has no meaning without the background class."""
        if categorical and not self.include_background:
            raise ValueError(
                f"include_background=False is not supported by {type(self).__name__} with mutually exclusive "
                "classes (softmax=True, or probabilities with 2+ channels): channel 0 is the background class "
                "of the categorical loss and cannot be dropped."
            )

    def check_mode(self, categorical: bool) -> None:
        """Raise ``ValueError`` for flag combinations the loss does not support in this mode (default: none)."""

    def chunk_activated(
        self, x: torch.Tensor, target: torch.Tensor, sigmoid: bool, softmax: bool, categorical: bool
    ) -> Activated:
        """The :class:`Activated` of one slice ``(B, C, n)`` of logits (or probabilities) and target."""
        n_channels = x.shape[1]
        x = x if x.dtype == torch.float64 else x.float()
        p = activate(x, sigmoid, softmax, None)
        if self.to_onehot_y and n_channels > 1:
            g = chunk_one_hot(target, n_channels, p.dtype)
        else:
            g = target.to(p.dtype)
        logp, log1mp = log_probs(x, p, sigmoid, softmax, self.needs_complement(categorical))
        return Activated(p, g, logp, log1mp, categorical)

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        """Sums over the last (voxel) axis of a slice's :class:`Activated`, each ``(B, K)``."""
        raise NotImplementedError

    def activated_head(self, sums: Sequence[torch.Tensor], n_voxels: int, categorical: bool) -> torch.Tensor:
        """The loss, broadcastable against ``(B, C)``, from the volume sums (pooled over the batch when
        ``batch=True``; ``n_voxels`` voxels per row)."""
        raise NotImplementedError

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=device_type(input), enabled=False):
            check_input_target(input, target, to_onehot_y=self.to_onehot_y, softmax=self.softmax)
            n_channels = input.shape[1]
            if not self.include_background and n_channels == 1:
                raise ValueError("include_background=False needs at least 2 channels; input has 1.")
            categorical = is_categorical(n_channels, self.sigmoid, self.softmax)
            self.check_mode(categorical)
            x, sigmoid, softmax = self.activated_input(input)

            def kernel(xc: torch.Tensor, tc: torch.Tensor) -> tuple[torch.Tensor, ...]:
                return self.activated_terms(self.chunk_activated(xc, tc, sigmoid, softmax, categorical))

            sums, n_voxels = self.pool(voxel_sums(kernel, x, target), input[0, 0].numel())
            return reduce(self.activated_head(sums, n_voxels, categorical), self.reduction)
