"""A tiny convolutional network for fast method tests (first conv and classifier stay float)."""

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


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


def batch(n: int = 8, size: int = 6, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g)


def protocol_steps(
    model: nn.Module, method: Any, optimizers: list, steps: range, schedulers: tuple | list = ()
) -> None:
    """Training steps through every method hook, in the trainer's order, on ``batch(seed=step)``;
    each optimizer steps, then each scheduler."""
    for step in steps:
        x, y = batch(seed=step)
        method.before_forward(step)
        loss = F.cross_entropy(model(x), y)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        method.after_backward(step)
        for opt in optimizers:
            opt.step()
        method.after_step(step)
        for scheduler in schedulers:
            scheduler.step()
