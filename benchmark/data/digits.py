"""``digits``: scikit-learn's bundled handwritten digits, upsampled to 16x16; ``digits8``: the
same images and split at their native 8x8 (a quarter of the pixels, so about a quarter of a
convolutional network's compute).

Source: the file behind ``sklearn.datasets.load_digits``, ``sklearn/datasets/data/digits.csv.gz``
(the UCI "Optical Recognition of Handwritten Digits" test set; 1,797 real 8x8 images, 10
classes, integer pixel values 0..16, one image per row followed by its label), shipped inside
scikit-learn, so nothing is downloaded. It is read directly, without importing scikit-learn
(which costs about 2 s of every training process's start-up). Images are upsampled to 16x16
with bilinear interpolation (``align_corners=False``), giving 1 channel of float32 in 0..16. The
split is fixed and stratified, the one ``train_test_split(test_size=0.2, random_state=0,
stratify=labels)`` draws (``benchmark.data.stratified``): 1,437 train / 360 test images (the
same for both sizes). Normalisation uses the mean and std of the train pixels.

Augmentation (``augment=True``): a pad-1 random crop, i.e. a shift of at most one pixel (half a
pixel of the original 8x8 image; a whole pixel of ``digits8``). No flip: a mirrored digit is a
different or no digit.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.data.augment import Augmentation
from benchmark.data.dataset import Dataset, Split
from benchmark.data.options import DataOptions
from benchmark.data.registry import DATASETS
from benchmark.data.stratified import stratified_split

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
    pixels, target = read_digits()
    images = upsample(pixels, size)
    labels = torch.from_numpy(target)
    train_idx, test_idx = (torch.from_numpy(i) for i in stratified_split(target, TEST_FRACTION, SPLIT_SEED))
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


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images [1797, 8, 8] float64, labels [1797] int64) from scikit-learn's ``digits.csv.gz``."""
    with gzip.open(digits_file(), "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1].reshape(-1, NATIVE_SIZE, NATIVE_SIZE), table[:, -1].astype(np.int64)


def digits_file() -> Path:
    """Where the installed scikit-learn keeps the digits (found without importing it)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the digits dataset ships with scikit-learn, which is not installed: "
            "pip install -c constraints.txt -e . (or use another --dataset)"
        )
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
