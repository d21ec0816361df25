"""The architecture registry. Each architecture registers itself from its own file with
:func:`register_arch`, declaring there which layers stay in full precision and which
activations a BNN must neutralise (``methods.convert.Binarizable``): the methods read the
declaration, never a rule such as "first and last in execution order".

A builder takes ``inputs`` (what the dataset's batches hold: :class:`benchmark.data.inputs.Inputs`),
``num_classes`` and ``width`` (the width multiplier) and returns a plain float PyTorch module;
binarization is the method's business. An architecture registers the input kind it takes
(``image`` or ``text``); :func:`build_model` refuses a dataset of another kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from torch import nn

from benchmark.data.inputs import InputKind, Inputs
from benchmark.errors import UserError
from benchmark.models import zero_init
from methods.convert import Binarizable
from methods.registry import Registry

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A registered architecture: its builder and what a method may binarize in it."""

    name: str
    build: Callable[..., nn.Module]
    binarizable: Binarizable
    takes: InputKind = "image"


ARCHS: Registry[Architecture] = Registry("architecture")


def register_arch(
    name: str,
    *,
    full_precision: Sequence[str],
    activations: Sequence[type[nn.Module]] = (nn.ReLU,),
    takes: InputKind = "image",
) -> Callable[[Builder], Builder]:
    """Decorator: register a builder as architecture ``name``; ``full_precision`` names the
    Conv2d/Linear modules that stay float, ``activations`` the types a BNN replaces by identities,
    ``takes`` the kind of input it is built for."""

    def deco(build: Builder) -> Builder:
        declared = Binarizable(tuple(full_precision), tuple(activations))
        ARCHS.add(name, Architecture(name, build, declared, takes))
        return build

    return deco


def build_model(
    arch: str, inputs: Inputs, num_classes: int, width: float = 1.0, zero_init_residual: bool = False
) -> nn.Module:
    """Build architecture ``arch`` for the dataset's inputs and classes (UserError when the
    architecture takes another kind of input than the dataset gives); with
    ``zero_init_residual``, every residual branch starts at zero (:mod:`benchmark.models.zero_init`)."""
    entry = ARCHS.get(arch)
    if entry.takes != inputs.kind:
        raise UserError(
            f"architecture '{arch}' takes {entry.takes} inputs, but the dataset gives "
            f"{inputs.describe()}; pair it with a dataset of {entry.takes}s"
        )
    model = entry.build(inputs=inputs, num_classes=num_classes, width=width)
    return zero_init.zero_init_residual(model, arch) if zero_init_residual else model


def binarizable(arch: str) -> Binarizable:
    """What a method may binarize in architecture ``arch``."""
    return ARCHS.get(arch).binarizable
