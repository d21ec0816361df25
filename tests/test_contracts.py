"""Contract tests over the whole method and architecture registries."""

import json
from typing import Any

import pytest
import torch

import methods
from benchmark.data import Inputs
from benchmark.models import ARCHS, binarizable, build_model
from methods.convert import execution_order
from methods.layers import QuantizedMixin
from methods.routing import optimizers_for
from methods.step import training_step

VOCAB = 60  # text architectures: token ids of a small vocabulary


def regimes(name: str) -> list[str]:
    return list(methods.get_method(name).regimes)


CASES = [(m, r) for m in methods.method_names() for r in regimes(m)]
# controls whose binary layers never train: their latent weights get no gradient at all
FROZEN_BINARY = {"random_features"}


def example(arch: str, n: int = 4) -> tuple[Inputs, Any]:
    """What ``arch`` takes (``ARCHS.get(arch).takes``) and a batch of ``n`` such inputs: 16x16 RGB
    images, or token ids with an attention mask that pads the first sentence after 5 tokens.
    Every text architecture is built at the tests' width, bert_base included: without weights
    it is BERT-base from scratch, at width 0.0625 12 layers of hidden size 48 (fast on 2 cores)."""
    if ARCHS.get(arch).takes == "text":
        mask = torch.ones(n, 8, dtype=torch.int64)
        mask[0, 5:] = 0
        return Inputs.text(VOCAB), {"input_ids": torch.randint(1, VOCAB, (n, 8)), "attention_mask": mask}
    return Inputs.image(3), torch.randn(n, 3, 16, 16)


def head(x: Any, n: int) -> Any:
    """The first ``n`` examples of a batch (a tensor or a mapping of tensors)."""
    return {k: v[:n] for k, v in x.items()} if isinstance(x, dict) else x[:n]


@pytest.mark.parametrize(("name", "regime"), CASES)
@pytest.mark.parametrize("arch", ARCHS.names())
def test_builds_trains_a_step_and_routes_gradients(name: str, regime: str, arch: str) -> None:
    torch.manual_seed(0)
    inputs, x = example(arch)
    model = build_model(arch, inputs, num_classes=5, width=0.0625)
    y = torch.randint(0, 5, (4,))
    method = methods.build_method(name, {}, regime, seed=0)
    model = method.convert(model, head(x, 2), binarizable(arch))
    classifier = execution_order(model, head(x, 2))[-1]  # the last float Conv2d/Linear to run
    optimizers = optimizers_for(method, model, lambda p: torch.optim.SGD(p, lr=0.01))
    method.setup(total_steps=10, device=torch.device("cpu"))
    loss, _ = training_step(model, method, optimizers, x, y, 0)  # gradients are kept after it
    assert torch.isfinite(loss)
    binary = [m for m in model.modules() if isinstance(m, QuantizedMixin)]
    if regime == "fp":
        assert binary == []
    else:
        assert len(binary) == len(method.layers) > 0
        if name in FROZEN_BINARY:  # frozen from the start: no binary weight gets a gradient
            assert all(layer.weight.grad is None for layer in binary)
        else:  # at step 0 nothing is frozen, so every binary weight receives a gradient
            assert all(
                layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0 for layer in binary
            )
    # the layers kept in full precision get gradients too; the classifier surely a nonzero one
    kept = [model.get_submodule(n) for n in binarizable(arch).full_precision]
    # (a frozen BNN's signs cut the gradient: a stem without a shortcut around them gets none)
    assert all(m.weight.grad is not None for m in kept) or (name in FROZEN_BINARY and regime == "bnn")
    last = model.get_submodule(classifier)
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0


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


@pytest.mark.parametrize("arch", ["resnet18", "bert_tiny"])
def test_evaluated_network_is_fully_binary_for_every_method(arch: str) -> None:
    inputs, x = example(arch, 2)
    for name in methods.method_names():
        for regime in regimes(name):
            if regime == "fp":
                continue
            method = methods.build_method(name, {}, regime, seed=0)
            method.convert(build_model(arch, inputs, 5, 0.0625), x, binarizable(arch))
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
