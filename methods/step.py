"""One training step through the method protocol, the same for the trainer, the step-time
benchmark and the tests (DESIGN 3: the loop calls only the protocol's hooks, in one order)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from methods.flips import FlipTracker
from methods.inputs import forward
from methods.protocol import Method


def training_step(
    model: nn.Module,
    method: Method,
    optimizers: Sequence[torch.optim.Optimizer],
    inputs: Any,
    targets: Tensor,
    step: int,
    *,
    flips: FlipTracker | None = None,
    schedulers: Sequence[Any] = (),
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> tuple[Tensor, Tensor]:
    """One optimizer step (0-based global ``step``); returns (loss, logits), both attached.

    ``before_forward``, forward (inside ``autocast()``: mixed precision, ``benchmark.runtime``),
    cross-entropy in float32, backward, ``after_backward``, every optimizer's step,
    ``after_step``, then the flip statistics and every scheduler.
    """
    method.before_forward(step)
    with autocast():
        logits = forward(model, inputs)
    loss = F.cross_entropy(logits.float(), targets)
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    method.after_backward(step)
    for opt in optimizers:
        opt.step()
    method.after_step(step)
    if flips is not None:
        flips.update()
    for scheduler in schedulers:
        scheduler.step()
    return loss, logits
