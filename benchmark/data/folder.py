"""Scanning an ImageFolder tree, ``<split>/<class>/<image>``, fast enough for ImageNet's 1.28 M files.

Classes are the sub-directories of a split, sorted by name (as torchvision's ``ImageFolder``
sorts them, so labels agree with it); images are the files of a class directory whose name ends
in ``.jpeg``, ``.jpg`` or ``.png`` in any case, sorted by name. Hidden entries and other files
are ignored.

Speed: each directory is read once with :func:`os.scandir`, whose entries carry their type
from the directory listing itself (``d_type``), so no file is ``stat``-ed (a symbolic link is,
to learn what it points at). Only the chosen classes' directories are listed, by a few threads
at once: ``readdir`` releases the GIL, so on a network file system the listings' waits overlap.
On a local disk with a warm cache, 130,000 files in 100 class directories list in 0.2-0.25 s
with 1 or 8 threads (about 2.5 s for ImageNet's 1.28 M).

Memory: the file names are kept as one numpy array of bytes (``class/name``, about 40 MB for
ImageNet's train split), not as 1.28 M Python strings, which forked DataLoader workers would
copy page by page as they touch each string's reference count.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")  # compared in lower case: ImageNet's files end in .JPEG
SCAN_THREADS = 8


@dataclass(frozen=True)
class ImageList:
    """The images of one split: ``files`` bytes [N] (``class/name``, sorted by label then name),
    ``labels`` int64 [N] (the class's index in the sorted class list), under ``root``."""

    root: Path
    files: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.files)

    def path(self, index: int) -> str:
        return os.path.join(self.root, os.fsdecode(self.files[index]))

    def counts(self, num_classes: int) -> np.ndarray:
        """Images per class, int64 [num_classes]."""
        return np.bincount(self.labels, minlength=num_classes)


def list_classes(split_dir: Path) -> list[str]:
    """The class directories of a split, sorted by name."""
    with os.scandir(split_dir) as entries:
        return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())


def list_images(class_dir: Path) -> list[str]:
    """The image files of a class directory, sorted by name."""
    with os.scandir(class_dir) as entries:
        return sorted(
            e.name
            for e in entries
            if e.name.lower().endswith(IMAGE_SUFFIXES) and not e.name.startswith(".") and e.is_file()
        )


def scan(split_dir: Path, classes: Sequence[str], per_class: int | None = None) -> ImageList:
    """The images of ``classes`` under ``split_dir`` (label = position in ``classes``); with
    ``per_class``, only the first ``per_class`` of each class by file name."""
    with ThreadPoolExecutor(SCAN_THREADS) as pool:
        listings = list(pool.map(list_images, [split_dir / c for c in classes]))
    names = [
        os.fsencode(f"{c}/{name}")
        for c, listing in zip(classes, listings, strict=True)
        for name in listing[:per_class]
    ]
    counts = [len(listing[:per_class]) for listing in listings]
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), counts)
    return ImageList(split_dir, np.array(names, dtype=np.bytes_), labels)
