"""Contract tests over the whole method and architecture registries."""

import json

import pytest
import torch

import methods
from benchmark.data import Inputs
from benchmark.models import ARCHS, binarizable, build_model
from methods.layers import QuantizedMixin
from methods.routing import optimizers_for
from methods.step import training_step


def regimes(name: str) -> list[str]:
    return list(methods.get_method(name).regimes)


CASES = [(m, r) for m in methods.method_names() for r in regimes(m)]


@pytest.mark.parametrize(("name", "regime"), CASES)
@pytest.mark.parametrize("arch", ARCHS.names())
def test_builds_trains_a_step_and_routes_gradients(name: str, regime: str, arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, Inputs.image(3), num_classes=5, width=0.0625)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 5, (4,))
    method = methods.build_method(name, {}, regime, seed=0)
    model = method.convert(model, x[:2], binarizable(arch))
    optimizers = optimizers_for(method, model, lambda p: torch.optim.SGD(p, lr=0.01))
    method.setup(total_steps=10, device=torch.device("cpu"))
    loss, _ = training_step(model, method, optimizers, x, y, 0)  # gradients are kept after it
    assert torch.isfinite(loss)
    binary = [m for m in model.modules() if isinstance(m, QuantizedMixin)]
    if regime == "fp":
        assert binary == []
    else:
        assert len(binary) == len(method.layers) > 0
        # at step 0 nothing is frozen, so every binary weight receives a gradient
        assert all(layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0 for layer in binary)
    assert model.fc.weight.grad is not None and model.fc.weight.grad.abs().sum() > 0
    assert model.conv1.weight.grad is not None


@pytest.mark.parametrize("name", methods.method_names())
def test_config_round_trips_through_json(name: str) -> None:
    cls = methods.get_method(name)
    config = cls.config_class()
    again = cls.config_class.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


@pytest.mark.parametrize("name", methods.method_names())
def test_every_hyperparameter_cites_a_source(name: str) -> None:
    from methods.config import describe

    cls = methods.get_method(name)
    assert cls.summary and cls.source
    assert all(hp["help"] and hp["source"] for hp in describe(cls.config_class))


def test_registry_refuses_duplicates_and_suggests_on_typos() -> None:
    with pytest.raises(ValueError, match="already registered"):
        methods.register_method(methods.get_method("ste"))
    with pytest.raises(KeyError, match="Did you mean 'stompp'"):
        methods.get_method("stomp")
    assert methods.method_names("stompp*") == ["stompp", "stompp_ste"]


def test_evaluated_network_is_fully_binary_for_every_method() -> None:
    x = torch.randn(4, 3, 16, 16)
    for name in methods.method_names():
        for regime in regimes(name):
            if regime == "fp":
                continue
            method = methods.build_method(name, {}, regime, seed=0)
            method.convert(
                build_model("resnet18", Inputs.image(3), 5, 0.0625), x[:2], binarizable("resnet18")
            )
            method.setup(10, torch.device("cpu"))
            method.before_forward(3)
            with method.evaluating("binary", epoch=1):
                for layer in method.layers:
                    # sign(W) times at most one positive scale per output channel (OvSW's alpha)
                    q = layer.quantized_weight()
                    scale = q.abs().amax(dim=tuple(range(1, q.dim())), keepdim=True)
                    assert bool((scale > 0).all()), (name, regime)
                    assert torch.equal(q.abs(), scale.expand_as(q)), (name, regime)
                    if layer.binarizes_input:
                        acts = set(torch.unique(layer.input_quantizer(torch.randn(50))).tolist())
                        assert acts <= {-1.0, 1.0}, (name, regime)
