"""STE baseline: clipped latent weights, binary forward, fully binary evaluation."""

import torch
from torch.nn import functional as F

import methods
from tests.tiny import batch, tiny_arch, tiny_net


def test_ste_keeps_latent_weights_in_unit_interval_and_forward_is_binary() -> None:
    torch.manual_seed(0)
    method = methods.build_method("ste", {}, "bnn", 0)
    model = method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    for layer in method.layers:
        layer.weight.data.mul_(20)  # push latent weights far outside [-1, 1]
    method.after_step(0)
    opt = torch.optim.SGD(model.parameters(), lr=5.0)
    x, y = batch()
    method.setup(10, torch.device("cpu"))
    for step in range(5):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        method.after_step(step)
        for layer in method.layers:
            assert layer.weight.abs().max() <= 1.0
            assert set(torch.unique(layer.quantized_weight()).tolist()) <= {-1.0, 1.0}


def test_bwn_binarizes_weights_only_and_keeps_relu() -> None:
    method = methods.build_method("ste", {}, "bwn", 0)
    model = method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    assert all(layer.binarizes_weight and not layer.binarizes_input for layer in method.layers)
    assert any(isinstance(m, torch.nn.ReLU) for m in model.modules())


def test_bnn_binarizes_inputs_and_drops_relu() -> None:
    method = methods.build_method("ste", {}, "bnn", 0)
    model = method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    assert all(layer.binarizes_weight and layer.binarizes_input for layer in method.layers)
    assert not any(isinstance(m, torch.nn.ReLU) for m in model.modules())


def test_first_and_last_layers_stay_full_precision() -> None:
    method = methods.build_method("ste", {}, "bnn", 0)
    model = method.convert(tiny_net(depth=4), batch()[0][:2], tiny_arch(depth=4))
    assert method.layer_names == ["3", "6", "9"]
    assert type(model[0]) is torch.nn.Conv2d and type(model[-1]) is torch.nn.Linear
