"""An in-memory image classification dataset that yields normalised, optionally augmented batches.

Images are kept in raw pixel units (uint8 for CIFAR, float32 for generated or upsampled data)
and normalised per batch, ``x = (pixels - mean) / std`` per channel, so CIFAR's 50,000 images
take 150 MB rather than 600 MB.

Epoch semantics (what makes resumed runs bit-identical): :meth:`Dataset.batches` on the train
split draws, when it is called, first a permutation of the whole split and then, if augmenting,
every augmentation parameter of the epoch, all from the given generator. Batches are slices of
that plan, so ``start_batch=k`` skips the first ``k`` batches at no cost and leaves the
generator in the same state as a full epoch. The test split is never shuffled, augmented or
drawn from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from benchmark.data.augment import (
    Augmentation,
    AugmentParams,
    apply_augmentation,
    draw_params,
)
from benchmark.data.inputs import Inputs
from benchmark.data.source import Shard, SplitName, count_batches, share

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Split:
    """One split: ``images`` [N, C, H, W] in raw pixel units, ``labels`` int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[2] != self.images.shape[3]:
            raise ValueError(f"images must be [N, C, S, S], got {list(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError("labels must be int64 with one entry per image")

    def __len__(self) -> int:
        return self.images.shape[0]


class Dataset:
    """A named train/test pair of images held in memory, with its normalisation and its
    train-time augmentation (a :class:`~benchmark.data.source.DataSource`).

    Attributes: ``name``, ``num_classes``, ``in_channels``, ``image_size``, ``train_size``,
    ``test_size``, ``class_names``, ``mean`` and ``std`` (normalisation, raw pixel units) and
    ``augmentation`` (what ``augment=True`` does on the train split).
    """

    def __init__(
        self,
        name: str,
        num_classes: int,
        train: Split,
        test: Split,
        mean: Sequence[float],
        std: Sequence[float],
        augmentation: Augmentation,
        class_names: Sequence[str] | None = None,
    ) -> None:
        if train.images.shape[1:] != test.images.shape[1:]:
            raise ValueError("train and test images must have the same shape")
        self.name = name
        self.num_classes = num_classes
        self.augmentation = augmentation
        self.class_names = tuple(class_names or (str(k) for k in range(num_classes)))
        self._splits = {"train": train, "test": test}
        self._mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        if self._mean.shape[0] != self.in_channels or self._std.shape[0] != self.in_channels:
            raise ValueError("mean and std need one entry per channel")

    @property
    def in_channels(self) -> int:
        return self._splits["train"].images.shape[1]

    @property
    def image_size(self) -> int:
        return self._splits["train"].images.shape[2]

    @property
    def inputs(self) -> Inputs:
        return Inputs.image(self.in_channels, self.image_size)

    @property
    def mean(self) -> tuple[float, ...]:
        """Per-channel mean subtracted by normalisation, in raw pixel units (0..255 for CIFAR)."""
        return tuple(self._mean.flatten().tolist())

    @property
    def std(self) -> tuple[float, ...]:
        """Per-channel std divided by normalisation, in raw pixel units."""
        return tuple(self._std.flatten().tolist())

    @property
    def train_size(self) -> int:
        return len(self._splits["train"])

    @property
    def test_size(self) -> int:
        return len(self._splits["test"])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, classes={self.num_classes}, "
            f"shape={self.in_channels}x{self.image_size}x{self.image_size}, "
            f"train={self.train_size}, test={self.test_size})"
        )

    @property
    def device(self) -> torch.device:
        """Where the images live (CPU unless :meth:`to` moved them)."""
        return self._splits["train"].images.device

    def to(self, device: torch.device | str) -> Dataset:
        """The same dataset with its images, labels and normalisation on ``device`` (pixels
        keep their dtype: CIFAR's uint8 stays uint8). Batches are then gathered, augmented and
        normalised there; the epoch's order and augmentation are still drawn from the CPU
        generator, so the batches equal the host path's for the same generator state."""
        moved = Dataset.__new__(Dataset)
        moved.__dict__.update(self.__dict__)
        moved._splits = {
            name: Split(split.images.to(device), split.labels.to(device))
            for name, split in self._splits.items()
        }
        moved._mean, moved._std = self._mean.to(device), self._std.to(device)
        return moved

    def example_input(self, batch: int = 2) -> torch.Tensor:
        """A batch as the model takes it (zeros, shape [batch, C, S, S]), for tracing the model's
        execution order and counting its operations: the trainer never builds one itself."""
        return torch.zeros(batch, self.in_channels, self.image_size, self.image_size)

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
    ) -> Iterator[Batch]:
        """One epoch of ``(inputs, targets)``: inputs float32 [B, C, S, S] normalised, targets
        int64 [B], on the dataset's :attr:`device` (the trainer needs only that targets are
        class indices and that the model takes the inputs).

        train: shuffled by a permutation drawn from ``generator`` (torch's global generator
        when None) at call time, then, with ``augment``, the epoch's augmentation parameters
        from the same generator. test: fixed order; ``generator`` and ``augment`` are ignored.
        ``start_batch`` skips the first batches of the epoch (for resuming mid-epoch); ``shard``:
        one rank's share of each batch (``benchmark.data.source``).
        """
        total = self.num_batches(split, batch_size, drop_last)
        if not 0 <= start_batch <= total:
            raise ValueError(f"start_batch must be in [0, {total}], got {start_batch}")
        order, params = self._epoch_plan(split, generator, augment)
        return self._iterate(self._split(split), order, params, batch_size, start_batch, total, shard)

    def _split(self, split: SplitName) -> Split:
        if split not in self._splits:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self._splits[split]

    def _epoch_plan(
        self, split: SplitName, generator: torch.Generator | None, augment: bool
    ) -> tuple[torch.Tensor, AugmentParams | None]:
        """The epoch's sample order and augmentation parameters, all drawn up front."""
        n = len(self._split(split))
        if split == "test":
            return torch.arange(n), None
        order = torch.randperm(n, generator=generator)
        if not augment or self.augmentation.is_identity:
            return order, None
        return order, draw_params(self.augmentation, n, generator)

    def _iterate(
        self,
        data: Split,
        order: torch.Tensor,
        params: AugmentParams | None,
        batch_size: int,
        start: int,
        stop: int,
        shard: Shard = (0, 1),
    ) -> Iterator[Batch]:
        device = data.images.device  # the plan was drawn on the CPU: one copy per epoch
        order = order.to(device)
        params = params.to(device) if params is not None else None
        for k in range(start, stop):
            window = share(slice(k * batch_size, min((k + 1) * batch_size, len(order))), shard)
            index = order[window]
            images = data.images.index_select(0, index)
            if params is not None:
                images = apply_augmentation(images, params[window], self.augmentation.pad)
            yield self._normalise(images), data.labels.index_select(0, index)

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        """Raw pixels -> ``(pixels - mean) / std`` per channel, float32 (always a new tensor)."""
        return torch.sub(images.to(torch.float32), self._mean).div_(self._std)
