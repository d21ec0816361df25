"""Architectures: each file registers its own (``benchmark.models.registry``)."""

from __future__ import annotations

# Importing the architecture modules registers them in ARCHS.
from benchmark.models import binarynet, resnet, resnet20, vgg_small  # noqa: F401
from benchmark.models.registry import ARCHS, Architecture, binarizable, build_model, register_arch

__all__ = ["ARCHS", "Architecture", "binarizable", "build_model", "register_arch"]
