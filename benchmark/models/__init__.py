"""Architecture registry. Every builder takes ``in_channels``, ``num_classes`` and ``width``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from benchmark.models import binarynet, resnet, resnet20, vgg_small
from methods.registry import Registry

ARCHS: Registry[Callable[..., nn.Module]] = Registry("architecture")
ARCHS.add("resnet18", resnet.resnet18)
ARCHS.add("resnet34", resnet.resnet34)
ARCHS.add("resnet50", resnet.resnet50)
ARCHS.add("resnet20", resnet20.resnet20)
ARCHS.add("vgg_small", vgg_small.vgg_small)
ARCHS.add("binarynet", binarynet.binarynet)


def build_model(arch: str, in_channels: int, num_classes: int, width: float = 1.0) -> nn.Module:
    """Build architecture ``arch`` for the dataset's channels and classes."""
    return ARCHS.get(arch)(in_channels=in_channels, num_classes=num_classes, width=width)
