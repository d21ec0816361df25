"""Summary statistics over seeds: mean, sample std, 95% t-intervals, Welch differences.

All accuracies are in percentage points. Intervals are two-sided Student-t intervals:

    mean +- t_{1-a/2, n-1} * s / sqrt(n)                    (one cell, s the sample std)

and for a linear contrast sum_i c_i * mean_i of independent cells (Welch, with the
Welch-Satterthwaite degrees of freedom)

    v_i = c_i^2 s_i^2 / n_i,    se = sqrt(sum v_i),    df = (sum v_i)^2 / sum(v_i^2 / (n_i - 1))

which for c = (1, -1) is Welch's two-sample interval for mean_a - mean_b. A cell with one
seed has no spread estimate, so every interval that involves it is NaN; a cell with no
seeds has no mean at all. When every cell has zero spread (for instance all seeds
collapsed to chance) the interval degenerates to the point estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

LEVEL = 0.95
NAN = float("nan")


@dataclass(frozen=True)
class Summary:
    """n, mean, sample std (ddof=1) and the t-interval of the mean of one cell."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Contrast:
    """A difference (or other linear contrast) of cell means with its Welch interval."""

    estimate: float
    ci_low: float
    ci_high: float
    df: float


def t_interval(mean: float, std: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The two-sided t-interval of a mean from its summary; NaN bounds when n < 2."""
    if n < 2 or not (math.isfinite(mean) and math.isfinite(std)):
        return NAN, NAN
    half = _st.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)
    return mean - half, mean + half


def seeds_for_half_width(
    half: float, n: int, df: float, target: float, level: float = LEVEL, cap: int = 1000
) -> float:
    """Seeds per cell for a t-interval now ``half`` wide (n seeds per cell, ``df`` degrees of
    freedom) to be at most ``target`` wide, were the cells' standard deviations to stay as
    observed: the smallest n' in [2, cap] with

        half(n') = half * sqrt(n / n') * t_{df'} / t_{df},    df' = df * (n' - 1) / (n - 1),

    where t_d is the two-sided ``level`` quantile of Student's t with d degrees of freedom. Exact
    for a one-sample interval (df = n - 1) and for a Welch contrast of cells with n seeds each
    (its Welch-Satterthwaite df is (n - 1) times a ratio of the variances); for cells with unequal
    seeds, n is the smallest and every cell's seeds grow in proportion (df' then approximate).
    NaN when undefined (n < 2, a half or df not finite, a target not above 0); inf when even
    ``cap`` seeds would not do. A projection for planning, not a measurement: the next seeds'
    spread may differ."""
    if n < 2 or not (math.isfinite(half) and math.isfinite(df) and df > 0 and target > 0):
        return NAN
    q = 0.5 + level / 2
    t_now = _st.t.ppf(q, df)

    def projected(seeds: int) -> float:
        return half * (math.sqrt(n / seeds) * (_st.t.ppf(q, df * (seeds - 1) / (n - 1)) / t_now))

    if projected(cap) > target:
        return math.inf
    low, high = 2, cap  # projected() falls as seeds grow: the first seeds it is within target
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if projected(mid) <= target else (mid + 1, high)
    return float(low)


def summarize(values: Sequence[float], level: float = LEVEL) -> Summary:
    """Summary of one cell's per-seed values (NaN values are not dropped: they poison the mean)."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        return Summary(0, NAN, NAN, NAN, NAN)
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else NAN
    low, high = t_interval(mean, std, n, level)
    return Summary(n, mean, std, low, high)


def contrast(
    coefs: Sequence[float],
    means: Sequence[float],
    stds: Sequence[float],
    ns: Sequence[int],
    level: float = LEVEL,
) -> Contrast:
    """Estimate and Welch interval of sum_i coefs[i] * means[i] over independent cells."""
    if any(n < 1 for n in ns):
        return Contrast(NAN, NAN, NAN, NAN)
    estimate = float(sum(c * m for c, m in zip(coefs, means, strict=True)))
    if any(n < 2 for n in ns) or not all(math.isfinite(s) for s in stds):
        return Contrast(estimate, NAN, NAN, NAN)
    v = [c * c * s * s / n for c, s, n in zip(coefs, stds, ns, strict=True)]
    total = sum(v)
    if total == 0.0:
        return Contrast(estimate, estimate, estimate, math.inf)
    df = total * total / sum(vi * vi / (n - 1) for vi, n in zip(v, ns, strict=True))
    half = _st.t.ppf(0.5 + level / 2, df) * math.sqrt(total)
    return Contrast(estimate, estimate - half, estimate + half, float(df))


def welch(
    mean_a: float,
    std_a: float,
    n_a: int,
    mean_b: float,
    std_b: float,
    n_b: int,
    level: float = LEVEL,
) -> Contrast:
    """mean_a - mean_b with Welch's interval (Welch-Satterthwaite degrees of freedom)."""
    return contrast((1.0, -1.0), (mean_a, mean_b), (std_a, std_b), (n_a, n_b), level)


def summarize_groups(df: pd.DataFrame, keys: list[str], value: str, level: float = LEVEL) -> pd.DataFrame:
    """One row per group of ``keys``: n, mean, std, ci_low, ci_high of column ``value``."""
    rows = []
    for key, group in df.groupby(keys, sort=False, dropna=False):
        s = summarize(group[value].to_list(), level)
        rows.append(
            dict(zip(keys, key, strict=True))
            | {"n": s.n, "mean": s.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high}
        )
    columns = [*keys, "n", "mean", "std", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)
