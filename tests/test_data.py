"""The dataset layer: loaders, batching, augmentation, mid-epoch resume and data errors."""

from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from benchmark.data import DATA_ROOT_ENV, DATASETS, Dataset, load_dataset
from benchmark.data.augment import AugmentParams, apply_augmentation
from benchmark.errors import UserError
from methods.registry import UnknownNameError
from tests.cifar_files import write_cifar10, write_cifar100, write_pickle

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


@pytest.fixture(autouse=True)
def _no_data_root_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def synthetic() -> Dataset:
    return load_dataset("synthetic")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def collect(ds: Dataset, split: str, batch_size: int = 1000, **kw) -> tuple[torch.Tensor, ...]:
    """One whole epoch, concatenated: (x, y)."""
    xs, ys = zip(*ds.batches(split, batch_size, **kw), strict=True)
    return torch.cat(xs), torch.cat(ys)


def raw_pixels(ds: Dataset, x: torch.Tensor) -> torch.Tensor:
    """Undo the normalisation: back to raw pixel units (uint8 values for CIFAR)."""
    mean = torch.tensor(ds.mean).view(-1, 1, 1)
    std = torch.tensor(ds.std).view(-1, 1, 1)
    return x * std + mean


def assert_batches_equal(a: list, b: list) -> None:
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# -- registry ---------------------------------------------------------------------------------


def test_registry_lists_the_datasets() -> None:
    expected = [
        "cifar10",
        "cifar100",
        "digits",
        "digits8",
        "fashion_mnist",
        "imagenet",
        "mnist",
        "sst2",
        "synthetic",
    ]
    assert DATASETS.names() == expected


def test_unknown_name_lists_valid_names_and_suggests() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'cifar10'") as err:
        load_dataset("cifar11")
    assert "cifar100, digits, digits8, fashion_mnist, imagenet, mnist, sst2, synthetic" in str(err.value)


# -- digits -----------------------------------------------------------------------------------


def test_digits_shapes_and_sizes(digits: Dataset) -> None:
    assert (digits.name, digits.num_classes, digits.in_channels, digits.image_size) == (
        "digits",
        10,
        1,
        16,
    )
    assert (digits.train_size, digits.test_size) == (1437, 360)
    x, y = next(digits.batches("train", 64, generator=gen(0)))
    assert x.shape == (64, 1, 16, 16) and x.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64
    assert digits.num_batches("train", 64) == 23
    assert digits.num_batches("train", 64, drop_last=True) == 22
    sizes = [len(y) for _, y in digits.batches("train", 64, generator=gen(0))]
    assert sizes == [64] * 22 + [1437 - 22 * 64]


def test_digits_split_is_the_fixed_stratified_split(digits: Dataset) -> None:
    labels = load_digits().target
    _, expected_test = train_test_split(labels, test_size=0.2, random_state=0, stratify=labels)
    _, y_test = collect(digits, "test")
    assert np.array_equal(y_test.numpy(), expected_test)
    total, in_test = np.bincount(labels, minlength=10), np.bincount(y_test, minlength=10)
    assert np.all(np.abs(in_test - 0.2 * total) <= 1)
    _, y_train = collect(digits, "train", generator=gen(0))
    assert np.array_equal(np.bincount(y_train, minlength=10) + in_test, total)


def test_digits_are_upsampled_and_normalised_with_train_statistics(digits: Dataset) -> None:
    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1)
    up = F.interpolate(images, size=16, mode="bilinear", align_corners=False)
    train_idx, test_idx = train_test_split(
        np.arange(len(up)), test_size=0.2, random_state=0, stratify=bunch.target
    )
    mean, std = up[train_idx].mean(), up[train_idx].std()
    x_test, _ = collect(digits, "test")
    assert torch.allclose(x_test, (up[test_idx] - mean) / std, atol=1e-5)
    x_train, _ = collect(digits, "train", generator=gen(0))
    assert abs(x_train.mean().item()) < 1e-4 and abs(x_train.std().item() - 1) < 1e-3


def test_digits8_are_the_same_split_at_the_native_8x8(digits: Dataset) -> None:
    native = load_dataset("digits8")
    assert (native.name, native.image_size, native.train_size, native.test_size) == ("digits8", 8, 1437, 360)
    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1)
    train_idx, test_idx = train_test_split(
        np.arange(len(images)), test_size=0.2, random_state=0, stratify=bunch.target
    )
    mean, std = images[train_idx].mean(), images[train_idx].std()
    x_test, y_test = collect(native, "test")
    assert torch.allclose(x_test, (images[test_idx] - mean) / std, atol=1e-5)
    assert torch.equal(y_test, collect(digits, "test")[1])


def test_digits_need_no_data_root(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "missing"))
    assert load_dataset("digits", tmp_path / "also-missing").train_size == 1437


# -- synthetic --------------------------------------------------------------------------------


def test_synthetic_is_fixed_whatever_the_run_seed(synthetic: Dataset) -> None:
    with torch.random.fork_rng():
        torch.manual_seed(123)
        state = torch.get_rng_state()
        again = load_dataset("synthetic")
        assert torch.equal(torch.get_rng_state(), state), "loading must not use the global RNG"
    assert (again.in_channels, again.image_size, again.num_classes) == (3, 16, 10)
    assert (again.train_size, again.test_size) == (512, 256)
    assert_batches_equal(list(synthetic.batches("test", 100)), list(again.batches("test", 100)))
    a = list(synthetic.batches("train", 100, generator=gen(5), augment=True))
    assert_batches_equal(a, list(again.batches("train", 100, generator=gen(5), augment=True)))


def test_synthetic_is_learnable(synthetic: Dataset) -> None:
    x, y = collect(synthetic, "train", generator=gen(0))
    means = torch.stack([x[y == k].mean(0) for k in range(10)]).flatten(1)
    x_test, y_test = collect(synthetic, "test")
    predicted = torch.cdist(x_test.flatten(1), means).argmin(1)
    assert (predicted == y_test).float().mean() > 0.9
    assert torch.equal(torch.bincount(y, minlength=10).min(), torch.tensor(51))


# -- CIFAR ------------------------------------------------------------------------------------


def test_cifar10_reads_pixels_and_labels_in_file_order(tmp_path) -> None:
    fake = write_cifar10(tmp_path, per_batch=2, test_size=3)
    ds = load_dataset("cifar10", tmp_path)
    assert (ds.num_classes, ds.in_channels, ds.image_size) == (10, 3, 32)
    assert (ds.train_size, ds.test_size) == (10, 3)
    assert list(ds.class_names) == fake.class_names
    x, y = collect(ds, "test")
    assert torch.equal(raw_pixels(ds, x).round(), torch.from_numpy(fake.test_images).float())
    assert np.array_equal(y.numpy(), fake.test_labels)
    order = torch.randperm(10, generator=gen(7))  # the permutation batches() draws first
    x, y = collect(ds, "train", generator=gen(7))
    expected = torch.from_numpy(fake.train_images)[order].float()
    assert torch.equal(raw_pixels(ds, x).round(), expected)
    assert np.array_equal(y.numpy(), fake.train_labels[order.numpy()])


def test_cifar_rows_are_channel_major(tmp_path) -> None:
    write_cifar10(tmp_path)
    row = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)])
    row[1] = 200  # red plane, image row 0, column 1
    row[1024 + 32 * 2 + 5] = 99  # green plane, image row 2, column 5
    test = {b"data": row.astype(np.uint8)[None], b"labels": [4]}
    write_pickle(tmp_path / "cifar-10-batches-py" / "test_batch", test)
    ds = load_dataset("cifar10", tmp_path)
    (x, y) = next(ds.batches("test", 1))
    img = raw_pixels(ds, x)[0].round()
    assert img[0, 0, 1] == 200 and img[1, 2, 5] == 99
    assert img[0, 5, 5] == 10 and img[1, 0, 0] == 20 and img[2, 31, 31] == 30
    assert y.tolist() == [4]


def test_cifar100_reads_fine_labels(tmp_path) -> None:
    fake = write_cifar100(tmp_path, train_size=6, test_size=2)
    ds = load_dataset("cifar100", tmp_path)
    assert (ds.num_classes, ds.train_size, ds.test_size) == (100, 6, 2)
    assert ds.class_names[:2] == ("class00", "class01") and len(ds.class_names) == 100
    x, y = collect(ds, "test")
    assert torch.equal(raw_pixels(ds, x).round(), torch.from_numpy(fake.test_images).float())
    assert np.array_equal(y.numpy(), fake.test_labels)
    order = torch.randperm(6, generator=gen(1))
    _, y = collect(ds, "train", generator=gen(1))
    assert np.array_equal(y.numpy(), fake.train_labels[order.numpy()])


def test_data_root_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    write_cifar10(tmp_path / "env", test_size=2)
    write_cifar10(tmp_path / "arg", test_size=3)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env"))
    assert load_dataset("cifar10").test_size == 2
    assert load_dataset("cifar10", "").test_size == 2  # an empty --data-root means unset
    assert load_dataset("cifar10", tmp_path / "arg").test_size == 3


# -- augmentation -----------------------------------------------------------------------------


def test_apply_augmentation_crops_and_mirrors() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).view(2, 3, 8, 8)
    centre_flip = AugmentParams(torch.tensor([[2, 2], [2, 2]]), torch.tensor([True, False]))
    out = apply_augmentation(x, centre_flip, pad=2)
    assert out.dtype == torch.uint8
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    corner = AugmentParams(torch.tensor([[0, 0], [4, 1]]), torch.tensor([False, True]))
    out = apply_augmentation(x, corner, pad=2)
    assert torch.equal(out[0, :, 2:, 2:], x[0, :, :-2, :-2])  # shifted down-right by 2
    assert out[0, :, :2].eq(0).all() and out[0, :, :, :2].eq(0).all()  # zero padding
    shifted = torch.zeros_like(x[1])
    shifted[:, :-2, 1:] = x[1, :, 2:, :-1]  # window rows 4..11, cols 1..8 of the padded image
    assert torch.equal(out[1], shifted.flip(-1))


def transforms_matching(ds: Dataset, plain: torch.Tensor, augmented: torch.Tensor) -> list:
    """For each image, the first (dy, dx, flip) that maps plain to augmented (asserted to exist)."""
    pad, (n, c, s, _) = ds.augmentation.pad, plain.shape
    fill = -torch.tensor(ds.mean) / torch.tensor(ds.std)  # a raw zero pixel, normalised
    inside = F.pad(torch.ones(1, 1, s, s), (pad,) * 4) > 0
    padded = torch.where(inside, F.pad(plain, (pad,) * 4), fill.view(1, c, 1, 1))
    found: list = [None] * n
    for dy, dx, flip in itertools.product(range(2 * pad + 1), range(2 * pad + 1), (0, 1)):
        windows = padded[:, :, dy : dy + s, dx : dx + s]
        windows = windows.flip(-1) if flip else windows
        hits = (windows - augmented).abs().flatten(1).amax(1) < 1e-5  # [n]
        for i in hits.nonzero().flatten().tolist():
            found[i] = found[i] or (dy, dx, flip)
    missing = [i for i, t in enumerate(found) if t is None]
    assert not missing, f"images {missing} are not crops/flips of their originals"
    return found


def test_cifar_augmentation_is_real_crops_and_flips(tmp_path) -> None:
    write_cifar10(tmp_path, per_batch=4)
    ds = load_dataset("cifar10", tmp_path)
    assert (ds.augmentation.pad, ds.augmentation.flip) == (4, True)
    seen = []
    for epoch in range(3):
        plain, y0 = collect(ds, "train", generator=gen(epoch))
        augmented, y1 = collect(ds, "train", generator=gen(epoch), augment=True)
        assert torch.equal(y0, y1)  # same permutation: it is drawn before the augmentation
        seen += transforms_matching(ds, plain, augmented)
    assert any(flip for _, _, flip in seen) and not all(flip for _, _, flip in seen)
    assert any((dy, dx) != (4, 4) for dy, dx, _ in seen)


def test_digits_augmentation_shifts_by_one_pixel_without_flips(digits: Dataset) -> None:
    plain, _ = next(digits.batches("train", 64, generator=gen(2)))
    augmented, _ = next(digits.batches("train", 64, generator=gen(2), augment=True))
    seen = transforms_matching(digits, plain, augmented)
    assert (digits.augmentation.pad, digits.augmentation.flip) == (1, False)
    assert len({(dy, dx) for dy, dx, _ in seen}) > 1


def test_augmentation_is_deterministic_for_a_generator(synthetic: Dataset) -> None:
    a = list(synthetic.batches("train", 128, generator=gen(3), augment=True))
    b = list(synthetic.batches("train", 128, generator=gen(3), augment=True))
    c = list(synthetic.batches("train", 128, generator=gen(4), augment=True))
    assert_batches_equal(a, b)
    assert not torch.equal(a[0][0], c[0][0])


def test_test_split_is_fixed_and_never_augmented(synthetic: Dataset) -> None:
    g = gen(9)
    state = g.get_state()
    a = list(synthetic.batches("test", 100, generator=g, augment=True))
    assert torch.equal(g.get_state(), state), "the test split draws nothing"
    assert_batches_equal(a, list(synthetic.batches("test", 100)))


# -- resuming mid-epoch -----------------------------------------------------------------------


@pytest.mark.parametrize(("batch_size", "drop_last"), [(64, False), (100, True), (100, False)])
def test_start_batch_gives_the_rest_of_the_epoch(
    synthetic: Dataset, batch_size: int, drop_last: bool
) -> None:
    g = gen(11)
    full = list(synthetic.batches("train", batch_size, generator=g, augment=True, drop_last=drop_last))
    after_full = g.get_state()
    assert len(full) == synthetic.num_batches("train", batch_size, drop_last)
    for k in (0, 1, len(full) - 1, len(full)):
        g = gen(11)
        rest = synthetic.batches(
            "train", batch_size, generator=g, augment=True, drop_last=drop_last, start_batch=k
        )
        assert_batches_equal(list(rest), full[k:])
        assert torch.equal(g.get_state(), after_full), "same RNG use as a full epoch"


def test_start_batch_out_of_range(synthetic: Dataset) -> None:
    with pytest.raises(ValueError, match="start_batch"):
        synthetic.batches("train", 64, generator=gen(0), start_batch=9)
    with pytest.raises(ValueError, match="start_batch"):
        synthetic.batches("test", 64, start_batch=-1)


def test_the_epoch_plan_is_drawn_when_batches_is_called(synthetic: Dataset) -> None:
    g = gen(0)
    state = g.get_state()
    synthetic.batches("train", 64, generator=g, augment=True)  # not iterated
    assert not torch.equal(g.get_state(), state)


# -- data errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "archive", "first_file"),
    [
        ("cifar10", "cifar-10-python.tar.gz", "cifar-10-batches-py/data_batch_1"),
        ("cifar100", "cifar-100-python.tar.gz", "cifar-100-python/train"),
    ],
)
def test_missing_data_root_says_how_to_fix_it(name: str, archive: str, first_file: str) -> None:
    with pytest.raises(UserError) as err:
        load_dataset(name)
    message = str(err.value)
    for needle in ("no data root", "--data-root", DATA_ROOT_ENV, archive, CIFAR_URL, first_file):
        assert needle in message


def test_data_root_that_does_not_exist(tmp_path) -> None:
    with pytest.raises(UserError, match="is not a directory") as err:
        load_dataset("cifar10", tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value)


def test_missing_dataset_directory(tmp_path) -> None:
    with pytest.raises(UserError, match="does not exist") as err:
        load_dataset("cifar100", tmp_path)
    assert str(tmp_path / "cifar-100-python") in str(err.value)
    assert f"{tmp_path}/cifar-100-python/meta" in str(err.value)  # the expected layout


def test_missing_file_is_named_with_the_expected_layout(tmp_path) -> None:
    write_cifar10(tmp_path)
    missing = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    missing.unlink()
    with pytest.raises(UserError, match="missing file") as err:
        load_dataset("cifar10", tmp_path)
    message = str(err.value)
    assert f"missing file(s): {missing}." in message
    for f in ("data_batch_5", "test_batch", "batches.meta"):
        assert f"{tmp_path}/cifar-10-batches-py/{f}" in message


def test_truncated_file(tmp_path) -> None:
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(UserError, match="truncated") as err:
        load_dataset("cifar10", tmp_path)
    assert str(path) in str(err.value) and CIFAR_URL in str(err.value)


def test_wrong_shaped_array(tmp_path) -> None:
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    write_pickle(path, {b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 1]})
    with pytest.raises(
        UserError, match=r"uint8 array \[N, 3072\], got uint8 array of shape \[2, 3000\]"
    ) as err:
        load_dataset("cifar10", tmp_path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "got float32"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "labels must be 2 integers"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"in \[0, 10\)"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "expected a dict with keys"),
        ([1, 2, 3], "expected a dict with keys"),
    ],
)
def test_malformed_batch(tmp_path, batch: object, match: str) -> None:
    write_cifar10(tmp_path)
    write_pickle(tmp_path / "cifar-10-batches-py" / "test_batch", batch)
    with pytest.raises(UserError, match=match):
        load_dataset("cifar10", tmp_path)


def test_cifar100_labels_key_is_fine_labels(tmp_path) -> None:
    write_cifar100(tmp_path)
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}
    write_pickle(tmp_path / "cifar-100-python" / "test", batch)
    with pytest.raises(UserError, match="fine_labels"):
        load_dataset("cifar100", tmp_path)


def test_malformed_meta_file(tmp_path) -> None:
    write_cifar10(tmp_path)
    write_pickle(tmp_path / "cifar-10-batches-py" / "batches.meta", {b"label_names": [b"cat"]})
    with pytest.raises(UserError, match="batches.meta"):
        load_dataset("cifar10", tmp_path)


def test_pickles_naming_other_objects_are_refused(tmp_path) -> None:
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    write_pickle(path, collections.OrderedDict(data=1))
    with pytest.raises(UserError, match="refusing to load collections.OrderedDict") as err:
        load_dataset("cifar10", tmp_path)
    assert str(path) in str(err.value)
