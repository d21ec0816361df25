"""The stratified split and the digits reader agree with scikit-learn's, index for index."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from benchmark.data.digits import read_digits
from benchmark.data.stratified import quotas, stratified_split


def sklearn_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return train_test_split(np.arange(len(labels)), test_size=fraction, random_state=seed, stratify=labels)


def test_the_digits_split_is_scikit_learns() -> None:
    labels = load_digits().target
    ours = stratified_split(labels, 0.2, 0)
    theirs = sklearn_split(labels, 0.2, 0)
    assert [len(i) for i in ours] == [1437, 360]
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize(
    "counts",
    [[5, 5, 5, 5], [2, 3, 4, 11], [10, 10, 3, 3, 3], [40, 2, 2]],
    ids=["equal", "uneven", "tied-remainders", "one-large"],
)
def test_tied_and_uneven_classes_draw_as_scikit_learn_does(counts: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(counts)) * 3 + 1, counts))
    for fraction in (0.2, 0.35):
        ours = stratified_split(labels, fraction, seed)
        theirs = sklearn_split(labels, fraction, seed)
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True)), (counts, fraction)


def test_quotas_are_proportional_and_sum_to_the_draws() -> None:
    counts = np.array([3, 3, 3])
    quota = quotas(counts, 4, np.random.RandomState(0))
    assert quota.sum() == 4 and sorted(quota.tolist()) == [1, 1, 2]
    assert quotas(np.array([10, 30]), 8, np.random.RandomState(0)).tolist() == [2, 6]


def test_a_class_of_one_is_refused_with_its_sizes() -> None:
    with pytest.raises(ValueError, match=r"class sizes \[1, 4\]"):
        stratified_split(np.array([0, 1, 1, 1, 1]), 0.4, 0)


def test_read_digits_equals_load_digits() -> None:
    images, labels = read_digits()
    bunch = load_digits()
    assert images.dtype == bunch.images.dtype and np.array_equal(images, bunch.images)
    assert np.array_equal(labels, bunch.target)
