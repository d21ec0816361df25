"""MNIST and Fashion-MNIST from their real IDX files (benchmark/data/idx.py, mnist.py): tiny
files written here in the format, and the real Fashion-MNIST of Debian's dataset-fashion-mnist
package (``apt-get install dataset-fashion-mnist``; CI installs it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.data import DATASETS, Dataset, Split, load_dataset
from benchmark.data import mnist as mnist_module
from benchmark.data.idx import IMAGES_MAGIC, IdxError, read_idx
from benchmark.data.options import DataOptions
from benchmark.errors import UserError
from benchmark.recipe import Recipe
from benchmark.spec import RunSpec
from benchmark.train import train
from tests.idx_files import write_idx, write_tree

DEBIAN = Path("/usr/share/datasets")


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    ("name", "directory", "flip"), [("fashion_mnist", "fashion-mnist", True), ("mnist", "mnist", False)]
)
def test_a_tiny_tree_reads_back_exactly(
    tmp_path: Path, gz: bool, name: str, directory: str, flip: bool
) -> None:
    written = write_tree(tmp_path, directory, gz=gz)
    data = load_dataset(name, tmp_path)
    assert (data.train_size, data.test_size, data.in_channels, data.image_size) == (40, 20, 1, 28)
    x, y = next(data.batches("test", 20))
    images, labels = written["test"]
    pixels = x * data.std[0] + data.mean[0]  # undo the normalisation
    assert torch.allclose(pixels[:, 0], torch.from_numpy(images).float(), atol=1e-3)
    assert y.tolist() == labels.tolist()
    assert data.mean[0] == pytest.approx(written["train"][0].mean(), rel=1e-6)
    assert data.augmentation.flip == flip and data.augmentation.pad == 2


def test_classes_and_per_class_take_the_first_images_of_the_first_classes(tmp_path: Path) -> None:
    written = write_tree(tmp_path, n=(40, 20))  # labels 0..9 in turn: 4 train, 2 test images a class
    data = load_dataset("fashion_mnist", tmp_path, DataOptions(classes=3, per_class=2))
    assert (data.num_classes, data.train_size, data.test_size) == (3, 6, 6)
    assert data.class_names == ("T-shirt/top", "Trouser", "Pullover")
    images, labels = written["train"]
    kept = [0, 1, 2, 10, 11, 12]  # the first two of each of the classes 0, 1, 2, in file order
    x, y = next(data.batches("train", 6, generator=torch.Generator().manual_seed(0)))
    pixels = (x[:, 0] * data.std[0] + data.mean[0]).round().to(torch.uint8).numpy()
    order = np.argsort(pixels.reshape(6, -1).sum(1))  # the batch is shuffled: compare as sets
    expected = images[kept][np.argsort(images[kept].reshape(6, -1).sum(1))]
    assert np.array_equal(pixels[order], expected)
    assert sorted(y.tolist()) == sorted(labels[kept].tolist())
    assert data.mean[0] == pytest.approx(images[kept].mean(), rel=1e-6)
    _, y_test = next(data.batches("test", 20))
    assert y_test.tolist() == written["test"][1][np.isin(written["test"][1], [0, 1, 2])].tolist()
    with pytest.raises(UserError, match=r"--classes 11 must lie in \[2, 10\]"):
        load_dataset("fashion_mnist", tmp_path, DataOptions(classes=11))


def test_the_reader_refuses_a_wrong_magic_and_a_wrong_length(tmp_path: Path) -> None:
    labels = write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(IdxError, match=r"labels has magic number 0x00000801, expected 0x00000803"):
        read_idx(labels, IMAGES_MAGIC)
    short = tmp_path / "short"
    short.write_bytes(labels.read_bytes()[:-2])
    with pytest.raises(IdxError, match=r"holds 11 bytes, its header \[5\] says 13"):
        read_idx(short, 0x00000801)


def test_without_a_data_root_debians_directory_is_tried_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BNNBENCH_DATA", raising=False)
    monkeypatch.setattr(mnist_module, "SYSTEM_ROOT", tmp_path / "usr-share-datasets")
    with pytest.raises(
        UserError, match=r"does not exist \(no data root given, so .*usr-share-datasets was tried\)"
    ):
        load_dataset("mnist")
    write_tree(tmp_path / "usr-share-datasets", "mnist")
    assert load_dataset("mnist").train_size == 40


# -- the real Fashion-MNIST (Debian's dataset-fashion-mnist) ---------------------------------
@pytest.fixture(scope="module")
def real() -> Dataset:
    assert (DEBIAN / "fashion-mnist").is_dir(), "install it: apt-get install dataset-fashion-mnist"
    return load_dataset("fashion_mnist", DEBIAN)


def test_the_real_fashion_mnist_has_its_published_counts(real: Dataset) -> None:
    assert (real.train_size, real.test_size, real.num_classes) == (60_000, 10_000, 10)
    for split, per_class in (("train", 6_000), ("test", 1_000)):
        labels = real._split(split).labels
        assert torch.bincount(labels).tolist() == [per_class] * 10
    assert real.class_names[0] == "T-shirt/top" and real.class_names[-1] == "Ankle boot"
    assert (round(real.mean[0], 2), round(real.std[0], 2)) == (72.94, 90.02)


def test_a_run_trains_on_the_real_files(
    real: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real images through the whole trainer: 1,024 train and 512 test images of them."""
    train_split, test_split = real._split("train"), real._split("test")
    part = Dataset(
        "fashion_mnist_part",
        10,
        Split(train_split.images[:1024], train_split.labels[:1024]),
        Split(test_split.images[:512], test_split.labels[:512]),
        real.mean,
        real.std,
        real.augmentation,
        real.class_names,
    )
    monkeypatch.setitem(DATASETS._items, part.name, lambda root, options: part)
    recipe = Recipe(name="tiny", epochs=4, batch_size=64, augment=True)
    spec = RunSpec(part.name, "resnet18", "fp", "fp", 0, recipe, width=0.0625, threads=1, device="cpu")
    result = train(spec, tmp_path / "run", show_progress=False)
    assert result["status"] == "ok" and result["epochs"] == 4
    assert result["test_acc"] > 30.0  # chance is 10%
