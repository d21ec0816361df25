"""BinaryConnect-style straight-through estimator baseline (DESIGN 3.1).

Courbariaux, Bengio, David, "BinaryConnect", NeurIPS 2015; Hubara et al., "Binarized Neural
Networks", NeurIPS 2016. Weights: forward sign(w), backward 1[|w| <= 1]; latent weights are
clipped to [-1, 1] after every optimizer step. In the ``bnn`` regime every binary layer's
input is binarized the same way. No scaling factors; the first and last layer stay full
precision; the ``bwn`` regime keeps ReLU activations.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from methods.catalog import register_method
from methods.config import MethodConfig, hp
from methods.convert import Binarizable
from methods.protocol import Method
from methods.quantizers import SteSign


@dataclasses.dataclass(frozen=True)
class SteConfig(MethodConfig):
    clip_latent: bool = hp(
        True,
        "clip latent weights to [-1, 1] after every optimizer step",
        "BinaryConnect (Courbariaux et al. 2015), Sec. 2.4",
    )


@register_method
class Ste(Method):
    """Clipped straight-through estimator on weights (and activations for BNNs)."""

    name = "ste"
    summary = "BinaryConnect-style clipped STE on weights (and activations in bnn)"
    source = "Courbariaux et al. 2015 (BinaryConnect); Hubara et al. 2016 (BNN)"
    config_class = SteConfig

    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return SteSign()

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return SteSign()

    def convert(self, model: nn.Module, example: Any, arch: Binarizable) -> nn.Module:
        model = super().convert(model, example, arch)
        if self.config.clip_latent:  # type: ignore[attr-defined]
            with torch.no_grad():
                clip_latent_(self.binary_weights())  # start inside [-1, 1] too
        return model

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        if self.config.clip_latent:  # type: ignore[attr-defined]
            clip_latent_(self.binary_weights())


def clip_latent_(weights: list[Tensor]) -> None:
    """Clip latent weights to [-1, 1] in place (one fused call over all tensors)."""
    if weights:
        torch._foreach_clamp_min_(weights, -1.0)
        torch._foreach_clamp_max_(weights, 1.0)
