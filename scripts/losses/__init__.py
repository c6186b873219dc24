"""Class-imbalance segmentation losses, each exact to its paper (see docs/losses.md).

Import a loss as ``scripts.losses.<Name>`` or build one by catalogue name with
``scripts.losses.build_loss(name, **overrides)``.
"""
