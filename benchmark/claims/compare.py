"""Comparisons of table cells, each turned into a :class:`~benchmark.claims.verdicts.Part`.

A cell is a table row with ``n``, ``mean``, ``std`` (and ``ci_low``/``ci_high``); a cell
that is missing or has n = 0 gives a NOT RUN part. Differences of two cells use the 95%
Welch interval (:func:`benchmark.stats.welch`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from benchmark import stats
from benchmark.claims.cells import directories
from benchmark.claims.verdicts import NAN, NOT_RUN, Part, greater, ratio_at_least, within


def label(row: pd.Series) -> str:
    """A cell's variant, with its ordering where it has one (``stompp/forward``)."""
    ordering = "" if row["ordering"] == "none" else f"/{row['ordering']}"
    return f"{row['variant']}{ordering}"


def cell_text(row: pd.Series) -> str:
    """A cell as ``variant/ordering mean ± std (n=...)``."""
    std = "" if not math.isfinite(row["std"]) else f" ± {row['std']:.2f}"
    return f"{label(row)} {row['mean']:.2f}{std} (n={int(row['n'])})"


def missing(what: str) -> Part:
    """The part of a comparison whose cell has no finished run."""
    return Part(NOT_RUN, f"NOT RUN: no finished run for {what}")


def interval_text(c: stats.Contrast) -> str:
    """An estimate and its interval, ``+1.23 [0.45, 2.01]``."""
    if not math.isfinite(c.ci_low):
        return f"{c.estimate:+.2f} [interval undefined: a cell has n<2]"
    return f"{c.estimate:+.2f} [{c.ci_low:.2f}, {c.ci_high:.2f}]"


def _absent(a: pd.Series | None, b: pd.Series | None, what: str) -> Part | None:
    """The NOT RUN part when a or b is missing or empty, else None."""
    for row in (a, b):
        if row is None or row["n"] == 0:
            return missing(what if row is None else f"{what} ({label(row)})")
    return None


def _welch(a: pd.Series, b: pd.Series) -> stats.Contrast:
    return stats.welch(a["mean"], a["std"], int(a["n"]), b["mean"], b["std"], int(b["n"]))


def compare_greater(a: pd.Series | None, b: pd.Series | None, margin: float, what: str) -> Part:
    """Part for "a > b + margin" between two table cells (rows with n, mean, std)."""
    return _compare(a, b, what, lambda c: greater(c.ci_low, c.ci_high, margin), f"> {margin:g}")


def compare_less(a: pd.Series | None, b: pd.Series | None, margin: float, what: str) -> Part:
    """Part for "a < b + margin" between two table cells: with [low, high] the Welch interval of
    a - b, HOLDS when high < margin, FAILS when low > margin, INCONCLUSIVE otherwise
    (:func:`~benchmark.claims.verdicts.greater` on the negated interval)."""
    return _compare(a, b, what, lambda c: greater(-c.ci_high, -c.ci_low, -margin), f"< {margin:g}")


def compare_within(a: pd.Series | None, b: pd.Series | None, k: float, what: str) -> Part:
    """Part for "|a - b| <= k" between two table cells."""
    return _compare(a, b, what, lambda c: within(c.ci_low, c.ci_high, k), f"within ±{k:g}")


def _compare(
    a: pd.Series | None, b: pd.Series | None, what: str, judge: Callable[[stats.Contrast], str], rule: str
) -> Part:
    """Part for a rule on the Welch interval of a - b (NOT RUN when a cell is absent or empty)."""
    absent = _absent(a, b, what)
    if absent is not None:
        return absent
    c = _welch(a, b)
    verdict = judge(c)
    text = f"{cell_text(a)} - {cell_text(b)} = {interval_text(c)} vs {rule}: {verdict}"
    n = min(int(a["n"]), int(b["n"]))
    return Part(verdict, text, c.estimate, c.ci_low, c.ci_high, n, c.df, directories(a, b))


def near_value(a: pd.Series | None, value: float, k: float, what: str) -> Part:
    """Part for "the mean of cell a lies within k of value" (one-sample t-interval)."""
    if a is None or a["n"] == 0 or not math.isfinite(value):
        return missing(what)
    c = stats.Contrast(a["mean"] - value, a["ci_low"] - value, a["ci_high"] - value, NAN)
    verdict = within(c.ci_low, c.ci_high, k)
    text = f"{cell_text(a)} - chance {value:.2f} = {interval_text(c)} vs within ±{k:g}: {verdict}"
    n = int(a["n"])
    return Part(verdict, text, c.estimate, c.ci_low, c.ci_high, n, float(n - 1), directories(a))


# --------------------------------------------------------------------------- shares (percentages)


def _no_flips(row: pd.Series | None, column: str) -> bool:
    return row is None or row["n"] == 0 or not math.isfinite(row[column])


def _share_text(row: pd.Series, column: str) -> str:
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    interval = f" [{low:.2f}, {high:.2f}]" if math.isfinite(low) else " [interval undefined: n<2]"
    return f"{row['variant']} {row[column]:.2f}%{interval}"


def share_above(row: pd.Series | None, column: str, threshold: float, what: str) -> Part:
    """Part for "the cell's mean never-flipped share (``column``) exceeds threshold"."""
    if _no_flips(row, column):
        return Part(NOT_RUN, f"NOT RUN: no flip statistics for {what}")
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    verdict = greater(low, high, threshold)
    text = f"{what}: {_share_text(row, column)} vs > {threshold:g}%: {verdict}"
    return Part(verdict, text, row[column], low, high, int(row["n"]))


def share_ratio(a: pd.Series | None, b: pd.Series | None, column: str, ratio: float, what: str) -> Part:
    """Part for "mean share of a / mean share of b >= ratio" (see :func:`ratio_at_least`)."""
    if _no_flips(a, column) or _no_flips(b, column):
        return Part(NOT_RUN, f"NOT RUN: no flip statistics for {what}")
    num = (a[f"{column}_ci_low"], a[f"{column}_ci_high"])
    den = (b[f"{column}_ci_low"], b[f"{column}_ci_high"])
    verdict, low, high = ratio_at_least(num, den, ratio)
    estimate = a[column] / b[column] if b[column] > 0 else math.inf
    bounds = f"[{low:.2f}, {high:.2f}]" if math.isfinite(low) else "[interval undefined: n<2]"
    text = (
        f"{what}: {_share_text(a, column)} / {_share_text(b, column)} = {estimate:.2f}x "
        f"{bounds} vs >= {ratio:g}x: {verdict}"
    )
    return Part(verdict, text, estimate, low, high, min(int(a["n"]), int(b["n"])))


def share_cut(a: pd.Series | None, b: pd.Series | None, column: str, margin: float, what: str) -> Part:
    """Part for "the mean share of a exceeds that of b by more than ``margin`` points", with the
    conservative interval [low_a - high_b, high_a - low_b] of the two cells' t-intervals (as
    :func:`~benchmark.claims.verdicts.ratio_at_least` bounds a ratio)."""
    if _no_flips(a, column) or _no_flips(b, column):
        return Part(NOT_RUN, f"NOT RUN: no flip statistics for {what}")
    low = a[f"{column}_ci_low"] - b[f"{column}_ci_high"]
    high = a[f"{column}_ci_high"] - b[f"{column}_ci_low"]
    estimate = a[column] - b[column]
    verdict = greater(low, high, margin)
    bounds = f"[{low:.2f}, {high:.2f}]" if math.isfinite(low) else "[interval undefined: n<2]"
    text = (
        f"{what}: {_share_text(a, column)} - {_share_text(b, column)} = {estimate:+.2f} points "
        f"{bounds} vs > {margin:g}: {verdict}"
    )
    return Part(verdict, text, estimate, low, high, min(int(a["n"]), int(b["n"])))
