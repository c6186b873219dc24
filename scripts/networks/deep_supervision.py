"""Deep supervision heads for the bundle's networks (MONAI's ``DynUNet`` and ``SegResNet``), outside the network.

:class:`DeepSupervisionNetwork` wraps a network and adds one segmentation head per lower decoder level. In training
mode it returns the network's own output and the heads' outputs, each at its level's native resolution (what
:class:`scripts.losses.DeepSupervisionLoss` takes); in eval mode it *is* the network (the heads are not run). The
wrapped network is left as it is: no attribute, hook or parameter is added to it, so its ``state_dict`` keeps
the keys of the plain network of the inference config. The bundle saves the plain network as ``models/model.pt``
(inference, evaluation, TorchScript export, MONAI Label load it unchanged) and the wrapper, heads included, in the
training state (``--resume``).
"""

from __future__ import annotations

from functools import partial

import torch
from monai.networks.blocks.dynunet_block import UnetOutBlock
from monai.networks.blocks.segresnet_block import get_conv_layer
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from monai.networks.nets import DynUNet, SegResNet
from torch import nn


def _keep(features: dict[int, torch.Tensor], level: int, module: nn.Module, args: tuple, output: torch.Tensor):
    features[level] = output


class DeepSupervisionNetwork(nn.Module):
    """``network`` with segmentation heads on its decoder levels ``1 .. levels - 1`` (level ``l`` at ``1 / 2^l``
    of the input's size for stride-2 networks), as nnU-Net's decoder (Isensee et al., Nature Methods 2021).

    Training mode: ``(y_0, y_1, ..., y_{levels-1})``, ``y_0 = network(x)`` the full-resolution output and ``y_l``
    the head of decoder level ``l`` on that level's features, at their own resolution (not interpolated up, as
    MONAI's ``DynUNet(deep_supervision=True)`` does). Eval mode: ``network(x)``, the full-resolution output only.

    - ``DynUNet`` (built with ``deep_supervision=False``): the features of level ``l`` are the output of the
      up-sampling block that ends at level ``l`` (``filters[l]`` channels); the head is MONAI's own deep
      supervision head, ``UnetOutBlock(filters[l], out_channels)`` (a 1x1 convolution), initialised as DynUNet's
      convolutions. Levels: 2 .. ``len(strides) - 1`` (nnU-Net's: every decoder level).
    - ``SegResNet`` (``use_conv_final=True``): the features of level ``l`` are the output of ``up_layers`` at
      that level (``init_filters * 2^l`` channels); the head is SegResNet's final block at that width (norm,
      activation, 1x1 convolution with bias). Levels: 2 .. ``len(blocks_up)``.

    The features are taken with forward hooks registered for the duration of a training forward pass only, so
    the network stays exactly the module it was (TorchScript-scriptable, same ``state_dict``).

    Args:
        network: a MONAI ``DynUNet`` or ``SegResNet``.
        levels: the number of outputs, the full resolution included (>= 2, at most the decoder's levels).

    Example:
        >>> net = SegResNet(blocks_down=[1, 1, 1], blocks_up=[1, 1], init_filters=8, in_channels=4, out_channels=3)
        >>> ds = DeepSupervisionNetwork(net, levels=2).train()
        >>> [tuple(y.shape) for y in ds(torch.randn(1, 4, 16, 16, 16))]
        [(1, 3, 16, 16, 16), (1, 3, 8, 8, 8)]
        >>> ds.eval()(torch.randn(1, 4, 16, 16, 16)).shape
        torch.Size([1, 3, 16, 16, 16])
    """

    def __init__(self, network: nn.Module, levels: int = 3) -> None:
        super().__init__()
        decoder, make_head = decoder_levels(network)
        if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= len(decoder):
            raise ValueError(
                f"deep supervision levels must be an integer in [2, {len(decoder)}] for this "
                f"{type(network).__name__} ({len(decoder)} decoder levels, the full resolution included), "
                f"got {levels!r}."
            )
        self.network = network
        self.levels = levels
        self.feature_modules = [name for name, _ in decoder[1:levels]]
        self.heads = nn.ModuleList(make_head(channels) for _, channels in decoder[1:levels])

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if not self.training:
            return self.network(x)
        features: dict[int, torch.Tensor] = {}
        handles = [
            self.network.get_submodule(name).register_forward_hook(partial(_keep, features, level))
            for level, name in enumerate(self.feature_modules, start=1)
        ]
        try:
            out = self.network(x)
        finally:
            for handle in handles:
                handle.remove()
        return (out, *(head(features[level]) for level, head in enumerate(self.heads, start=1)))


def decoder_levels(network: nn.Module) -> tuple[list[tuple[str, int]], object]:
    """``[(name of the module whose output are the features of level l, their channels) for l = 0 .. D - 1]``
    and the function that builds a head for a number of channels."""
    if isinstance(network, DynUNet):
        if network.deep_supervision:
            raise ValueError(
                "build the DynUNet with deep_supervision=False: DeepSupervisionNetwork adds its own heads, at their "
                "native resolution (MONAI's interpolates them up to the full resolution)."
            )
        n = len(network.upsamples)
        decoder = [(f"upsamples.{n - 1 - level}", int(network.filters[level])) for level in range(n)]

        def dynunet_head(channels: int) -> nn.Module:
            head = UnetOutBlock(network.spatial_dims, channels, network.out_channels, dropout=network.dropout)
            head.apply(DynUNet.initialize_weights)
            return head

        return decoder, dynunet_head
    if isinstance(network, SegResNet):
        if not network.use_conv_final:
            raise ValueError("a SegResNet with use_conv_final=False has no segmentation output to supervise.")
        convs = [m for m in network.conv_final.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
        out_channels = convs[-1].out_channels
        n = len(network.up_layers)
        decoder = [(f"up_layers.{n - 1 - level}", network.init_filters * 2**level) for level in range(n)]

        def segresnet_head(channels: int) -> nn.Module:
            return nn.Sequential(
                get_norm_layer(name=network.norm, spatial_dims=network.spatial_dims, channels=channels),
                get_act_layer(network.act),
                get_conv_layer(network.spatial_dims, channels, out_channels, kernel_size=1, bias=True),
            )

        return decoder, segresnet_head
    raise ValueError(
        f"deep supervision supports MONAI's DynUNet and SegResNet, got {type(network).__name__} "
        "(a DistributedDataParallel network: wrap the DeepSupervisionNetwork in it, not the other way round)."
    )


def deep_supervised(network: nn.Module, enabled: bool = True, levels: int = 3) -> nn.Module:
    """``DeepSupervisionNetwork(network, levels)`` when ``enabled``, else ``network`` itself: the bundle's
    ``train_network_def`` (``--deep_supervision True``)."""
    if isinstance(enabled, str):
        enabled = enabled.strip().lower() in ("1", "true", "yes")
    return DeepSupervisionNetwork(network, levels) if enabled else network
