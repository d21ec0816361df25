"""What a model is built for: the kind and shape of a dataset's inputs.

A dataset says what its batches hold (:class:`Inputs`), an architecture says what it takes
(``benchmark.models.registry``), and :func:`benchmark.models.build_model` refuses a pair that
does not fit (a text model on images, say) before any compute is spent. Torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

InputKind = Literal["image", "text"]


@dataclasses.dataclass(frozen=True)
class Inputs:
    """``image``: ``in_channels`` x ``image_size`` x ``image_size`` tensors.
    ``text``: token ids of a ``vocab_size`` vocabulary, with an attention mask; ``model_dir``
    is the local directory the tokenizer came from (pretrained weights, if it holds any)."""

    kind: InputKind
    in_channels: int = 0
    image_size: int = 0
    vocab_size: int = 0
    model_dir: str | None = None

    @classmethod
    def image(cls, in_channels: int, image_size: int = 32) -> Inputs:
        return cls("image", in_channels=in_channels, image_size=image_size)

    @classmethod
    def text(cls, vocab_size: int, model_dir: str | None = None) -> Inputs:
        return cls("text", vocab_size=vocab_size, model_dir=model_dir)

    def describe(self) -> str:
        if self.kind == "image":
            return f"{self.in_channels}x{self.image_size}x{self.image_size} images"
        return f"token ids (vocabulary {self.vocab_size})"
