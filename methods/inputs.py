"""What a model takes: a tensor (images) or a mapping of tensors (token ids and attention mask,
say). The trainer, the conversion and the tests call a model only through :func:`forward`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn


def forward(model: nn.Module, inputs: Any) -> Tensor:
    """The model's output for a batch: ``model(x)`` for a tensor, ``model(**x)`` for a mapping."""
    return model(**inputs) if isinstance(inputs, Mapping) else model(inputs)
