r"""Random binary features: a control that binarizes like STE but never trains a binary layer.

What it is. Every binary layer is binarized as in the STE baseline (``methods.ste``; DESIGN
3.1): its weight is :math:`\operatorname{sign}(W_0)` and, in the ``bnn`` regime, its input is
:math:`\operatorname{sign}(x)` (sign(0) = +1) -- but both are frozen at initialisation:

.. math::
    \hat W = \operatorname{sign}(W_0), \quad \partial \hat W / \partial W = 0; \qquad
    \hat x = \operatorname{sign}(x), \quad \partial \hat x / \partial x = 0 .

The latent weights have ``requires_grad = False``, so their gradient is ``None`` and every
optimizer skips them: neither the update, nor momentum, nor weight decay (which would shrink
:math:`W` by :math:`1 - \eta\lambda` per step and keep its sign, but change its value) ever
touches them; the weights stay bit for bit :math:`W_0`. The activation signs pass no gradient,
as StoMPP's frozen entries do (DESIGN 3.2, ``frozen_grad: none``): in a BNN nothing before the
last binary layer receives a gradient through the binary path, exactly the state of a fully
frozen StoMPP network (Smith & Islam, arXiv 2606.27759; DESIGN 3.2, "after T_f ... the
remaining steps train only what is not binarized"), here from the first step. What trains is
what the recipe's optimizer still reaches: the full-precision layers (the stem, the
classifier), BatchNorm and the binary layers' biases that receive a gradient -- in a ResNet the
identity shortcuts carry the gradient around the signs, as they do in a frozen StoMPP network.
In the ``bwn`` regime the activations stay real (ReLU), so every BatchNorm trains on top of
the frozen binary weights.

Why. It measures how well random binary features plus a trained head score on a dataset: the
yardstick of claim S2's laptop form (``paper/claims.yaml``). The StoMPP paper's "reverse
ordering ends near chance" means that the network learned nothing in its binary body; on
CIFAR/ImageNet an untrained body scores about chance, so chance is the yardstick there, but on
a small dataset such as ``digits`` random features with a trained head score about 80%
(issue 13), so there "learned nothing" is "no better than this control". The idea of random
features with a trained readout: Rahimi & Recht, "Random Features for Large-Scale Kernel
Machines", NeurIPS 2007; for frozen random convolutional bodies, Jarrett et al., "What is the
Best Multi-Stage Architecture for Object Recognition?", ICCV 2009.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from methods.catalog import register_method
from methods.convert import Binarizable
from methods.primitives import sign
from methods.protocol import Method


class FrozenSign(nn.Module):
    r"""Hard sign that passes no gradient: forward :math:`\operatorname{sign}(x)` (sign(0) = +1),
    backward :math:`0` (``methods.primitives.sign`` detaches its input)."""

    def forward(self, x: Tensor) -> Tensor:
        return sign(x)


@register_method
class RandomFeatures(Method):
    """STE's binarization frozen at initialisation: a control (random binary features, trained head)."""

    name = "random_features"
    summary = "control: binary layers frozen at their initial signs; only float layers and BatchNorm train"
    source = "a control for claim S2's laptop form (paper/claims.yaml); Rahimi & Recht 2007 (random features)"

    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return FrozenSign()

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return FrozenSign()

    def convert(self, model: nn.Module, example: Any, arch: Binarizable) -> nn.Module:
        """Swap the binarizable layers (:meth:`Method.convert`) and freeze their latent weights
        (``requires_grad = False``: no gradient, so no optimizer, momentum or weight decay
        ever changes them)."""
        model = super().convert(model, example, arch)
        for weight in self.binary_weights():
            weight.requires_grad_(False)
        return model
