"""The dataset registry and :func:`load_dataset`, which resolves the data root.

A loader is a function ``(data_root: Path | None, options: DataOptions) -> DataSource``; it
registers itself with ``@DATASETS.register(name)`` and reads the options that apply to it.
The data root is the explicit argument (``--data-root``), else
the ``BNNBENCH_DATA`` environment variable, else None: datasets that live on disk (CIFAR) then
raise a :class:`~benchmark.errors.UserError`; bundled or generated ones (digits, synthetic)
need no root.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from benchmark.data.options import DataOptions
from benchmark.data.source import DataSource
from methods.registry import Registry

DATA_ROOT_ENV = "BNNBENCH_DATA"

DatasetLoader = Callable[[Path | None, DataOptions], DataSource]

DATASETS: Registry[DatasetLoader] = Registry("dataset")


def resolve_data_root(data_root: str | os.PathLike[str] | None = None) -> Path | None:
    """``data_root`` if given and non-empty, else ``$BNNBENCH_DATA`` if non-empty, else None."""
    if data_root is None or os.fspath(data_root) == "":
        data_root = os.environ.get(DATA_ROOT_ENV) or None
    return None if data_root is None else Path(data_root).expanduser()


def load_dataset(
    name: str, data_root: str | os.PathLike[str] | None = None, options: DataOptions | None = None
) -> DataSource:
    """Load dataset ``name`` (raises ``UnknownNameError`` listing the valid names on a typo)."""
    loader = DATASETS.get(name)
    return loader(resolve_data_root(data_root), options or DataOptions())
