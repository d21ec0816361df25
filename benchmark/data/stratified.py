"""A seeded stratified train/test split, identical to scikit-learn's ``train_test_split(...,
stratify=labels)``, without importing scikit-learn (about 2 s of every process's start-up).

The algorithm is that of ``sklearn.model_selection.StratifiedShuffleSplit`` (scikit-learn 1.x),
written here from its description; ``tests/test_stratified.py`` checks the indices against
scikit-learn's on the digits labels and on label sets with tied class counts.

With ``n`` samples, ``n_test = ceil(fraction * n)`` and ``n_train = n - n_test``. Every class
``c`` of size ``k_c`` gets ``floor(k_c / n * n_train)`` train samples; the samples still missing
go one each to the classes with the largest fractional remainders, ties broken by a draw of
the seeded ``RandomState``. The test quota is found the same way from the classes' remaining
counts. Each class's members (in index order) are then permuted and cut into its train and
test quota, and each split's concatenation is permuted once more. The draws, in order, come
from ``numpy.random.RandomState(seed)``.
"""

from __future__ import annotations

import math

import numpy as np


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) of a stratified split of ``labels``, as scikit-learn draws them."""
    n = len(labels)
    n_test = math.ceil(test_fraction * n)
    n_train = n - n_test
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2 or min(n_train, n_test) < len(counts):
        raise ValueError(
            f"a stratified split needs at least 2 samples of every class and at least one "
            f"class's worth in each split; got class sizes {counts.tolist()} for {n_train} "
            f"train / {n_test} test"
        )
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    train_quota = quotas(counts, n_train, rng)
    test_quota = quotas(counts - train_quota, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for cls, size in enumerate(counts):
        shuffled = members[cls].take(rng.permutation(size), mode="clip")
        cut = train_quota[cls]
        train.extend(shuffled[:cut])
        test.extend(shuffled[cut : cut + test_quota[cls]])
    return rng.permutation(train), rng.permutation(test)


def quotas(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of ``draws`` each class gets: proportional, floored, then topped up by
    largest remainder (ties drawn from ``rng``)."""
    exact = counts / counts.sum() * draws
    quota = np.floor(exact)
    missing = int(draws - quota.sum())
    remainder = exact - quota
    for value in np.sort(np.unique(remainder))[::-1]:
        if missing <= 0:
            break
        (tied,) = np.where(remainder == value)
        take = min(len(tied), missing)
        quota[rng.choice(tied, size=take, replace=False)] += 1
        missing -= take
    return quota.astype(int)
