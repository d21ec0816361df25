"""``mnist`` and ``fashion_mnist``: the real IDX files under a data root.

Sources: MNIST (LeCun, Cortes, Burges; http://yann.lecun.com/exdb/mnist/) and Fashion-MNIST
(Xiao, Rasul, Vollgraf 2017; https://github.com/zalandoresearch/fashion-mnist, also Debian's
``dataset-fashion-mnist`` package). Each has 60,000 train and 10,000 test 28x28 grayscale images
of 10 classes, in four IDX files (``benchmark.data.idx``), plain or gzip-compressed::

    <data root>/fashion-mnist/{train,t10k}-images-idx3-ubyte[.gz]
    <data root>/fashion-mnist/{train,t10k}-labels-idx1-ubyte[.gz]
    <data root>/mnist/...                                   (the same four names)

The data root is ``--data-root``, else ``$BNNBENCH_DATA``, else Debian's ``/usr/share/datasets``
where ``apt-get install dataset-fashion-mnist`` puts Fashion-MNIST. Nothing is downloaded.

Images stay uint8 [N, 1, 28, 28] and are normalised per batch by the train pixels' mean and
std (raw units, computed from the files: Fashion-MNIST 72.94 and 90.02). Augmentation: a pad-2
random crop, and for Fashion-MNIST a horizontal flip (a mirrored garment is the same garment; a
mirrored digit is not).

Subsets (``--classes N``, ``--per-class N``, config ``data_options``): the first N classes (by
label) in both splits, and the first N train images of each class in file order; the test split
keeps every image of the chosen classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmark.data.augment import Augmentation
from benchmark.data.dataset import Dataset, Split
from benchmark.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IdxError, read_idx
from benchmark.data.options import DataOptions
from benchmark.data.registry import DATA_ROOT_ENV, DATASETS
from benchmark.errors import UserError

SYSTEM_ROOT = Path("/usr/share/datasets")  # Debian's dataset-fashion-mnist installs here
SPLITS = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class IdxLayout:
    """Where one IDX dataset lives under the data root, and what it holds."""

    name: str
    directory: str
    source: str
    class_names: tuple[str, ...]
    flip: bool

    def stem(self, split: str, kind: str) -> str:
        """``train-images-idx3-ubyte`` and the like (without ``.gz``)."""
        return f"{SPLITS[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"

    @property
    def stems(self) -> list[str]:
        return [self.stem(s, k) for s in SPLITS for k in ("images", "labels")]


FASHION_MNIST = IdxLayout(
    name="fashion_mnist",
    directory="fashion-mnist",
    source="apt-get install dataset-fashion-mnist (files in /usr/share/datasets/fashion-mnist), "
    "or the four .gz files of https://github.com/zalandoresearch/fashion-mnist (data/fashion)",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    flip=True,
)
MNIST = IdxLayout(
    name="mnist",
    directory="mnist",
    source="the four .gz files of http://yann.lecun.com/exdb/mnist/",
    class_names=tuple(str(d) for d in range(10)),
    flip=False,
)


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(data_root: Path | None, options: DataOptions) -> Dataset:
    """Fashion-MNIST: 60,000 train / 10,000 test 28x28 grayscale images of 10 garments."""
    return load_idx_dataset(FASHION_MNIST, data_root, options)


@DATASETS.register("mnist")
def load_mnist(data_root: Path | None, options: DataOptions) -> Dataset:
    """MNIST: 60,000 train / 10,000 test 28x28 grayscale handwritten digits."""
    return load_idx_dataset(MNIST, data_root, options)


def load_idx_dataset(layout: IdxLayout, data_root: Path | None, options: DataOptions) -> Dataset:
    """Find the files, read both splits, take the subset, normalise by the train pixels."""
    directory = find_directory(layout, data_root)
    classes = check_classes(layout, options.classes)
    train, test = (read_split(layout, directory, split) for split in SPLITS)
    train = subset(train, classes, options.per_class)
    test = subset(test, classes, None)
    pixels = train.images.numpy()
    mean, std = float(pixels.mean(dtype=np.float64)), float(pixels.std(dtype=np.float64))
    aug = Augmentation(pad=2, flip=layout.flip)
    names = layout.class_names[:classes]
    return Dataset(layout.name, classes, train, test, [mean], [std], aug, names)


def check_classes(layout: IdxLayout, classes: int | None) -> int:
    """The number of classes kept: all when None; a UserError outside [2, all]."""
    total = len(layout.class_names)
    if classes is None:
        return total
    if not 2 <= classes <= total:
        raise UserError(f"dataset '{layout.name}': --classes {classes} must lie in [2, {total}].")
    return classes


def subset(split: Split, classes: int, per_class: int | None) -> Split:
    """The images of labels below ``classes``; with ``per_class``, the first ``per_class`` of
    each label in file order (the order kept)."""
    labels = split.labels
    keep = labels < classes
    if per_class is not None:
        # rank of each image within its class, in file order
        onehot = torch.nn.functional.one_hot(labels, int(labels.max()) + 1 if len(labels) else 1)
        rank = (onehot.cumsum(0) * onehot).sum(1) - 1
        keep &= rank < per_class
    if bool(keep.all()):
        return split
    return Split(split.images[keep], labels[keep])


def find_directory(layout: IdxLayout, data_root: Path | None) -> Path:
    """The dataset directory under the data root (or Debian's root when none is given), once
    every file is there (plain or ``.gz``)."""
    root = data_root if data_root is not None else SYSTEM_ROOT
    directory = root / layout.directory
    if not directory.is_dir():
        given = "" if data_root is not None else f" (no data root given, so {SYSTEM_ROOT} was tried)"
        raise layout_error(layout, root, f"directory {directory} does not exist{given}.")
    missing = [str(directory / s) + "[.gz]" for s in layout.stems if _file(directory, s) is None]
    if missing:
        raise layout_error(layout, root, f"missing file(s): {', '.join(missing)}.")
    return directory


def read_split(layout: IdxLayout, directory: Path, split: str) -> Split:
    """Images uint8 [N, 1, 28, 28] and labels int64 [N] of one split, checked against each other."""
    images_path = _file(directory, layout.stem(split, "images"))
    labels_path = _file(directory, layout.stem(split, "labels"))
    assert images_path is not None and labels_path is not None  # find_directory checked
    try:
        images = read_idx(images_path, IMAGES_MAGIC)
        labels = read_idx(labels_path, LABELS_MAGIC)
    except IdxError as err:
        raise layout_error(layout, directory.parent, f"{err}.") from None
    if len(images) != len(labels):
        problem = f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels."
        raise layout_error(layout, directory.parent, problem)
    if len(labels) and int(labels.max()) >= len(layout.class_names):
        problem = f"{labels_path} has label {int(labels.max())}, outside [0, {len(layout.class_names)})."
        raise layout_error(layout, directory.parent, problem)
    images_t = torch.from_numpy(images.copy()).unsqueeze(1)
    return Split(images_t, torch.from_numpy(labels.astype(np.int64)))


def layout_error(layout: IdxLayout, root: Path, problem: str) -> UserError:
    """A UserError: what is wrong, the expected files, how to obtain them."""
    expected = "\n".join(f"  {root}/{layout.directory}/{s}[.gz]" for s in layout.stems)
    return UserError(
        f"dataset '{layout.name}': {problem}\nExpected layout:\n{expected}\n"
        f"To obtain it: {layout.source}. Set the data root with --data-root DIR or the "
        f"{DATA_ROOT_ENV} environment variable; nothing is downloaded at run time."
    )


def _file(directory: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``directory``, whichever exists (plain first)."""
    for name in (stem, f"{stem}.gz"):
        if (directory / name).is_file():
            return directory / name
    return None
