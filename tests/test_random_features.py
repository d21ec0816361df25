"""The random-features control (methods/random_features.py) against its definition: every binary
layer binarized as in STE but frozen at initialisation (weights never change, signs pass no
gradient), only what the recipe's optimizer still reaches trains."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import methods
from benchmark import facts
from benchmark.cli import main
from methods.random_features import FrozenSign
from methods.routing import optimizers_for
from methods.step import training_step
from tests.tiny import batch, protocol_steps, tiny_arch, tiny_net

DEPTH = 4
CLASSIFIER = str(3 * DEPTH + 2)  # tiny_net's Linear
LAST_BINARY = str(3 * (DEPTH - 1))  # tiny_net's last binarized convolution


def converted(regime: str, seed: int = 0) -> tuple[nn.Module, methods.Method, list[torch.optim.Optimizer]]:
    """tiny_net under random_features with the mini recipe's optimizer (SGD 0.9, weight decay 5e-4)."""
    torch.manual_seed(seed)
    method = methods.build_method("random_features", {}, regime, seed)
    model = method.convert(tiny_net(depth=DEPTH), batch()[0], tiny_arch(DEPTH))
    build = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4)  # noqa: E731
    optimizers = optimizers_for(method, model, build)
    method.setup(total_steps=10, device=torch.device("cpu"))
    return model, method, optimizers


def test_frozen_sign_is_sign_with_no_gradient() -> None:
    x = torch.tensor([-2.0, -0.0, 0.0, 0.3, 5.0], requires_grad=True)
    y = FrozenSign()(x)
    assert y.tolist() == [-1.0, 1.0, 1.0, 1.0, 1.0]  # sign(0) = +1
    assert not y.requires_grad  # d sign / dx = 0: nothing flows back to x


def test_binary_weights_never_change_under_momentum_and_weight_decay() -> None:
    for regime in ("bnn", "bwn"):
        model, method, optimizers = converted(regime)
        before = [w.detach().clone() for w in method.binary_weights()]
        classifier = model.get_submodule(CLASSIFIER).weight.detach().clone()
        assert len(before) == DEPTH - 1
        protocol_steps(model, method, optimizers, range(5))
        for layer, w0 in zip(method.layers, before, strict=True):
            assert not layer.weight.requires_grad and layer.weight.grad is None
            assert torch.equal(layer.weight, w0)  # values, not only signs
            assert torch.equal(layer.quantized_weight(), torch.where(w0 >= 0, 1.0, -1.0))
        # the classifier still trains
        assert not torch.equal(model.get_submodule(CLASSIFIER).weight, classifier), regime


def test_nothing_before_the_last_binary_layer_gets_a_gradient_in_a_bnn() -> None:
    model, method, optimizers = converted("bnn")
    x, y = batch()
    training_step(model, method, optimizers, x, y, 0)  # gradients are kept after it
    names = [name for name, _ in model.named_children()]
    before = names[: names.index(LAST_BINARY)]  # the stem, every BatchNorm and binary layer before it
    for name in before:
        for param_name, p in model.get_submodule(name).named_parameters():
            assert p.grad is None or not p.grad.any(), f"{name}.{param_name}"
    assert model.get_submodule(LAST_BINARY).weight.grad is None
    after_bn = model.get_submodule(str(int(LAST_BINARY) + 1))  # BatchNorm after the last binary layer
    assert isinstance(after_bn, nn.BatchNorm2d) and after_bn.weight.grad.abs().sum() > 0
    assert model.get_submodule(CLASSIFIER).weight.grad.abs().sum() > 0


def test_in_a_bwn_every_batchnorm_trains_on_the_frozen_weights() -> None:
    model, method, optimizers = converted("bwn")
    x, y = batch()
    training_step(model, method, optimizers, x, y, 0)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == DEPTH and all(m.weight.grad.abs().sum() > 0 for m in norms)
    assert all(w.grad is None for w in method.binary_weights())


def test_registered_with_its_facts_and_listed() -> None:
    assert "random_features" in methods.method_names()
    cls = methods.get_method("random_features")
    assert cls.regimes == ("bnn", "bwn") and not cls.has_ordering  # runs once, ordering none
    assert facts.declared()["random_features"] == facts.MethodFacts("random_features", ("bnn", "bwn"), ())


def test_bnnbench_methods_lists_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["methods"]) == 0
    assert "random_features" in capsys.readouterr().out
