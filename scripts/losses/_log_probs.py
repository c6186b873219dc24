"""Log-probabilities in logits form, and the base class of the losses that need them.

The cross-entropy based losses (CE, weighted CE, Combo, exponential logarithmic, Dice + focal, BCE + Dice,
the Unified Focal family) take ``log p`` and ``log(1 - p)`` straight from the logits where the activation is
known: ``logsigmoid(x)`` / ``logsigmoid(-x)`` for ``sigmoid=True``, ``log_softmax(x)`` and a log-sum-exp over
the other channels for ``softmax=True``. These are exact and finite at logits of +-1e4, where
``log(sigmoid(x))`` is ``-inf``. With probabilities as input (no activation, or ``other_act``) the logs are
taken of probabilities clipped to ``[1e-7, 1 - 1e-7]``, as the Keras reference code of Yeung et al. does.
They are computed slice by slice, with hand-written gradients, by :mod:`scripts.losses._activation`.

Two modes (see ``docs/losses.md``):

- **per-channel binary** (``sigmoid=True``, or one channel): every channel is its own binary problem
  ``[1 - p, p]`` against ``[1 - g, g]`` (BraTS overlapping regions TC/WT/ET);
- **categorical** (``softmax=True``, or probabilities with two or more channels and no activation): classes
  are mutually exclusive, channel 0 is the background (KiTS19 background/kidney/tumour). To pass multi-label
  probabilities, pass the logits with ``sigmoid=True`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._activation import LazyPrims, Prims, SliceActivation
from ._base import ImbalanceLoss, check_input_target, chunk_one_hot, device_type, reduce
from ._chunked import TermsKernel, voxel_sums


def is_categorical(n_channels: int, sigmoid: bool, softmax: bool) -> bool:
    """True for mutually exclusive classes (channel 0 the background), False for per-channel binary problems."""
    return softmax or (not sigmoid and n_channels > 1)


class Activated:
    """What a :class:`LogProbLoss` computes from, for one slice ``(B, C, n)`` of the voxels: all channels,
    float32 (float64 for float64 input). ``p``, ``logp`` (log p) and ``log1mp`` (log(1 - p)) come from the
    slice's primitives, computed when first read; ``g`` is the one-hot / binary target; ``categorical`` the
    mode (see :func:`is_categorical`)."""

    __slots__ = ("prims", "g", "categorical")

    def __init__(self, prims: Prims | LazyPrims, g: torch.Tensor, categorical: bool) -> None:
        self.prims, self.g, self.categorical = prims, g, categorical

    p = property(lambda self: self.prims.p)
    logp = property(lambda self: self.prims.logp)
    log1mp = property(lambda self: self.prims.log1mp)


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

    def needs_probs(self, categorical: bool) -> bool:
        """Whether the loss uses ``p`` itself, not only its logs (default: yes)."""
        return True

    def kept(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` without channel 0 when ``include_background=False``."""
        return t if self.include_background else t[:, 1:]

    @staticmethod
    def upstream(grads: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The gradients of the voxel sums, ``(B, K)``, as ``(B, K, 1)`` to broadcast over a slice's voxels."""
        return [g.unsqueeze(-1) for g in grads]

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

    def slice_activated(self, prims: Prims, target: torch.Tensor, categorical: bool) -> Activated:
        """The :class:`Activated` of one slice ``(B, C, n)``: primitives and one-hot target."""
        like = prims.like
        n_channels = like.shape[1]
        if self.to_onehot_y and n_channels > 1:
            g = chunk_one_hot(target, n_channels, like.dtype)
        else:
            g = target.to(like.dtype)
        return Activated(prims, g, categorical)

    def activated_terms(self, a: Activated) -> tuple[torch.Tensor, ...]:
        """Sums over the last (voxel) axis of a slice's :class:`Activated`, each ``(B, K)``."""
        raise NotImplementedError

    # Optional ``(a, grads) -> (dp, dlogp, dlog1mp)``: the gradient of ``sum_k grads[k] * activated_terms(a)[k]``
    # written by hand (or one tensor: the gradient w.r.t. the slice's logits); when None, autograd
    # differentiates activated_terms on each slice.
    activated_partials: Callable[..., Sequence] | None = None

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
            x, mode = self.activated_input(input)
            activation = SliceActivation(
                mode, logs=True, complement=self.needs_complement(categorical), probs=self.needs_probs(categorical)
            )
            kernel = TermsKernel(
                activation,
                lambda prims, tc: self.slice_activated(prims, tc, categorical),
                self.activated_terms,
                self.activated_partials,
            )
            sums, n_voxels = self.pool(voxel_sums(kernel, x, target), input[0, 0].numel())
            return reduce(self.activated_head(sums, n_voxels, categorical), self.reduction)
