"""Blob loss (Kofler et al. 2023): a main loss plus the same loss per connected component of the target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._checks import check_range
from ._maps import MapLoss, check_connectivity
from .catalogue import LOSSES, LossSpec, build_loss

# a logit whose sigmoid is exactly 0 in float32 and float64: the masked-out voxels of a component problem
MASKED_LOGIT = -1e4


class BlobLoss(MapLoss):
    """Blob loss: ``alpha * main + beta * blob``, the blob term the mean of the main loss per connected
    component (instance) of the target, each component against the background with the other components of
    its channel masked out; small lesions weigh as much as large ones.

    Kofler F., Shit S., Ezhov I., Fidon L., Horvath I., Al-Maskari R., Li H.B., Bhatia H., Loehr T., Piraud M.,
    Erturk A., Kirschke J., Peeken J.C., Vercauteren T., Zimmer C., Wiestler B., Menze B., "blob loss: instance
    imbalance aware loss functions for semantic segmentation", IPMI 2023 (arXiv:2205.08209), eq. 1-3; as the
    authors' code (``neuronflow/blob_loss``, ``compute_loss`` / ``compute_blob_loss_multi``)::

        blob  = mean over (b, c) with components of [ mean_n main(p_c masked by m_n, g_c == n) ]
        m_n   = 1 on the background of channel c and on component n, 0 on the other components
        loss  = alpha main(p, g) + beta blob,   alpha = 2, beta = 1

    The main loss is any catalogue name (``main``), for the main and the blob term alike, built with this loss's
    activation and ``main_kwargs``. Default ``"dice"``: the paper evaluates "a DSC-based blob loss" against the
    soft Dice loss (its abstract); the authors' code example (``compute_loss`` docstring) uses soft Dice + BCE,
    which is ``main="bce_dice"``. Each component is a one-channel binary problem of the main loss in sigmoid
    mode on the log-odds ``z_c = log p_c - log(1 - p_c)`` of its channel (``z = x`` in sigmoid mode,
    ``x_c - logsumexp of the other logits`` in softmax mode), with the masked-out voxels at probability 0 (logit
    ``-1e4``; the authors' code multiplies its network output by the mask, which for a probability output is
    the same). The components of one channel of one sample are one batch of that call (``reduction="mean"``:
    the mean over the components for a loss computed per sample). Softmax mode: the components of the
    foreground classes ``c >= 1``; sigmoid mode: of every kept channel. A sample without components adds no
    blob term (0 when none has one, as the authors' code).

    Instance maps: :func:`scripts.losses._maps.components` of ``g_c > 0.5`` with ``connectivity`` (``None``:
    full, 26 neighbours in 3D; ``1``: faces, 6 in 3D), computed eagerly from the target, or passed as ``C``
    extra target channels with ``maps_in_target=True`` (:class:`scripts.transforms.ConnectedComponentsd`).
    The main and component losses compile themselves (``compile``); the loop over channels runs eagerly.

    Args:
        main: catalogue name of the main loss. alpha, beta: weights of the main and blob terms, >= 0.
        main_kwargs: further arguments of the main loss (e.g. ``{"gamma": 1.0}``).
        connectivity: of the components, ``None`` or an integer >= 1.
        maps_in_target: the target carries the ``C`` instance maps after the plain target.
        Others as :class:`scripts.losses._base.SegmentationLoss`.

    Shapes: input ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels with ``to_onehot_y=True`` or
    ``(B, C, *spatial)``; the loss is one value: ``reduction="none"`` gives ``(1, 1)``.

    Example:
        >>> loss = BlobLoss(sigmoid=True)
        >>> loss(torch.randn(2, 1, 8, 8, 8), torch.randint(0, 2, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    map_kind = "components"

    def __init__(
        self,
        main: str = "dice",
        alpha: float = 2.0,
        beta: float = 1.0,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        main_kwargs: dict[str, Any] | None = None,
        connectivity: int | None = None,
        *,
        maps_in_target: bool = False,
        compile: bool = True,
    ) -> None:
        common = include_background, to_onehot_y, sigmoid, softmax, other_act, reduction
        super().__init__(*common, compile=compile, maps_in_target=maps_in_target)
        if main not in LOSSES or main in ("blob", "gdl_boundary"):
            names = ", ".join(n for n in sorted(LOSSES) if n not in ("blob", "gdl_boundary"))
            raise ValueError(
                f"main must be a catalogue loss other than blob and gdl_boundary, got {main!r}; valid: {names}."
            )
        self.main, self.alpha, self.beta = (
            main,
            check_range("alpha", alpha, low=0.0),
            check_range("beta", beta, low=0.0),
        )
        self.connectivity = check_connectivity(connectivity)
        kwargs = dict(main_kwargs or {})
        activation = {"sigmoid": sigmoid, "softmax": softmax, "other_act": other_act}
        self.main_loss = build_loss(
            main,
            include_background=include_background,
            to_onehot_y=to_onehot_y,
            compile=compile,
            **activation,
            **kwargs,
        )
        self.component_loss = build_loss(main, sigmoid=True, compile=compile, **kwargs)

    def run(self, fn: Callable[..., torch.Tensor], *args: torch.Tensor) -> torch.Tensor:
        """Eagerly: the loop over the components is data-dependent; the main and component losses compile."""
        return fn(*args)

    def reduced_formula(self, input: torch.Tensor, target: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
        loss = self.alpha * self.main_loss(input, target) + self.beta * self.blob_term(input, instances)
        return loss.reshape(1, 1) if self.reduction == "none" else loss

    def blob_term(self, input: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
        z = self.log_probabilities(input) - self.log_complements(input)  # log-odds of each channel
        first = 1 if self.categorical(input.shape[1]) else (0 if self.include_background else 1)
        terms = []
        for b in range(input.shape[0]):
            for c in range(first, input.shape[1]):
                ids = instances[b, c]
                n = int(ids.max())
                if n == 0:
                    continue
                numbers = torch.arange(1, n + 1, device=ids.device, dtype=ids.dtype).view(n, *[1] * ids.ndim)
                mine = (ids == numbers).unsqueeze(1)  # (n, 1, *spatial): component n
                others = (ids > 0) & ~mine
                logits = torch.where(others, torch.full_like(z[b, c], MASKED_LOGIT), z[b, c])
                terms.append(self.component_loss(logits, mine.to(input.dtype)))
        return torch.stack(terms).mean() if terms else input.new_zeros(())


LOSSES["blob"] = LossSpec(BlobLoss, "Kofler et al., IPMI 2023 (blob loss)", {"main": "dice", "alpha": 2.0, "beta": 1.0})
