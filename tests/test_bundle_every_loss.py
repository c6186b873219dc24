"""Every catalogue name through the bundle's own configs (no training): ``--loss_name <name>`` builds the loss in
the BraTS region mode (sigmoid, 3 region channels) and under the KiTS19 overlay (softmax over 3 classes), its map
transforms (if any) turn the loader's label into the loss's target, and on that target the loss equals the same loss
built from the catalogue and called on the plain label, with a finite, non-zero input gradient. The label-mode
overlay: tests/test_brats_labels_config.py. A real training run per map kind: tests/test_bundle_loss_maps.py and
the slow workflow tests."""

from __future__ import annotations

import pytest
import torch
from bundle_runs import eager_config

from scripts.losses import LOSSES, build_loss

GEN = torch.Generator().manual_seed(0)
BRATS_REGIONS = (torch.rand(3, 12, 12, 12, generator=GEN) < 0.3).float()
KITS_LABELS = torch.randint(0, 3, (1, 12, 12, 12), generator=GEN).float()
SETTINGS = {
    "brats": (("train.json",), BRATS_REGIONS, {"sigmoid": True}),
    "kits19": (
        ("train.json", "kits19_common.json", "kits19.json"),
        KITS_LABELS,
        {"softmax": True, "to_onehot_y": True},
    ),
}


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_name_builds_from_the_config_and_takes_the_loaders_target(name, setting):
    configs, plain, mode = SETTINGS[setting]
    p = eager_config(*configs, loss_name=name)
    loss = p.get_parsed_content("loss")
    targets = []
    for label in (plain, plain.flip(-1)):  # each sample's maps from its own label (a skeleton is not flip-symmetric)
        for t in p.get_parsed_content("loss_map_transforms"):
            label = t({"label": label})["label"]
        targets.append(label)
    assert targets[0].shape[0] == plain.shape[0] + p.get_parsed_content("loss_map_channels")
    x = torch.randn(2, 3, 12, 12, 12, generator=torch.Generator().manual_seed(1), requires_grad=True)
    value = loss(x, torch.stack(targets))
    want = build_loss(name, **mode, compile=False)(x, torch.stack([plain, plain.flip(-1)]))
    torch.testing.assert_close(value, want, rtol=1e-5, atol=1e-6)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
