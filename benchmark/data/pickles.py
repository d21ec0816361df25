"""Unpickling data files that should hold only plain data and numpy arrays.

The CIFAR "python version" batches are pickles (written by Python 2, protocol 2) of dicts with
byte-string keys. Unpickling calls whatever constructors a file names, so a file from an
untrusted source could run code; like ``torch.load(weights_only=True)``, this reader resolves
only the globals a numpy-array pickle needs and refuses every other one.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

# (module, name) pairs a pickle of dicts, lists, bytes and numpy arrays refers to. numpy 1.x
# writes ``numpy.core``, numpy 2.x ``numpy._core``; Python 3 protocol 2 writes bytes via
# ``_codecs.encode``.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("_codecs", "encode"),
    }
)


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not plain data")
        return super().find_class(module, name)


def load_data_pickle(path: Path) -> Any:
    """Unpickle ``path`` with ``encoding="bytes"`` (Python 2 strings stay bytes)."""
    with path.open("rb") as f:
        return _DataUnpickler(f, encoding="bytes").load()
