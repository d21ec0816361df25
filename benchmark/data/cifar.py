"""``cifar10`` and ``cifar100``: the CIFAR "python version" batches under a data root.

Source: Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html (``cifar-10-python.tar.gz``
and ``cifar-100-python.tar.gz``, extracted unchanged under the data root). Format: each batch
file is a pickle of a dict with byte-string keys; ``b"data"`` is a uint8 array [N, 3072], each
row a 32x32 image stored channel-major (1024 red, 1024 green, 1024 blue values, each plane
row-major), and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100) a list of N ints.
The meta file holds the class names. The files are read here directly, never through
torchvision's dataset classes, and never downloaded.

Images stay uint8 [N, 3, 32, 32] in memory and are normalised per batch with the usual
per-channel mean and std of the training set (values in the layouts below). Augmentation is the
standard pad-4 random crop and horizontal flip. Any missing, truncated or malformed file raises
:class:`~benchmark.errors.UserError` naming the path, the expected layout and where to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmark.data.augment import Augmentation
from benchmark.data.dataset import Dataset, Split
from benchmark.data.options import DataOptions
from benchmark.data.pickles import load_data_pickle
from benchmark.data.registry import DATA_ROOT_ENV, DATASETS
from benchmark.errors import UserError

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant lives under the data root and how its pickles are keyed."""

    name: str
    directory: str
    archive: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: bytes
    names_key: bytes
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file, self.meta_file)


# Mean and std: per-channel statistics of all training pixels scaled to [0, 1]. (The CIFAR-10
# std (0.2023, 0.1994, 0.2010) copied by some recipes is not the pixel std; these values are.)
CIFAR10 = CifarLayout(
    name="cifar10",
    directory="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    train_files=tuple(f"data_batch_{k}" for k in range(1, 6)),
    test_file="test_batch",
    meta_file="batches.meta",
    label_key=b"labels",
    names_key=b"label_names",
    num_classes=10,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
)
CIFAR100 = CifarLayout(
    name="cifar100",
    directory="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    train_files=("train",),
    test_file="test",
    meta_file="meta",
    label_key=b"fine_labels",
    names_key=b"fine_label_names",
    num_classes=100,
    mean=(0.5071, 0.4865, 0.4409),
    std=(0.2673, 0.2564, 0.2762),
)


@DATASETS.register("cifar10")
def load_cifar10(data_root: Path | None, options: DataOptions) -> Dataset:
    """CIFAR-10: 50,000 train / 10,000 test 32x32 colour images, 10 classes."""
    return load_cifar(CIFAR10, data_root)


@DATASETS.register("cifar100")
def load_cifar100(data_root: Path | None, options: DataOptions) -> Dataset:
    """CIFAR-100: 50,000 train / 10,000 test 32x32 colour images, 100 fine classes."""
    return load_cifar(CIFAR100, data_root)


def load_cifar(layout: CifarLayout, data_root: Path | None) -> Dataset:
    """Check the layout, then read every file of ``layout`` under ``data_root``."""
    directory = check_files(layout, data_root)
    train = read_split(layout, [directory / f for f in layout.train_files])
    test = read_split(layout, [directory / layout.test_file])
    names = read_class_names(layout, directory / layout.meta_file)
    mean = [255 * m for m in layout.mean]
    std = [255 * s for s in layout.std]
    aug = Augmentation(pad=4, flip=True)
    return Dataset(layout.name, layout.num_classes, train, test, mean, std, aug, names)


def layout_error(layout: CifarLayout, data_root: Path | None, problem: str) -> UserError:
    """A UserError: what is wrong, the expected files, how to obtain them."""
    root = str(data_root) if data_root is not None else "<data root>"
    expected = "\n".join(f"  {root}/{layout.directory}/{f}" for f in layout.files)
    return UserError(
        f"dataset '{layout.name}': {problem}\n"
        f"Expected layout:\n{expected}\n"
        f"To obtain it: download {layout.archive} from {CIFAR_URL} and extract it under the "
        f"data root (tar -xzf {layout.archive} -C {root}). Set the data root with "
        f"--data-root DIR or the {DATA_ROOT_ENV} environment variable; nothing is downloaded "
        "at run time."
    )


def check_files(layout: CifarLayout, data_root: Path | None) -> Path:
    """The dataset directory, once the root, the directory and every file exist."""
    if data_root is None:
        raise layout_error(layout, None, "no data root given.")
    if not data_root.is_dir():
        raise layout_error(layout, data_root, f"data root {data_root} is not a directory.")
    directory = data_root / layout.directory
    if not directory.is_dir():
        raise layout_error(layout, data_root, f"directory {directory} does not exist.")
    missing = [str(directory / f) for f in layout.files if not (directory / f).is_file()]
    if missing:
        raise layout_error(layout, data_root, f"missing file(s): {', '.join(missing)}.")
    return directory


def read_split(layout: CifarLayout, paths: list[Path]) -> Split:
    """Concatenate batch files in order: images uint8 [N, 3, 32, 32], labels int64 [N]."""
    batches = [read_batch(layout, path) for path in paths]
    images = np.concatenate([data for data, _ in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([labels for _, labels in batches]).astype(np.int64)
    return Split(torch.from_numpy(images), torch.from_numpy(labels))


def read_batch(layout: CifarLayout, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (data uint8 [N, 3072], labels [N]), validated."""
    batch = read_pickle(layout, path)
    if not isinstance(batch, dict) or b"data" not in batch or layout.label_key not in batch:
        keys = f"b'data' and {layout.label_key!r}"
        raise _malformed(layout, path, f"expected a dict with keys {keys}")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[layout.label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[0] < 1 or data.shape[1] != PIXELS:
        found = f"{data.dtype} array of shape {list(data.shape)}"
        raise _malformed(layout, path, f"b'data' must be a uint8 array [N, {PIXELS}], got {found}")
    if labels.shape != (data.shape[0],) or labels.dtype.kind not in "iu":
        found = f"{labels.dtype} of shape {list(labels.shape)}"
        raise _malformed(layout, path, f"labels must be {data.shape[0]} integers, got {found}")
    if labels.min() < 0 or labels.max() >= layout.num_classes:
        raise _malformed(layout, path, f"labels must lie in [0, {layout.num_classes})")
    return data, labels


def read_class_names(layout: CifarLayout, path: Path) -> list[str]:
    """The class names from the meta file, in label order."""
    meta = read_pickle(layout, path)
    names = meta.get(layout.names_key) if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != layout.num_classes:
        problem = f"expected {layout.names_key!r}: a list of {layout.num_classes} names"
        raise _malformed(layout, path, problem)
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def read_pickle(layout: CifarLayout, path: Path) -> object:
    """Unpickle a data file; any failure becomes a UserError naming the file."""
    try:
        return load_data_pickle(path)
    except Exception as exc:  # an unreadable data file is a data problem, whatever the cause
        problem = f"{type(exc).__name__}: {exc}; the file is truncated, corrupt or not CIFAR"
        raise _malformed(layout, path, problem) from exc


def _malformed(layout: CifarLayout, path: Path, problem: str) -> UserError:
    # path = <root>/<directory>/<file>, so the root is two levels up.
    return layout_error(layout, path.parent.parent, f"cannot read {path}: {problem}.")
