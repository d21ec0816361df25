"""Tiny MNIST/Fashion-MNIST trees in the real IDX format (big-endian header, uint8 values), for
tests: the four files the official archives hold, with a few images, gzip-compressed or not."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

MAGIC = {3: 0x00000803, 1: 0x00000801}


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of a uint8 array: magic (by its number of dimensions), sizes, values."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    head = struct.pack(">I", MAGIC[array.ndim] if magic is None else magic)
    return head + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    """Write ``array`` as an IDX file at ``path`` (gzip-compressed when it ends in ``.gz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_tree(root: Path, directory: str = "fashion-mnist", n: tuple[int, int] = (40, 20), gz: bool = True):
    """The four files under ``root/directory`` with ``n`` = (train, test) images of every class
    in turn; returns {split: (images [N, 28, 28], labels [N])} as written."""
    rng = np.random.default_rng(0)
    written = {}
    for split, prefix, count in (("train", "train", n[0]), ("test", "t10k", n[1])):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(root / directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(root / directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        written[split] = (images, labels)
    return written
