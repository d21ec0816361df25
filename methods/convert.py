"""Model conversion: find the binarizable layers in execution order and swap them.

The layer order is the order in which layers *first execute* in a forward pass, recorded
with forward hooks (DESIGN 3.2); it is correct for ResNets, whose shortcut convolutions run
after the main branch, and for transformers alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from methods.layers import BINARY_LAYER_TYPES

LayerFactory = Callable[[str, nn.Module], nn.Module]


def execution_order(
    model: nn.Module, example: Tensor, types: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)
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
            model(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return order


def binarizable_layers(model: nn.Module, example: Tensor, keep_first_last: bool = True) -> list[str]:
    """Conv2d/Linear layers in execution order, without the first and the last by default."""
    order = execution_order(model, example, tuple(BINARY_LAYER_TYPES))
    return order[1:-1] if keep_first_last else order


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


def replace_activations(model: nn.Module, old: type[nn.Module], make: Callable[[], nn.Module]) -> int:
    """Replace every module of type ``old`` by ``make()``; returns how many were replaced."""
    names = [n for n, m in model.named_modules() if type(m) is old]
    for name in names:
        replace_module(model, name, make())
    return len(names)
