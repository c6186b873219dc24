"""Serving the bundle in MONAI Label: lay it out as a model of the ``monaibundle`` sample app."""

from .app_bundle import install_bundle, write_initial_weights

__all__ = ["install_bundle", "write_initial_weights"]
