"""``synthetic``: a small generated classification task for fast tests.

3 channels, 16x16, 10 classes, 512 train / 256 test images. Each class has a smooth random
prototype (a 4x4 Gaussian pattern per channel, upsampled bilinearly to 16x16); an image is its
class prototype plus i.i.d. Gaussian pixel noise (std ``NOISE``), so the task is learnable
(a nearest-class-mean classifier is nearly perfect) but not given away by any single pixel.
Labels are balanced and shuffled. Everything comes from a private generator seeded with
``DATA_SEED``: the data is the same in every run whatever the run seed.

Augmentation (``augment=True``): CIFAR's crop + flip scaled to the image, a pad-2 random crop
(2/16 as CIFAR's 4/32) and a horizontal flip with probability 1/2.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from benchmark.data.augment import Augmentation
from benchmark.data.dataset import Dataset, Split
from benchmark.data.options import DataOptions
from benchmark.data.registry import DATASETS

DATA_SEED = 20240601
NUM_CLASSES = 10
CHANNELS = 3
IMAGE_SIZE = 16
TRAIN_SIZE = 512
TEST_SIZE = 256
NOISE = 1.0


@DATASETS.register("synthetic")
def load_synthetic(data_root: Path | None, options: DataOptions) -> Dataset:
    """The synthetic dataset; ``data_root`` is ignored (the data is generated)."""
    generator = torch.Generator().manual_seed(DATA_SEED)
    prototypes = class_prototypes(generator)
    train = sample_split(prototypes, TRAIN_SIZE, generator)
    test = sample_split(prototypes, TEST_SIZE, generator)
    mean = train.images.mean(dim=(0, 2, 3)).tolist()
    std = train.images.std(dim=(0, 2, 3)).tolist()
    aug = Augmentation(pad=IMAGE_SIZE // 8, flip=True)
    return Dataset("synthetic", NUM_CLASSES, train, test, mean, std, aug)


def class_prototypes(generator: torch.Generator) -> torch.Tensor:
    """[K, C, S, S] smooth patterns: 4x4 Gaussian noise upsampled bilinearly."""
    coarse = torch.randn(NUM_CLASSES, CHANNELS, 4, 4, generator=generator)
    return F.interpolate(coarse, size=IMAGE_SIZE, mode="bilinear", align_corners=False)


def sample_split(prototypes: torch.Tensor, n: int, generator: torch.Generator) -> Split:
    """``n`` balanced, shuffled samples: prototype[label] + NOISE * N(0, 1) per pixel."""
    labels = torch.arange(n) % NUM_CLASSES
    labels = labels[torch.randperm(n, generator=generator)]
    noise = torch.randn(n, *prototypes.shape[1:], generator=generator)
    return Split(prototypes[labels] + NOISE * noise, labels)
