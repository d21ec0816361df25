"""What a model takes: a tensor (images) or a mapping of tensors (token ids and attention mask,
say). The trainer, the conversion and the tests call a model only through :func:`forward`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn


def forward(model: nn.Module, inputs: Any) -> Tensor:
    """The model's logits for a batch: ``model(x)`` for a tensor, ``model(**x)`` for a mapping.

    A model that returns an output object rather than a tensor (a Hugging Face model's
    ``ModelOutput``, such as ``SequenceClassifierOutput``) has its ``logits`` taken.
    """
    out = model(**inputs) if isinstance(inputs, Mapping) else model(inputs)
    return out if isinstance(out, Tensor) else out.logits
