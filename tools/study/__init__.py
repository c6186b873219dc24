"""Loss comparison study (issue 7): the same tiny 3D U-Net trained with each catalogue loss on synthetic volumes
whose rare foreground covers a controlled fraction of the voxels; several seeds; identical budgets.

``python -m tools.study run --preset cpu`` trains the grid (resumable), ``python -m tools.study report``
regenerates ``docs/study.md`` and ``docs/figures/study_*.png`` from the saved results without retraining.
"""
