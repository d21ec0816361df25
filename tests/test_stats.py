"""Statistics on tiny hand-computed samples."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats as st

from benchmark import stats

NAN = float("nan")

T_975_DF2 = 4.302652729911275  # t quantile, 97.5%, 2 degrees of freedom


def test_summary_of_one_two_three() -> None:
    s = stats.summarize([1.0, 2.0, 3.0])
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    half = T_975_DF2 * 1.0 / math.sqrt(3)
    assert s.ci_low == pytest.approx(2.0 - half, abs=1e-9)
    assert s.ci_high == pytest.approx(2.0 + half, abs=1e-9)
    assert s.ci_low == pytest.approx(-0.4841377, abs=1e-6)


def test_single_seed_has_no_spread_and_no_interval() -> None:
    s = stats.summarize([81.3])
    assert s.n == 1 and s.mean == 81.3
    assert math.isnan(s.std) and math.isnan(s.ci_low) and math.isnan(s.ci_high)


def test_empty_cell_is_all_nan() -> None:
    s = stats.summarize([])
    assert s.n == 0 and math.isnan(s.mean)


def test_zero_spread_gives_a_point_interval() -> None:
    s = stats.summarize([10.0, 10.0, 10.0])
    assert (s.std, s.ci_low, s.ci_high) == (0.0, 10.0, 10.0)


def test_welch_by_hand() -> None:
    # a = [4, 6, 8]: mean 6, s 2;  b = [1, 2, 3]: mean 2, s 1;  n = 3 each
    # v_a = 4/3, v_b = 1/3, se = sqrt(5/3); df = (5/3)^2 / ((4/3)^2/2 + (1/3)^2/2) = 50/17
    c = stats.welch(6.0, 2.0, 3, 2.0, 1.0, 3)
    assert c.estimate == 4.0
    assert c.df == pytest.approx(50 / 17)
    half = st.t.ppf(0.975, 50 / 17) * math.sqrt(5 / 3)
    assert c.ci_low == pytest.approx(4.0 - half)
    assert c.ci_high == pytest.approx(4.0 + half)
    assert half == pytest.approx(4.1554, abs=1e-3)  # t(0.975, 2.94) = 3.219


def test_welch_matches_scipy() -> None:
    a, b = [70.1, 71.5, 69.8, 72.0], [60.2, 64.9, 58.1]
    sa, sb = stats.summarize(a), stats.summarize(b)
    c = stats.welch(sa.mean, sa.std, sa.n, sb.mean, sb.std, sb.n)
    ref = st.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == pytest.approx((ref.low, ref.high))


def test_welch_with_a_single_seed_has_an_estimate_but_no_interval() -> None:
    c = stats.welch(5.0, float("nan"), 1, 2.0, 1.0, 3)
    assert c.estimate == 3.0 and math.isnan(c.ci_low) and math.isnan(c.ci_high)
    assert math.isnan(stats.welch(5.0, 1.0, 3, 2.0, 1.0, 0).estimate)


def test_contrast_of_two_differences() -> None:
    # (a - b) - (c - d) with four cells of std 1, n 2: v_i = 1/2, total 2, df = 4/(4*(1/4)) = 4
    c = stats.contrast((1, -1, -1, 1), (10, 4, 7, 3), (1, 1, 1, 1), (2, 2, 2, 2))
    assert c.estimate == 2.0 and c.df == pytest.approx(4.0)
    assert c.ci_high - c.estimate == pytest.approx(st.t.ppf(0.975, 4) * math.sqrt(2))


def test_summarize_groups() -> None:
    df = pd.DataFrame({"cell": ["a", "a", "a", "b"], "acc": [1.0, 2.0, 3.0, 5.0]})
    out = stats.summarize_groups(df, ["cell"], "acc")
    assert out["cell"].tolist() == ["a", "b"]
    assert out["n"].tolist() == [3, 1]
    assert out["std"].iloc[0] == 1.0 and math.isnan(out["std"].iloc[1])


@pytest.mark.parametrize(
    ("std_a", "std_b", "n", "target"), [(3.0, 2.0, 5, 2.0), (1.0, 1.0, 3, 0.5), (4.0, 0.5, 10, 1.0)]
)
def test_seeds_for_a_half_width_are_those_at_which_welchs_interval_first_reaches_it(
    std_a, std_b, n, target
) -> None:
    """Two cells of known stds with n seeds each: the projection names the first seed count at
    which Welch's interval, recomputed with those stds, is at most ``target`` wide."""

    def half(seeds: int) -> float:
        c = stats.welch(0.0, std_a, seeds, 0.0, std_b, seeds)
        return (c.ci_high - c.ci_low) / 2

    now = stats.welch(0.0, std_a, n, 0.0, std_b, n)
    needed = stats.seeds_for_half_width(half(n), n, now.df, target)
    assert needed == min(k for k in range(2, 400) if half(k) <= target)
    assert half(int(needed)) <= target < half(int(needed) - 1)


def test_seeds_for_a_one_sample_interval() -> None:
    """One cell (df = n - 1): the seeds at which its own t-interval is at most the target wide."""
    std, n, target = 2.5, 4, 1.0
    low, high = stats.t_interval(0.0, std, n)
    needed = stats.seeds_for_half_width((high - low) / 2, n, n - 1, target)
    half = {k: st.t.ppf(0.975, k - 1) * std / math.sqrt(k) for k in range(2, 200)}
    assert needed == min(k for k, h in half.items() if h <= target)


def test_seeds_for_a_half_width_already_reached_and_out_of_reach() -> None:
    now = stats.welch(0.0, 3.0, 5, 0.0, 2.0, 5)
    half = (now.ci_high - now.ci_low) / 2
    assert stats.seeds_for_half_width(half, 5, now.df, half) == 5  # exactly as wide: as many seeds
    assert stats.seeds_for_half_width(half, 5, now.df, 100.0) == 2  # far wider a target: the fewest
    assert stats.seeds_for_half_width(half, 5, now.df, 0.01) == math.inf  # beyond 1,000 seeds
    for undefined in (
        (half, 1, now.df, 2.0),
        (NAN, 5, now.df, 2.0),
        (half, 5, NAN, 2.0),
        (half, 5, now.df, NAN),
    ):
        assert math.isnan(stats.seeds_for_half_width(*undefined))
