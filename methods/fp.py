"""Full precision: binarizes nothing; the upper-bound row of every table."""

from __future__ import annotations

from typing import Any

from torch import nn

from methods.catalog import register_method
from methods.convert import Binarizable
from methods.protocol import Method


@register_method
class FullPrecision(Method):
    """The float network under the same recipe (regime ``fp``)."""

    name = "fp"
    summary = "full precision: binarizes nothing (upper bound)"
    source = "the architecture's float definition"
    regimes = ("fp",)

    def convert(self, model: nn.Module, example: Any, arch: Binarizable) -> nn.Module:
        return model
