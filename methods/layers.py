"""Thin binary layers fed by quantizer modules (the larq pattern: ``input_quantizer=``,
``kernel_quantizer=``), so N quantizers and M layer types cost N + M pieces.

A binary layer is the float layer it replaces plus two quantizers applied in ``forward``:

    y = op(q_in(x), q_w(W)) + b

``nn.Identity`` stands for "not quantized" (a BWN's activations, a full-precision layer).
"""

from __future__ import annotations

from typing import TypeVar

import torch.nn.functional as F
from torch import Tensor, nn

ConvT = TypeVar("ConvT", bound=nn.Conv2d)
LinearT = TypeVar("LinearT", bound=nn.Linear)


class QuantizedMixin:
    """Holds the two quantizers and applies them; the layer keeps its float op."""

    weight_quantizer: nn.Module
    input_quantizer: nn.Module
    weight: nn.Parameter

    def _init_quantizers(self, weight_quantizer: nn.Module | None, input_quantizer: nn.Module | None) -> None:
        self.weight_quantizer = weight_quantizer or nn.Identity()
        self.input_quantizer = input_quantizer or nn.Identity()

    def quantized_weight(self) -> Tensor:
        """The effective weight used in the forward pass."""
        return self.weight_quantizer(self.weight)

    @property
    def binarizes_input(self) -> bool:
        return not isinstance(self.input_quantizer, nn.Identity)

    @property
    def binarizes_weight(self) -> bool:
        return not isinstance(self.weight_quantizer, nn.Identity)


def conv_like(cls: type[ConvT], conv: nn.Conv2d) -> ConvT:
    """A new ``cls`` (an ``nn.Conv2d`` subclass) with ``conv``'s geometry, device and dtype."""
    return cls(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding,  # type: ignore[arg-type]
        conv.dilation,  # type: ignore[arg-type]
        conv.groups,
        conv.bias is not None,
        conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )


def linear_like(cls: type[LinearT], linear: nn.Linear) -> LinearT:
    """A new ``cls`` (an ``nn.Linear`` subclass) with ``linear``'s shape, device and dtype."""
    return cls(
        linear.in_features,
        linear.out_features,
        linear.bias is not None,
        device=linear.weight.device,
        dtype=linear.weight.dtype,
    )


class BinaryConv2d(QuantizedMixin, nn.Conv2d):
    """``nn.Conv2d`` whose weight and input pass through quantizers."""

    @classmethod
    def from_float(
        cls, conv: nn.Conv2d, weight_quantizer: nn.Module | None, input_quantizer: nn.Module | None
    ) -> BinaryConv2d:
        layer = conv_like(cls, conv)
        layer.load_state_dict(conv.state_dict())
        layer._init_quantizers(weight_quantizer, input_quantizer)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(self.input_quantizer(x), self.quantized_weight(), self.bias)


class BinaryLinear(QuantizedMixin, nn.Linear):
    """``nn.Linear`` whose weight and input pass through quantizers."""

    @classmethod
    def from_float(
        cls,
        linear: nn.Linear,
        weight_quantizer: nn.Module | None,
        input_quantizer: nn.Module | None,
    ) -> BinaryLinear:
        layer = linear_like(cls, linear)
        layer.load_state_dict(linear.state_dict())
        layer._init_quantizers(weight_quantizer, input_quantizer)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self.input_quantizer(x), self.quantized_weight(), self.bias)


BINARY_LAYER_TYPES: dict[type[nn.Module], type[QuantizedMixin]] = {
    nn.Conv2d: BinaryConv2d,
    nn.Linear: BinaryLinear,
}
