"""Architectures: each file registers its own (``benchmark.models.registry``)."""

from __future__ import annotations

# Importing the architecture modules registers them in ARCHS.
from benchmark.models import (  # noqa: F401
    bert,
    binarynet,
    bireal,
    mobilenetv2,
    resnet,
    resnet18_clip,
    resnet20,
    resnet_imagenet,
    vgg_small,
)
from benchmark.models.registry import ARCHS, Architecture, binarizable, build_model, register_arch

__all__ = ["ARCHS", "Architecture", "binarizable", "build_model", "register_arch"]
