"""Model conversion: find the binarizable layers in execution order and swap them.

Which layers stay in full precision and which activations a BNN must neutralise is declared
by each architecture (:class:`Binarizable`, registered with it), never inferred. The layer
order is the order in which layers *first execute* in a forward pass, recorded with forward
hooks (DESIGN 3.2); it is correct for ResNets, whose shortcut convolutions run after the main
branch, and for transformers alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from methods.inputs import forward
from methods.layers import BINARY_LAYER_TYPES

LayerFactory = Callable[[str, nn.Module], nn.Module]


@dataclasses.dataclass(frozen=True)
class Binarizable:
    """What an architecture lets a method binarize, declared with the architecture.

    ``full_precision``: the names of the Conv2d/Linear modules that stay float (the stem and
    the classifier, by the convention of every method here); ``activations``: the activation
    types that become identities in the ``bnn`` regime (a ReLU, ReLU6 or GELU before a sign
    would make every binary activation +1 or lose its sign; a Hardtanh may be kept where the
    reference network clips its residual stream). Every other Conv2d/Linear is binarized.
    """

    full_precision: tuple[str, ...]
    activations: tuple[type[nn.Module], ...] = (nn.ReLU,)


def execution_order(
    model: nn.Module, example: Any, types: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)
) -> list[str]:
    """Names of the modules of ``types`` in the order they first run on ``example``."""
    order: list[str] = []
    handles = []
    for name, module in model.named_modules():
        if type(module) in types:

            def hook(_m: nn.Module, _i: object, _o: object, name: str = name) -> None:
                if name not in order:
                    order.append(name)

            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            forward(model, example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return order


def binarizable_layers(model: nn.Module, example: Any, arch: Binarizable) -> list[str]:
    """The Conv2d/Linear layers that ``arch`` does not keep in full precision, in execution
    order; ValueError naming a declared full-precision layer that the model runs no such layer as."""
    order = execution_order(model, example, tuple(BINARY_LAYER_TYPES))
    missing = [name for name in arch.full_precision if name not in order]
    if missing:
        raise ValueError(
            f"the architecture declares {missing} full precision, but its model runs no Conv2d or "
            f"Linear of that name (it runs {order[:3]}...{order[-2:]})"
        )
    return [name for name in order if name not in arch.full_precision]


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Replace the submodule at dotted path ``name``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def binary_layer(module: nn.Module, weight_q: nn.Module | None, input_q: nn.Module | None) -> nn.Module:
    """The binary twin of a float Conv2d/Linear (``methods.layers``) with the given quantizers."""
    return BINARY_LAYER_TYPES[type(module)].from_float(module, weight_q, input_q)  # type: ignore[attr-defined]


def swap_layers(model: nn.Module, names: list[str], make: LayerFactory) -> None:
    """Replace each named float layer by ``make(name, layer)``."""
    for name in names:
        replace_module(model, name, make(name, model.get_submodule(name)))


def replace_activations(
    model: nn.Module, old: tuple[type[nn.Module], ...], make: Callable[[], nn.Module]
) -> int:
    """Replace every module whose type is one of ``old`` by ``make()``; returns how many."""
    names = [n for n, m in model.named_modules() if type(m) in old]
    for name in names:
        replace_module(model, name, make())
    return len(names)
