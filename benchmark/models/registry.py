"""The architecture registry. Each architecture registers itself from its own file with
:func:`register_arch`, declaring there which layers stay in full precision and which
activations a BNN must neutralise (``methods.convert.Binarizable``): the methods read the
declaration, never a rule such as "first and last in execution order".

A builder takes ``in_channels``, ``num_classes`` and ``width`` (the width multiplier) and
returns a plain float PyTorch module; binarization is the method's business.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from torch import nn

from methods.convert import Binarizable
from methods.registry import Registry

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A registered architecture: its builder and what a method may binarize in it."""

    name: str
    build: Callable[..., nn.Module]
    binarizable: Binarizable


ARCHS: Registry[Architecture] = Registry("architecture")


def register_arch(
    name: str, *, full_precision: Sequence[str], activations: Sequence[type[nn.Module]] = (nn.ReLU,)
) -> Callable[[Builder], Builder]:
    """Decorator: register a builder as architecture ``name``; ``full_precision`` names the
    Conv2d/Linear modules that stay float, ``activations`` the types a BNN replaces by identities."""

    def deco(build: Builder) -> Builder:
        ARCHS.add(name, Architecture(name, build, Binarizable(tuple(full_precision), tuple(activations))))
        return build

    return deco


def build_model(arch: str, in_channels: int, num_classes: int, width: float = 1.0) -> nn.Module:
    """Build architecture ``arch`` for the dataset's channels and classes."""
    return ARCHS.get(arch).build(in_channels=in_channels, num_classes=num_classes, width=width)


def binarizable(arch: str) -> Binarizable:
    """What a method may binarize in architecture ``arch``."""
    return ARCHS.get(arch).binarizable
