"""``imagenet``: ILSVRC2012 (ImageNet-1k) as an ImageFolder tree under the data root, streamed
from disk through a torch DataLoader with ``--workers`` processes.

Source: Russakovsky et al. 2015, https://image-net.org (ILSVRC2012: 1,281,167 train and 50,000
validation images of 1,000 classes). Layout (the tree sits in ``imagenet/`` under the data
root, like every dataset here; link an existing one there)::

    <data root>/imagenet/train/<wnid>/*.JPEG     one folder per class, e.g. n01440764
    <data root>/imagenet/val/<wnid>/*.JPEG       the same class folders

Files ending in ``.jpeg``, ``.jpg`` or ``.png`` in any case are images (``benchmark.data.folder``).
Classes are sorted by folder name and labelled by index; ``val`` is the test split.
``--classes N`` keeps the first N classes (train and val alike) and ``--per-class N`` the first N
train images of each class, sorted by file name: a quick run of the real pipeline.

Views (``benchmark.data.imagenet_transforms``): train = random resized crop to 224 and a
horizontal flip, eval = shorter side to 256 and the central 224 crop, normalised by the
ImageNet mean and std (torchvision's classification reference). ``augment=False`` trains on the
eval view.

Epoch semantics (``benchmark.data.source``): ``batches("train", ...)`` draws from the generator,
when called, a permutation of the train split and then one 62-bit epoch seed; the sample at
position ``p`` of the epoch gets its crop and flip from a generator seeded by (epoch seed, p)
inside whichever process decodes it. A batch is therefore a pure function of (generator state,
batch index): the same for any number of workers, and ``start_batch=k`` only starts the
DataLoader's sampler at batch ``k``. The DataLoader's own base seed comes from a private
generator, so the global RNGs are never drawn from. The val split is read in its fixed order.

Errors: the tree is checked when loaded (data root, ``train/`` and ``val/``, the same class
folders in both, no chosen class without images); files are not opened until read. A file that
cannot be decoded is found by the worker that reads it, which hands back a marker instead of a
batch; the training process then raises a :class:`~benchmark.errors.UserError` naming the file.
Workers outlive a SIGTERM sent to the whole job, so the run checkpoints before it stops them
(``benchmark.data.workers``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from benchmark.data import imagenet_transforms as views
from benchmark.data.folder import IMAGE_SUFFIXES, ImageList, list_classes, scan
from benchmark.data.inputs import Inputs
from benchmark.data.options import DataOptions
from benchmark.data.registry import DATA_ROOT_ENV, DATASETS
from benchmark.data.source import Shard, SplitName, count_batches, share
from benchmark.data.workers import worker_init
from benchmark.errors import UserError

DIRECTORY = "imagenet"
SPLIT_DIRS = {"train": "train", "test": "val"}
NAMED = 5  # differences and empty folders named in a message
Batch = tuple[torch.Tensor, torch.Tensor]

HOW_TO_OBTAIN = (
    "register at https://image-net.org and download the ILSVRC2012 training and validation "
    "images (ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar); extract each class's archive of "
    "the training tar into train/<wnid>/, and sort the flat validation images into class folders "
    "val/<wnid>/ (for example with the standard valprep.sh script that PyTorch's ImageNet "
    "example points to). "
    "A tree that exists elsewhere can be linked: ln -s /path/to/ILSVRC2012 <data root>/imagenet"
)


@DATASETS.register("imagenet")
def load_imagenet(data_root: Path | None, options: DataOptions) -> ImageNet:
    """ImageNet-1k: 1,281,167 train / 50,000 val colour images of 1,000 classes, cropped to 224."""
    check_options(options)
    directory = find_tree(data_root)
    classes = choose_classes(directory, options.classes)
    train = scan(directory / SPLIT_DIRS["train"], classes, options.per_class)
    test = scan(directory / SPLIT_DIRS["test"], classes)
    for split in (train, test):
        check_not_empty(split, classes)
    return ImageNet(train, test, classes, options.workers)


# -- the tree ------------------------------------------------------------------------------
def layout_error(root: Path | None, problem: str) -> UserError:
    """A UserError: what is wrong, the expected layout, how to obtain ImageNet."""
    tree = f"{root if root is not None else '<data root>'}/{DIRECTORY}"
    suffixes = ", ".join(IMAGE_SUFFIXES)
    return UserError(
        f"dataset 'imagenet': {problem}\nExpected layout:\n"
        f"  {tree}/train/<wnid>/*.JPEG   (one folder per class, e.g. n01440764)\n"
        f"  {tree}/val/<wnid>/*.JPEG     (the same class folders)\n"
        f"(image files end in {suffixes}, in any case)\n"
        f"To obtain it: {HOW_TO_OBTAIN}. Set the data root with --data-root DIR or the {DATA_ROOT_ENV} "
        "environment variable; nothing is downloaded at run time."
    )


def check_options(options: DataOptions) -> None:
    for flag, value, least in (
        ("--workers", options.workers, 0),
        ("--classes", options.classes, 1),
        ("--per-class", options.per_class, 1),
    ):
        if value is not None and value < least:
            raise UserError(f"dataset 'imagenet': {flag} {value} must be >= {least}")


def find_tree(data_root: Path | None) -> Path:
    """``<data root>/imagenet``, once it holds ``train/`` and ``val/``."""
    if data_root is None:
        raise layout_error(None, "no data root given.")
    if not data_root.is_dir():
        raise layout_error(data_root, f"data root {data_root} is not a directory.")
    directory = data_root / DIRECTORY
    missing = [str(directory / d) for d in SPLIT_DIRS.values() if not (directory / d).is_dir()]
    if missing:
        raise layout_error(data_root, f"missing directory {' and '.join(missing)}.")
    return directory


def choose_classes(directory: Path, first: int | None) -> list[str]:
    """The class folders (sorted), the same in train and val; the first ``first`` of them."""
    train, val = (list_classes(directory / SPLIT_DIRS[s]) for s in ("train", "test"))
    if train != val:
        raise layout_error(directory.parent, classes_differ(directory, train, val))
    if not train:
        raise layout_error(directory.parent, f"{directory / 'train'} holds no class folders.")
    if first is not None and first > len(train):
        problem = f"--classes {first} asks for more than the {len(train)} class folders of {directory}/train."
        raise layout_error(directory.parent, problem)
    return train[:first]


def classes_differ(directory: Path, train: Sequence[str], val: Sequence[str]) -> str:
    only = {s: sorted(set(a) - set(b)) for s, a, b in (("train", train, val), ("val", val, train))}
    parts = [f"only in {split}: {named(names)}" for split, names in only.items() if names]
    return (
        f"the class folders of {directory / 'train'} ({len(train)}) and {directory / 'val'} "
        f"({len(val)}) differ: {'; '.join(parts)}."
    )


def check_not_empty(images: ImageList, classes: Sequence[str]) -> None:
    empty = [str(images.root / classes[k]) for k in np.flatnonzero(images.counts(len(classes)) == 0)]
    if empty:
        raise layout_error(images.root.parent.parent, f"class folder(s) without images: {named(empty)}.")


def named(items: Sequence[str]) -> str:
    """The first few of ``items``, and how many there are when that is not all of them."""
    more = f" ({len(items)} in all)" if len(items) > NAMED else ""
    return ", ".join(items[:NAMED]) + more


# -- streaming -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BatchSpec:
    """One batch to read: image ``indices`` [B] at positions ``first`` .. ``first + B`` of the
    epoch, with the epoch's augmentation seed (None: the eval view)."""

    indices: np.ndarray
    first: int
    epoch_seed: int | None


@dataclasses.dataclass(frozen=True)
class Unreadable:
    """What a worker hands back instead of a batch when a file cannot be decoded."""

    path: str
    reason: str


class EpochPlan:
    """The DataLoader's sampler: batches ``start`` .. ``stop`` of an epoch in ``order``."""

    def __init__(
        self,
        order: np.ndarray,
        batch_size: int,
        start: int,
        stop: int,
        epoch_seed: int | None,
        shard: Shard = (0, 1),
    ) -> None:
        self.order, self.batch_size, self.epoch_seed = order, batch_size, epoch_seed
        self.start, self.stop, self.shard = start, stop, shard

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self) -> Iterator[BatchSpec]:
        for k in range(self.start, self.stop):
            part = share(
                slice(k * self.batch_size, min((k + 1) * self.batch_size, len(self.order))), self.shard
            )
            yield BatchSpec(self.order[part], part.start, self.epoch_seed)  # crops seeded by position


class BatchReader(torch.utils.data.Dataset):
    """Reads, decodes, crops and normalises one whole batch (in a worker, or in process)."""

    def __init__(self, images: ImageList) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, spec: BatchSpec) -> Batch | Unreadable:
        crops = []
        for position, index in enumerate(spec.indices.tolist(), start=spec.first):
            path = self.images.path(index)
            try:
                image = views.decode(path)
            except Exception as exc:  # an undecodable file is a data problem, whatever the cause
                return Unreadable(path, f"{type(exc).__name__}: {exc}")
            if spec.epoch_seed is None:
                crops.append(views.eval_view(image))
            else:
                crops.append(views.train_view(image, views.sample_seed(spec.epoch_seed, position)))
        labels = torch.from_numpy(self.images.labels[spec.indices])
        return views.normalise(torch.stack(crops)), labels


def unreadable(images: ImageList, item: Unreadable) -> UserError:
    problem = f"cannot read {item.path}: {item.reason}; the file is truncated, corrupt or not an image."
    return layout_error(images.root.parent.parent, problem)


def as_is(item: Batch | Unreadable) -> Batch | Unreadable:
    """The DataLoader's collate function: the reader makes whole batches already."""
    return item


class ImageNet:
    """The train/val image lists of an ImageFolder tree, read in batches by ``workers`` processes
    (a :class:`~benchmark.data.source.DataSource`)."""

    name = "imagenet"

    def __init__(self, train: ImageList, test: ImageList, class_names: Sequence[str], workers: int = 0):
        self.class_names = tuple(class_names)
        self.num_classes = len(self.class_names)
        self.workers = workers
        self._splits = {"train": train, "test": test}

    @property
    def inputs(self) -> Inputs:
        return Inputs.image(3, views.CROP)

    @property
    def train_size(self) -> int:
        return len(self._splits["train"])

    @property
    def test_size(self) -> int:
        return len(self._splits["test"])

    def __repr__(self) -> str:
        return (
            f"ImageNet(classes={self.num_classes}, train={self.train_size}, test={self.test_size}, "
            f"workers={self.workers})"
        )

    def example_input(self, batch: int = 2) -> torch.Tensor:
        """Zeros [batch, 3, 224, 224], for tracing the model's execution order."""
        return torch.zeros(batch, 3, views.CROP, views.CROP)

    def num_batches(self, split: SplitName, batch_size: int, drop_last: bool = False) -> int:
        return count_batches(len(self._split(split)), batch_size, drop_last)

    def batches(
        self,
        split: SplitName,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        augment: bool = False,
        drop_last: bool = False,
        start_batch: int = 0,
        shard: Shard = (0, 1),
    ) -> Iterator[Batch]:
        """One epoch of ``(inputs, targets)``: float32 [B, 3, 224, 224] normalised, int64 [B].

        train: the permutation and the epoch seed are drawn from ``generator`` (torch's global
        generator when None) now; the crops follow from them. test: fixed order, eval view.
        """
        total = self.num_batches(split, batch_size, drop_last)
        if not 0 <= start_batch <= total:
            raise ValueError(f"start_batch must be in [0, {total}], got {start_batch}")
        n = len(self._split(split))
        if split == "train":
            order = torch.randperm(n, generator=generator).numpy()
            seed = int(torch.randint(0, 2**62, (), generator=generator))
            plan = EpochPlan(order, batch_size, start_batch, total, seed if augment else None, shard)
        else:
            plan = EpochPlan(np.arange(n), batch_size, start_batch, total, None, shard)
        return self._stream(BatchReader(self._split(split)), plan)

    def _split(self, split: SplitName) -> ImageList:
        if split not in self._splits:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self._splits[split]

    def _stream(self, reader: BatchReader, plan: EpochPlan) -> Iterator[Batch]:
        loader = DataLoader(
            reader,
            batch_size=None,
            sampler=plan,
            num_workers=self.workers,
            collate_fn=as_is,
            worker_init_fn=worker_init,  # a SIGTERM for the whole job leaves the workers to us
            generator=torch.Generator(),  # its base seed for the workers: never the global RNG's
        )
        items = iter(loader)
        try:
            for item in items:
                if isinstance(item, Unreadable):
                    raise unreadable(reader.images, item)
                yield item
        finally:
            del items  # the workers stop now, not when the caller's frame is collected
