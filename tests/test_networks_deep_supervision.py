"""Deep supervision on the network side (scripts/networks/deep_supervision.py) and in the configs: the heads give
native-resolution outputs in training mode, the eval mode is the network itself, the saved network keeps the keys
of the inference configs' network, and a network trained with deep supervision loads into the inference network
(and its TorchScript) with the same eval-mode output; the training postprocessing takes the full resolution."""

from __future__ import annotations

import io

import pytest
import torch
from bundle_runs import config_files
from monai.bundle import ConfigParser
from monai.networks.nets import DynUNet, SegResNet, UNet

from scripts.losses import DeepSupervisionLoss, build_loss
from scripts.networks import DeepSupervisionNetwork, deep_supervised
from scripts.transforms import FullResolutiond

BRATS_TRAIN = ("train.json",)
BRATS_INFER = ("inference.json",)
KITS_TRAIN = ("train.json", "kits19_common.json", "kits19.json")
KITS_INFER = ("inference.json", "kits19_common.json", "kits19_inference.json")
# the configs' networks, narrower (same architecture and depth): BraTS SegResNet, KiTS19 DynUNet
SMALL = {"brats": {"network_def#blocks_down": [1, 1, 1, 1]}, "kits": {"filters": [4, 8, 16, 32]}}


def parsed(names, **overrides):
    parser = ConfigParser(ConfigParser.load_config_files(config_files(*names)))
    for key, value in {"device": "$torch.device('cpu')", **overrides}.items():
        parser[key] = value
    return parser


def kits_net(**kwargs):
    strides = [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]]
    return DynUNet(3, 1, 3, [[3, 3, 3]] * 4, strides, strides[1:], filters=[4, 8, 16, 32], **kwargs)


def brats_net():
    return SegResNet(blocks_down=[1, 2, 2, 4], blocks_up=[1, 1, 1], init_filters=8, in_channels=4, out_channels=3)


@pytest.mark.parametrize(
    "make, x, shapes",
    [
        (kits_net, torch.randn(2, 1, 16, 32, 32), [(16, 32, 32), (16, 16, 16), (8, 8, 8)]),  # anisotropic first
        (brats_net, torch.randn(1, 4, 32, 32, 16), [(32, 32, 16), (16, 16, 8), (8, 8, 4)]),
    ],
    ids=["dynunet", "segresnet"],
)
def test_native_resolution_heads_in_training_eval_is_the_network(make, x, shapes):
    torch.manual_seed(0)
    net = make()
    ds = DeepSupervisionNetwork(net, levels=3).train()
    torch.manual_seed(1)
    ys = ds(x)
    assert isinstance(ys, tuple) and [tuple(y.shape[2:]) for y in ys] == shapes
    assert all(y.shape[:2] == ys[0].shape[:2] for y in ys)
    torch.manual_seed(1)  # the same dropout masks
    torch.testing.assert_close(ys[0], net(x))  # level 0 is the network's own output
    ds.eval()
    with torch.no_grad():
        torch.testing.assert_close(ds(x), net(x))
    # the network is left as it was: no hooks, same keys; the wrapper adds the heads under heads.*
    assert not any(m._forward_hooks for m in net.modules())
    keys = set(ds.state_dict())
    assert {k for k in keys if k.startswith("network.")} == {f"network.{k}" for k in make().state_dict()}
    assert {k.split(".")[0] for k in keys} == {"network", "heads"}


def test_heads_get_gradients_from_the_loss():
    torch.manual_seed(0)
    ds = DeepSupervisionNetwork(kits_net(), levels=3).train()
    ys = ds(torch.randn(1, 1, 16, 32, 32))
    loss = DeepSupervisionLoss(build_loss("dice_focal", softmax=True, to_onehot_y=True, compile=False), levels=3)
    loss(ys, torch.randint(0, 3, (1, 1, 16, 32, 32))).backward()
    assert ds.heads[0].conv.conv.weight.grad.abs().sum() > 0  # level 1, weight 1/3
    assert torch.equal(ds.heads[1].conv.conv.weight.grad, torch.zeros_like(ds.heads[1].conv.conv.weight))  # 0


def test_bad_networks_and_levels_raise():
    with pytest.raises(ValueError, match=r"integer in \[2, 3\] for this DynUNet"):
        DeepSupervisionNetwork(kits_net(), levels=4)
    with pytest.raises(ValueError, match=r"integer in \[2, 3\] for this SegResNet"):
        DeepSupervisionNetwork(brats_net(), levels=1)
    with pytest.raises(ValueError, match="deep_supervision=False"):
        DeepSupervisionNetwork(kits_net(deep_supervision=True, deep_supr_num=1), levels=2)
    with pytest.raises(ValueError, match="DynUNet and SegResNet, got UNet"):
        DeepSupervisionNetwork(UNet(3, 1, 2, (4, 8), (2,)), levels=2)
    with pytest.raises(ValueError, match="use_conv_final=False"):
        DeepSupervisionNetwork(SegResNet(in_channels=1, out_channels=2, use_conv_final=False), levels=2)
    net = brats_net()
    assert deep_supervised(net, enabled=False) is net and deep_supervised(net, "false", 3) is net


def test_full_resolution_transform():
    a, b = torch.zeros(3, 4, 4, 4), torch.ones(3, 2, 2, 2)
    assert FullResolutiond("pred")({"pred": [a, b]})["pred"] is a
    assert FullResolutiond("pred")({"pred": (a, b)})["pred"] is a
    assert FullResolutiond("pred")({"pred": a})["pred"] is a
    with pytest.raises(ValueError, match="empty list"):
        FullResolutiond("pred")({"pred": []})


@pytest.mark.parametrize("flavour", ["brats", "kits"])
def test_configs_switch_deep_supervision(flavour):
    train = KITS_TRAIN if flavour == "kits" else BRATS_TRAIN
    off = parsed(train, **SMALL[flavour])
    assert off.get_parsed_content("train_network") is off.get_parsed_content("network")
    assert off.get_parsed_content("train_loss") is off.get_parsed_content("loss")
    on = parsed(train, deep_supervision=True, **SMALL[flavour])
    net, train_net = on.get_parsed_content("network"), on.get_parsed_content("train_network")
    assert isinstance(train_net, DeepSupervisionNetwork) and train_net.network is net and train_net.levels == 3
    loss = on.get_parsed_content("train_loss")
    assert isinstance(loss, DeepSupervisionLoss) and loss.loss is on.get_parsed_content("loss")
    assert loss.weights == pytest.approx((2 / 3, 1 / 3, 0.0))  # nnU-Net's
    assert {id(p) for p in on.get_parsed_content("optimizer").param_groups[0]["params"]} == {
        id(p) for p in train_net.parameters()
    }  # the heads are trained
    post = on.get_parsed_content("train#postprocessing").transforms
    assert isinstance(post[0], FullResolutiond)
    trainer_cfg = on["train#trainer"]
    assert trainer_cfg["network"] == "@train_network" and trainer_cfg["loss_function"] == "@train_loss"
    state_cfg = [h for h in on["train#handlers"] if "TrainingStateHandler" in str(h.get("_target_"))][0]
    assert state_cfg["save_dict"]["network"] == "@train_network"  # resume keeps the heads
    assert on["validate#best_model_saver#save_dict#model"] == "@network"  # model.pt: the plain network
    custom = parsed(train, deep_supervision=True, deep_supervision_levels=2, deep_supervision_weights=[0.7, 0.3])
    assert custom.get_parsed_content("train_loss").weights == (0.7, 0.3)
    assert len(custom.get_parsed_content("train_network").heads) == 1


@pytest.mark.parametrize("flavour", ["brats", "kits"])
def test_trained_with_deep_supervision_loads_into_the_inference_network(flavour):
    """What the bundle saves as models/model.pt (``@network``) after training with deep supervision loads
    strictly into the inference config's network, whose eval-mode output (and its TorchScript's) is the
    trained network's."""
    train, infer = (KITS_TRAIN, KITS_INFER) if flavour == "kits" else (BRATS_TRAIN, BRATS_INFER)
    small = SMALL[flavour]
    torch.manual_seed(0)
    config = parsed(train, deep_supervision=True, loss_compile=False, **small)
    train_net, loss = config.get_parsed_content("train_network"), config.get_parsed_content("train_loss")
    optimizer = torch.optim.SGD(train_net.parameters(), lr=0.1)
    x = torch.randn(1, 1 if flavour == "kits" else 4, 16, 32, 32)
    target = torch.randint(0, 3, (1, 1, 16, 32, 32)) if flavour == "kits" else torch.randint(0, 2, (1, 3, 16, 32, 32))
    train_net.train()
    for _ in range(2):
        optimizer.zero_grad()
        loss(train_net(x), target).backward()
        optimizer.step()
    buffer = io.BytesIO()
    torch.save(config.get_parsed_content("network").state_dict(), buffer)  # what the model.pt saver writes
    buffer.seek(0)
    inference_net = parsed(infer, **small).get_parsed_content("network_def")
    inference_net.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    inference_net.eval()
    train_net.eval()
    with torch.no_grad():
        expected = train_net(x)
        torch.testing.assert_close(inference_net(x), expected)
        torch.testing.assert_close(torch.jit.script(inference_net)(x), expected, rtol=1e-4, atol=1e-5)
