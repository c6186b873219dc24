"""Serving the bundle in MONAI Label: ``app_bundle`` lays it out as a model of the ``monaibundle`` sample app,
``studies`` writes a data set as a MONAI Label studies folder (submodules are not imported here, so that
``python -m scripts.monailabel.<module>`` runs them cleanly)."""
