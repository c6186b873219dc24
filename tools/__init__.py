"""Tooling around the bundle, not imported by a bundle run and not shipped in the model-zoo archive: the loss
study (``python -m tools.study``) and the model-zoo packager (``python -m tools.zoo``)."""
