"""The dataset layer: named datasets that yield normalised, optionally augmented batches.

>>> from benchmark.data import load_dataset
>>> ds = load_dataset("digits")
>>> ds.num_classes, ds.in_channels, ds.image_size, ds.train_size, ds.test_size
(10, 1, 16, 1437, 360)

Datasets (one module each): ``digits`` (scikit-learn's bundled digits, the default),
``synthetic`` (generated, for tests), ``cifar10`` and ``cifar100`` (pickle batches under the
data root: ``--data-root`` or ``$BNNBENCH_DATA``), ``fashion_mnist`` and ``mnist`` (the real IDX
files under the data root, else Debian's ``/usr/share/datasets``), ``imagenet`` (an ImageFolder
tree under the data root, streamed by worker processes), ``sst2`` (GLUE's SST-2 TSV files
under the data root, tokenized by a local tokenizer directory, ``--model-dir``). Nothing is ever
downloaded.
"""

from __future__ import annotations

# Importing the loader modules registers them in DATASETS.
from benchmark.data import cifar, digits, imagenet, mnist, sst2, synthetic  # noqa: F401
from benchmark.data.augment import Augmentation
from benchmark.data.dataset import Dataset, Split
from benchmark.data.inputs import Inputs
from benchmark.data.registry import DATA_ROOT_ENV, DATASETS, load_dataset, resolve_data_root
from benchmark.data.source import DataSource

__all__ = [
    "DATASETS",
    "DATA_ROOT_ENV",
    "Augmentation",
    "DataSource",
    "Dataset",
    "Inputs",
    "Split",
    "load_dataset",
    "resolve_data_root",
]
