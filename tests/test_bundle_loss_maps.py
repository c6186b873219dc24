"""Bundle wiring of the map losses (no training): ``--loss_name boundary`` (and the other map losses) adds the map
transform at the end of the training transforms, builds the loss with ``maps_in_target=True``, and the training
postprocessing drops the map channels before the training metric; other losses are unchanged; the
``gdl_boundary`` handler follows the paper's schedule."""

from __future__ import annotations

import pytest
import torch
from bundle_runs import eager_config
from ignite.engine import Engine, Events

from scripts.handlers import LossRebalanceHandler
from scripts.losses import build_loss, takes_maps
from scripts.transforms import ConnectedComponentsd, RemoveMapsd, SignedDistanced, TubedSkeletond


@pytest.mark.parametrize(
    ("loss_name", "transform", "signed"),
    [("boundary", SignedDistanced, True), ("hausdorff_dt", SignedDistanced, False),
     ("blob", ConnectedComponentsd, None), ("skeleton_recall", TubedSkeletond, None), ("dice", None, None)],
)  # fmt: skip
def test_brats_config_adds_the_map_transform_and_hands_the_maps_to_the_loss(loss_name, transform, signed):
    p = eager_config("train.json", loss_name=loss_name)
    maps = p.get_parsed_content("loss_map_transforms")
    assert [type(t) for t in maps] == ([transform] if transform else [])
    if signed is not None:
        assert maps[0].signed is signed
    loss = p.get_parsed_content("loss")
    assert getattr(loss, "maps_in_target", False) is takes_maps(loss_name)
    n_maps = p.get_parsed_content("loss_map_channels")
    assert n_maps == (3 if transform else 0)
    regions = (torch.rand(3, 8, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    label = regions
    for t in maps:
        label = t({"label": label})["label"]
    assert label.shape[0] == 3 + n_maps
    x = torch.randn(1, 3, 8, 8, 8, requires_grad=True)
    value = loss(x, label[None])
    if transform:
        plain = build_loss(loss_name, sigmoid=True, compile=False)(x, regions[None])
        torch.testing.assert_close(value, plain)
    value.backward()
    assert torch.isfinite(x.grad).all()
    post = p.get_parsed_content("train#postprocessing").transforms[1]  # after FullResolutiond
    assert isinstance(post, RemoveMapsd) and torch.equal(post({"label": label})["label"], regions)


def test_the_map_transform_runs_last_after_the_random_crop():
    p = eager_config("train.json", loss_name="boundary")
    transforms = p.get_parsed_content("train#preprocessing").transforms
    names = [type(t).__name__ for t in transforms]
    assert names[-1] == "SignedDistanced" and names.index("RandCropByPosNegLabeld") < len(names) - 1


def test_kits_overlay_maps_per_class_of_the_label_map():
    p = eager_config("train.json", "kits19.json", loss_name="boundary")
    (sdm,) = p.get_parsed_content("loss_map_transforms")
    assert isinstance(sdm, SignedDistanced) and sdm.num_classes == 3
    loss = p.get_parsed_content("loss")
    assert loss.maps_in_target and loss.softmax and loss.to_onehot_y
    labels = torch.randint(0, 3, (1, 8, 8, 8), generator=torch.Generator().manual_seed(1))
    target = sdm({"label": labels})["label"]
    assert target.shape[0] == 4
    x = torch.randn(1, 3, 8, 8, 8)
    plain = build_loss("boundary", softmax=True, to_onehot_y=True, compile=False)(x, labels[None])
    torch.testing.assert_close(loss(x, target[None]), plain)
    post = p.get_parsed_content("train#postprocessing").transforms[1]  # after FullResolutiond
    assert isinstance(post, RemoveMapsd) and torch.equal(post({"label": target})["label"], labels.float())
    blob = eager_config("train.json", "kits19.json", loss_name="blob").get_parsed_content("loss_map_transforms")
    assert isinstance(blob[0], ConnectedComponentsd) and blob[0].num_classes == 3
    skeleton = eager_config("train.json", "kits19.json", loss_name="skeleton_recall")
    (tubes,) = skeleton.get_parsed_content("loss_map_transforms")
    assert isinstance(tubes, TubedSkeletond) and tubes.num_classes == 3
    loss = skeleton.get_parsed_content("loss")
    assert loss.maps_in_target and not loss.include_background  # the recall of the foreground classes
    plain = build_loss("skeleton_recall", softmax=True, to_onehot_y=True, compile=False)(x, labels[None])
    torch.testing.assert_close(loss(x, tubes({"label": labels})["label"][None]), plain)


def test_rebalance_handler_sets_alpha_per_epoch_and_ignores_other_losses():
    loss = build_loss("gdl_boundary", sigmoid=True)
    engine = Engine(lambda e, b: None)
    LossRebalanceHandler(loss).attach(engine)
    seen = []
    engine.add_event_handler(Events.EPOCH_STARTED, lambda e: seen.append(loss.alpha))
    engine.run([0], max_epochs=4)
    assert seen == pytest.approx([1.0, 0.99, 0.98, 0.97])
    other = Engine(lambda e, b: None)
    LossRebalanceHandler(build_loss("dice")).attach(other)
    assert not other.has_event_handler(LossRebalanceHandler(None), Events.EPOCH_STARTED)
    handlers = eager_config("train.json", loss_name="gdl_boundary").get_parsed_content("train#handlers")
    assert isinstance(handlers[0], LossRebalanceHandler) and handlers[0].loss.alpha == 1.0


@pytest.mark.compiled
def test_map_loss_compiles_on_the_data_loaders_meta_tensors():
    """The trainer hands MetaTensors to the loss; a map loss takes them as plain tensors (torch.compile cannot
    trace MetaTensor), so it stays compiled, with the gradient reaching the network's output."""
    import warnings

    from monai.data import MetaTensor

    regions = (torch.rand(3, 8, 8, 8, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    target = MetaTensor(SignedDistanced()({"label": regions})["label"][None])
    x = MetaTensor(torch.randn(1, 3, 8, 8, 8)).requires_grad_()
    loss = build_loss("boundary", sigmoid=True, maps_in_target=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to eager would warn
        value = loss(x, target)
    torch.testing.assert_close(value, build_loss("boundary", sigmoid=True, compile=False)(x.as_tensor(), regions[None]))
    value.backward()
    assert loss.compile and torch.isfinite(x.grad).all()
