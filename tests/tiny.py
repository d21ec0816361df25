"""A tiny convolutional network for fast method tests (first conv and classifier stay float)."""

from typing import Any

import torch
from torch import nn

from methods.convert import Binarizable
from methods.flips import FlipTracker
from methods.step import training_step


def tiny_net(channels: int = 4, depth: int = 4, classes: int = 3) -> nn.Module:
    layers: list[nn.Module] = []
    cin = 3
    for _ in range(depth):
        layers += [
            nn.Conv2d(cin, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        ]
        cin = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes)]
    return nn.Sequential(*layers)


def tiny_arch(depth: int = 4) -> Binarizable:
    """What a method may binarize in ``tiny_net(depth=depth)``: all but the first convolution
    (module ``0``) and the classifier; every ReLU becomes an identity in a BNN."""
    return Binarizable(full_precision=("0", str(3 * depth + 2)), activations=(nn.ReLU,))


def batch(n: int = 8, size: int = 6, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g)


def protocol_steps(
    model: nn.Module,
    method: Any,
    optimizers: list,
    steps: range,
    schedulers: tuple | list = (),
    flips: FlipTracker | None = None,
) -> None:
    """The trainer's training steps (``methods.step.training_step``) on ``batch(seed=step)``."""
    for step in steps:
        x, y = batch(seed=step)
        training_step(model, method, optimizers, x, y, step, flips=flips, schedulers=schedulers)
