"""The protocol every dataset meets, whether it is held in memory (``benchmark.data.dataset``),
read from disk by worker processes (ImageNet) or tokenized text (SST-2).

Epoch semantics, shared by all (what makes resumed runs bit-identical): ``batches("train",
..., generator=g)`` draws everything random of the epoch (order and augmentation) from ``g``
when it is called, and the same generator state gives the same batches; ``start_batch=k``
skips the first ``k`` batches and leaves ``g`` where a whole epoch leaves it. The test split is
never shuffled, augmented or drawn from. ``shard=(r, N)`` yields rank ``r``'s contiguous share
of each batch (``B / N`` examples, :func:`share`) for data-parallel training
(``benchmark.distributed``): every rank draws the same epoch, and an example is read, cropped
and flipped exactly as one process would, so the shares put together are the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol

import torch

from benchmark.data.inputs import Inputs

SplitName = Literal["train", "test"]
Batch = tuple[Any, torch.Tensor]  # (a tensor, or a mapping of tensors; int64 class indices)
Shard = tuple[int, int]  # (rank, number of ranks)


def share(window: slice, shard: Shard) -> slice:
    """Rank ``r`` of ``N``'s contiguous part of the batch ``window`` (positions in the epoch's
    order): ``[start + r n, start + (r + 1) n)`` with ``n = (stop - start) / N``."""
    rank, world = shard
    if world == 1:
        return window
    n = (window.stop - window.start) // world
    return slice(window.start + rank * n, window.start + (rank + 1) * n)


def count_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Batches in an epoch of ``n`` examples: ``ceil(n / B)``, or ``floor(n / B)`` with drop_last."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return n // batch_size if drop_last else -(-n // batch_size)


class DataSource(Protocol):
    """A named train/test pair that yields ``(inputs, targets)`` batches."""

    name: str
    num_classes: int

    @property
    def inputs(self) -> Inputs:
        """What the batches hold: the model is built for this."""
        ...

    @property
    def train_size(self) -> int: ...

    @property
    def test_size(self) -> int: ...

    def example_input(self, batch: int = 2) -> Any:
        """A batch as the model takes it, for tracing the model's execution order."""
        ...

    def num_batches(self, split: SplitName, batch_size: int, drop_last: bool = False) -> int: ...

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
    ) -> Iterator[Batch]: ...
