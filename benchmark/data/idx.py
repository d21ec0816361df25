"""Reading IDX files, the format of MNIST and Fashion-MNIST (LeCun et al., "The MNIST
database", http://yann.lecun.com/exdb/mnist/; Xiao et al. 2017, Fashion-MNIST).

An IDX file is a 4-byte magic number, ``0x00 0x00 <type> <ndim>`` (type ``0x08``: unsigned
bytes), then ``ndim`` big-endian 32-bit sizes, then the values in C order. Image files have
magic 2051 (``0x00000803``: ubyte, 3 dimensions N x rows x columns), label files 2049
(``0x00000801``: ubyte, 1 dimension N). A file may be gzip-compressed (``.gz``), as distributed.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


class IdxError(ValueError):
    """A file that is not the IDX file it should be; the message says what is wrong."""


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array of an IDX file (``.gz`` or plain) whose magic number must be ``magic``."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxError(f"{path} is {len(data)} bytes long, too short for an IDX header")
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise IdxError(f"{path} has magic number {found:#010x}, expected {magic:#010x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path} ends inside its header ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise IdxError(f"{path} holds {len(data)} bytes, its header {list(shape)} says {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as err:
        raise IdxError(f"cannot read {path}: {err}") from None
