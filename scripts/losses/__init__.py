"""Class-imbalance segmentation losses (see docs/losses.md)."""
