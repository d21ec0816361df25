"""A tokenized text classification dataset held in memory, batched with dynamic padding.

Each example is stored once, already tokenized and truncated, as its token ids (and token type
ids when the tokenizer gives them). A batch of examples ``b`` with ``len_b`` tokens is padded to
the longest in the batch, ``T = max_b len_b``::

    input_ids[b, t]      = ids_b[t]   if t < len_b else pad_id
    attention_mask[b, t] = 1          if t < len_b else 0
    token_type_ids[b, t] = types_b[t] if t < len_b else 0

all int64 [B, T]. Padding to the batch's longest rather than to a fixed ``max_length`` (BERT's
reference fine-tuning pads to 128; Devlin et al. 2019, google-research/bert
``run_classifier.py``) gives the same logits up to rounding, since a model that honours the
attention mask gives padded positions zero attention, and costs far less on short sentences.

Epoch semantics are those of :mod:`benchmark.data.source`: the train order is a permutation
drawn from the generator when :meth:`TextDataset.batches` is called, ``start_batch`` skips
batches at no cost. ``augment`` is ignored: no text augmentation is defined here (BERT's
fine-tuning uses none), so a recipe's augmentation flag means nothing for text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

from benchmark.data.inputs import Inputs
from benchmark.data.source import Shard, SplitName, count_batches, share

TextBatch = tuple[dict[str, torch.Tensor], torch.Tensor]
EXAMPLE_TOKENS = 8  # length of example_input's sentences (tracing needs shapes, not words)


@dataclass(frozen=True)
class TextSplit:
    """One split: ``ids`` (one int64 [len_i] tensor per example), ``labels`` int64 [N] and,
    if the tokenizer gives them, ``type_ids`` shaped like ``ids``."""

    ids: tuple[torch.Tensor, ...]
    labels: torch.Tensor
    type_ids: tuple[torch.Tensor, ...] | None = None

    def __post_init__(self) -> None:
        if self.labels.dtype != torch.int64 or self.labels.shape != (len(self.ids),):
            raise ValueError("labels must be int64 with one entry per example")
        if self.type_ids is not None and len(self.type_ids) != len(self.ids):
            raise ValueError("type_ids must have one entry per example")

    def __len__(self) -> int:
        return len(self.ids)


class TextDataset:
    """A named train/test pair of tokenized sentences (a :class:`~benchmark.data.source.DataSource`).

    ``inputs`` says what a model is built for (vocabulary size, tokenizer directory);
    ``pad_id`` fills the padded positions of ``input_ids``.
    """

    def __init__(
        self,
        name: str,
        num_classes: int,
        train: TextSplit,
        test: TextSplit,
        inputs: Inputs,
        pad_id: int,
        class_names: Sequence[str] | None = None,
    ) -> None:
        if (train.type_ids is None) != (test.type_ids is None):
            raise ValueError("train and test must both have token type ids or both lack them")
        self.name = name
        self.num_classes = num_classes
        self.pad_id = pad_id
        self.class_names = tuple(class_names or (str(k) for k in range(num_classes)))
        self._inputs = inputs
        self._splits = {"train": train, "test": test}

    @property
    def inputs(self) -> Inputs:
        return self._inputs

    @property
    def train_size(self) -> int:
        return len(self._splits["train"])

    @property
    def test_size(self) -> int:
        return len(self._splits["test"])

    def __repr__(self) -> str:
        return (
            f"TextDataset({self.name!r}, classes={self.num_classes}, {self.inputs.describe()}, "
            f"train={self.train_size}, test={self.test_size})"
        )

    def example_input(self, batch: int = 2) -> dict[str, torch.Tensor]:
        """A batch as the model takes it (``batch`` sentences of padding tokens, every position
        attended), for tracing the model's execution order and counting its operations."""
        shape = (batch, EXAMPLE_TOKENS)
        example = {
            "input_ids": torch.full(shape, self.pad_id, dtype=torch.int64),
            "attention_mask": torch.ones(shape, dtype=torch.int64),
        }
        if self._splits["train"].type_ids is not None:
            example["token_type_ids"] = torch.zeros(shape, dtype=torch.int64)
        return example

    def num_batches(self, split: SplitName, batch_size: int, drop_last: bool = False) -> int:
        """Batches per epoch of ``split``: ``ceil(N / B)``, or ``floor(N / B)`` with drop_last."""
        return count_batches(len(self._split(split)), batch_size, drop_last)

    def batches(
        self,
        split: SplitName,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        augment: bool = False,
        drop_last: bool = False,
        start_batch: int = 0,
        shard: Shard = (0, 1),
    ) -> Iterator[TextBatch]:
        """One epoch of ``(inputs, targets)``: inputs a dict of int64 [B, T] tensors padded to the
        batch's longest sentence (see the module docstring), targets int64 [B], on CPU.

        train: shuffled by a permutation drawn from ``generator`` (torch's global generator when
        None) at call time. test: fixed order, ``generator`` unused. ``augment`` is ignored (no
        text augmentation). ``start_batch`` skips the first batches (for resuming mid-epoch).
        """
        total = self.num_batches(split, batch_size, drop_last)
        if not 0 <= start_batch <= total:
            raise ValueError(f"start_batch must be in [0, {total}], got {start_batch}")
        data = self._split(split)
        order = torch.arange(len(data)) if split == "test" else torch.randperm(len(data), generator=generator)
        return self._iterate(data, order, batch_size, start_batch, total, shard)

    def _split(self, split: SplitName) -> TextSplit:
        if split not in self._splits:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self._splits[split]

    def _iterate(
        self, data: TextSplit, order: torch.Tensor, batch_size: int, start: int, stop: int, shard: Shard
    ) -> Iterator[TextBatch]:
        for k in range(start, stop):
            index = order[share(slice(k * batch_size, min((k + 1) * batch_size, len(order))), shard)]
            yield self._collate(data, index.tolist()), data.labels.index_select(0, index)

    def _collate(self, data: TextSplit, index: list[int]) -> dict[str, torch.Tensor]:
        """The examples ``index`` padded to the longest of them (int64 [B, T] each)."""
        ids = [data.ids[i] for i in index]
        batch = {
            "input_ids": pad_sequence(ids, batch_first=True, padding_value=self.pad_id),
            "attention_mask": pad_sequence([torch.ones_like(t) for t in ids], batch_first=True),
        }
        if data.type_ids is not None:
            batch["token_type_ids"] = pad_sequence([data.type_ids[i] for i in index], batch_first=True)
        return batch
