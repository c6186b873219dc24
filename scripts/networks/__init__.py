"""What the bundle adds to MONAI's networks: deep supervision heads outside the network (training only)."""

from .deep_supervision import DeepSupervisionNetwork, decoder_levels, deep_supervised

__all__ = ["DeepSupervisionNetwork", "decoder_levels", "deep_supervised"]
