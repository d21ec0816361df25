"""Tiny CIFAR-10/100 trees in the real "python version" format, for tests.

The files are what the official archives hold, only with a few images: pickles written as
Python 2's cPickle wrote them (protocol 2, strings as Python 2 ``str`` opcodes, numpy arrays
via ``numpy.core.multiarray._reconstruct``) of dicts with byte-string keys, ``b"data"`` a uint8
array [N, 3072] (channel-major rows), labels under ``b"labels"`` (CIFAR-10) or
``b"fine_labels"`` and ``b"coarse_labels"`` (CIFAR-100), and a meta file with the class names.

>>> fake = write_cifar10(tmp_path)          # doctest: +SKIP
>>> ds = load_dataset("cifar10", fake.root)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class FakeCifar:
    """What was written: images uint8 [N, 3, 32, 32] and labels int64 [N], in file order."""

    root: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]


class _Py2Pickler(pickle._Pickler):
    """Writes ``str`` and ``bytes`` as Python 2 ``str`` (BINSTRING), as the CIFAR files do."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: str | bytes) -> None:
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def write_pickle(path: Path, obj: object) -> None:
    """Pickle ``obj`` to ``path`` in the original files' Python 2 format, creating parents."""
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    # numpy 2 names its private module; numpy 1.x (and the original files) say numpy.core.
    raw = buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)


def write_batch(path: Path, images: np.ndarray, labels: dict[bytes, np.ndarray]) -> None:
    """One batch file: ``images`` uint8 [N, 3, 32, 32] stored as rows [N, 3072]."""
    n = images.shape[0]
    batch = {
        b"batch_label": path.name.encode(),
        b"data": images.reshape(n, -1),
        b"filenames": [f"img_{k}.png".encode() for k in range(n)],
    }
    batch.update({key: [int(v) for v in values] for key, values in labels.items()})
    write_pickle(path, batch)


def random_images(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


def write_cifar10(root: Path, per_batch: int = 2, test_size: int = 2, seed: int = 0) -> FakeCifar:
    """``<root>/cifar-10-batches-py/``: 5 train batches of ``per_batch`` images, a test batch."""
    rng = np.random.default_rng(seed)
    directory = root / "cifar-10-batches-py"
    train_images = random_images(rng, 5 * per_batch)
    train_labels = rng.integers(0, 10, size=5 * per_batch)
    for k in range(5):
        part = slice(k * per_batch, (k + 1) * per_batch)
        write_batch(
            directory / f"data_batch_{k + 1}",
            train_images[part],
            {b"labels": train_labels[part]},
        )
    test_images = random_images(rng, test_size)
    test_labels = rng.integers(0, 10, size=test_size)
    write_batch(directory / "test_batch", test_images, {b"labels": test_labels})
    names = ["airplane", "automobile", "bird", "cat", "deer"]
    names += ["dog", "frog", "horse", "ship", "truck"]
    meta = {b"label_names": [n.encode() for n in names], b"num_vis": 3072}
    write_pickle(directory / "batches.meta", meta)
    return FakeCifar(root, train_images, train_labels, test_images, test_labels, names)


def write_cifar100(root: Path, train_size: int = 6, test_size: int = 2, seed: int = 0) -> FakeCifar:
    """``<root>/cifar-100-python/{train,test,meta}``; coarse labels differ from fine ones."""
    rng = np.random.default_rng(seed)
    directory = root / "cifar-100-python"
    splits = {}
    for name, n in (("train", train_size), ("test", test_size)):
        images = random_images(rng, n)
        fine = rng.integers(20, 100, size=n)  # >= 20, so never equal to a coarse label
        write_batch(directory / name, images, {b"fine_labels": fine, b"coarse_labels": fine % 20})
        splits[name] = (images, fine)
    names = [f"class{k:02d}" for k in range(100)]
    meta = {
        b"fine_label_names": [n.encode() for n in names],
        b"coarse_label_names": [f"super{k}".encode() for k in range(20)],
    }
    write_pickle(directory / "meta", meta)
    return FakeCifar(root, *splits["train"], *splits["test"], names)
