"""Residual branches that start at zero ("zero gamma").

Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", arXiv 1706.02677,
Sec. 5.1; He et al., "Bag of Tricks for Image Classification with Convolutional Neural
Networks", CVPR 2019, Sec. 3.1 ("Zero gamma"); torchvision's ``zero_init_residual``.

A residual block computes ``act(x + F(x))`` (``act`` an identity in a BNN), and its branch
``F`` ends in a BatchNorm ``gamma * z_hat + beta``. With ``gamma = 0`` (``beta`` is 0 from the
start) every branch outputs 0 at initialisation, so each block passes its shortcut through and
the network starts as shallow as its shortcuts; the branches grow from there by gradient.
Nothing else changes: no random number is drawn, so every other weight is the one the
architecture's own initialisation gave.

A block class declares the BatchNorm that ends its branch by name, in the class attribute
``residual_norm`` (``"bn2"`` in a basic block, ``"bn3"`` in a bottleneck). An architecture
none of whose blocks declares one cannot be started this way (:func:`zero_init_residual`
says so).
"""

from __future__ import annotations

from torch import nn

from benchmark.errors import UserError


def residual_norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The BatchNorm at the end of every residual branch of ``model``, in module order."""
    norms = []
    for module in model.modules():
        name = getattr(type(module), "residual_norm", None)
        if name is not None:
            norms.append(getattr(module, name))
    return norms


def zero_init_residual(model: nn.Module, arch: str) -> nn.Module:
    """Set gamma = 0 in the last BatchNorm of every residual branch of ``model`` (in place;
    returns it). ``UserError`` for an architecture whose blocks declare no such BatchNorm."""
    norms = residual_norms(model)
    if not norms:
        raise UserError(
            f"architecture '{arch}' declares no residual branch (no block has a `residual_norm`), "
            "so zero_init_residual cannot apply; remove it from the config's zero_init_residual "
            "(or drop --zero-init-residual)"
        )
    for norm in norms:
        nn.init.zeros_(norm.weight)
    return model
