"""``digits``: scikit-learn's bundled handwritten digits, upsampled to 16x16; ``digits8``: the
same images and split at their native 8x8 (a quarter of the pixels, so about a quarter of a
convolutional network's compute).

Source: ``sklearn.datasets.load_digits`` (the UCI "Optical Recognition of Handwritten Digits"
test set; 1,797 real 8x8 images, 10 classes, integer pixel values 0..16), shipped inside
scikit-learn, so nothing is downloaded. Images are upsampled to 16x16 with bilinear
interpolation (``align_corners=False``), giving 1 channel of float32 in 0..16. The split is fixed
and stratified: ``train_test_split(test_size=0.2, random_state=0, stratify=labels)``, 1,437
train / 360 test images (the same for both sizes). Normalisation uses the mean and std of the
train pixels.

Augmentation (``augment=True``): a pad-1 random crop, i.e. a shift of at most one pixel (half a
pixel of the original 8x8 image; a whole pixel of ``digits8``). No flip: a mirrored digit is a
different or no digit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.data.augment import Augmentation
from benchmark.data.dataset import Dataset, Split
from benchmark.data.options import DataOptions
from benchmark.data.registry import DATASETS

IMAGE_SIZE = 16
NATIVE_SIZE = 8
TEST_FRACTION = 0.2
SPLIT_SEED = 0


@DATASETS.register("digits")
def load_digits(data_root: Path | None, options: DataOptions) -> Dataset:
    """The digits dataset at 16x16; ``data_root`` is ignored (the data ships with scikit-learn)."""
    return digits_dataset("digits", IMAGE_SIZE)


@DATASETS.register("digits8")
def load_digits8(data_root: Path | None, options: DataOptions) -> Dataset:
    """The digits dataset at its native 8x8; ``data_root`` is ignored."""
    return digits_dataset("digits8", NATIVE_SIZE)


def digits_dataset(name: str, size: int) -> Dataset:
    """The fixed split of the 1,797 images at ``size`` x ``size`` (8: the pixels as shipped)."""
    # Imported here: sklearn.datasets takes ~2 s to import, which every CLI call would pay.
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = upsample(bunch.images, size)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    train_idx, test_idx = stratified_split(bunch.target)
    train = Split(images[train_idx], labels[train_idx])
    test = Split(images[test_idx], labels[test_idx])
    mean, std = train.images.mean().item(), train.images.std().item()
    return Dataset(name, 10, train, test, [mean], [std], Augmentation(pad=1, flip=False))


def upsample(images: np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """[N, 8, 8] float64 -> [N, 1, size, size] float32, bilinear (size 8: unchanged)."""
    x = torch.from_numpy(images).to(torch.float32).unsqueeze(1)
    if size == NATIVE_SIZE:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def stratified_split(labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, test) of the fixed stratified 80/20 split."""
    from sklearn.model_selection import train_test_split

    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    return torch.from_numpy(train_idx), torch.from_numpy(test_idx)
