"""Loss comparison study (issue 20): a small 3D U-Net trained by patches with each study loss on synthetic volumes
holding lesions of three size classes plus distractors; imbalance level and patch sampler as factors, lesion sizes
fixed; per-lesion and per-case outcomes; paired statistics against ``bce_dice``.

``python -m tools.study run --preset cpu`` trains the grid (resumable), ``python -m tools.study report``
regenerates ``docs/study.md`` and ``docs/figures/study_*.png`` from the saved results without retraining.
"""
