"""Verdicts from 95% intervals, and what a judged claim returns (parts and outcomes).

- ``a > b + margin``:  HOLDS when the interval of a - b lies above the margin, FAILS when
  it lies entirely below it, INCONCLUSIVE otherwise (also when an interval is undefined,
  i.e. a cell has a single seed);
- ``|a - b| <= k``:    HOLDS when the interval lies inside [-k, k], FAILS when it lies
  entirely outside, INCONCLUSIVE otherwise;
- a conjunction FAILS if any part fails, HOLDS if all hold, and otherwise takes the first
  of UNSUPPORTED, NOT RUN (a cell missing or with n = 0) and PENDING that any part has,
  else INCONCLUSIVE;
- ``a / b >= r`` (a ratio of two cells' means, for "an order of magnitude"): the ratio's
  interval is bounded conservatively by the two cells' 95% t-intervals,
  [low_a / high_b, high_a / low_b]; HOLDS when its lower end is >= r, FAILS when its upper
  end is < r, INCONCLUSIVE otherwise.

What cannot be judged yet, or ever, says why (the regression report,
:mod:`benchmark.regression`, tells these apart; the checks themselves only say NOT RUN):
NOT RUN (the grid lacks the cells), PENDING (the cells are in the grid, their runs have not
finished or the table does not count them yet) and UNSUPPORTED (the suite has no such
dataset, architecture, regime, variant or metric: the number can never come).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "HOLDS", "FAILS", "INCONCLUSIVE", "NOT RUN"
PENDING, UNSUPPORTED = "PENDING", "UNSUPPORTED"
# what keeps a conjunction from a verdict, the most lasting first
UNJUDGED = (UNSUPPORTED, NOT_RUN, PENDING)
NAN = float("nan")


def greater(low: float, high: float, margin: float = 0.0) -> str:
    """Verdict on "a - b > margin" from the interval [low, high] of a - b."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if low > margin:
        return HOLDS
    return FAILS if high < margin else INCONCLUSIVE


def within(low: float, high: float, k: float) -> str:
    """Verdict on "|a - b| <= k" from the interval [low, high] of a - b."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if -k <= low and high <= k:
        return HOLDS
    return FAILS if high < -k or low > k else INCONCLUSIVE


def conjunction(verdicts: Iterable[str]) -> str:
    """FAILS if any part fails, HOLDS if all hold, else the first of :data:`UNJUDGED` that a
    part has (NOT RUN for no parts), else INCONCLUSIVE."""
    verdicts = list(verdicts)
    if FAILS in verdicts:
        return FAILS
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if not verdicts:
        return NOT_RUN
    return next((v for v in UNJUDGED if v in verdicts), INCONCLUSIVE)


def ratio_at_least(
    num: tuple[float, float], den: tuple[float, float], ratio: float
) -> tuple[str, float, float]:
    """Verdict on "a / b >= ratio" from the intervals ``num`` of a and ``den`` of b (both
    non-negative quantities), with the conservative bounds [low_a / high_b, high_a / low_b]."""
    values = (*num, *den)
    if not all(math.isfinite(v) for v in values):
        return INCONCLUSIVE, NAN, NAN
    (a_low, a_high), (b_low, b_high) = num, den
    low = a_low / b_high if b_high > 0 else (math.inf if a_low > 0 else 0.0)
    high = a_high / b_low if b_low > 0 else (math.inf if a_high > 0 else 0.0)
    if low >= ratio:
        return HOLDS, low, high
    return (FAILS if high < ratio else INCONCLUSIVE), low, high


@dataclass(frozen=True)
class Part:
    """One comparison inside a claim: its verdict, estimate and interval, and what it said;
    ``df``: the degrees of freedom of a t-interval of accuracies in points (a Welch contrast, a
    one-sample interval), NaN for other intervals (shares of weights, counts, conservative
    bounds), whose seeds the report does not project; ``cells``: for a t-interval, the run
    directories without seeds of the cells it compares (``cells.directories``)."""

    verdict: str
    text: str
    estimate: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    n: int = 0
    df: float = NAN
    cells: tuple[str, ...] = ()


PAPER_FORM, LAPTOP_FORM = "paper", "laptop"


@dataclass(frozen=True)
class Outcome:
    """A claim judged in one scope (e.g. ``digits/resnet18``); ``form``: which form of the claim
    judged it, the paper's (the default) or its laptop form (claims.yaml ``laptop:``,
    :mod:`benchmark.claims.forms`)."""

    scope: str
    parts: list[Part]
    form: str = PAPER_FORM

    @property
    def verdict(self) -> str:
        return conjunction(p.verdict for p in self.parts)


def not_run(text: str) -> Outcome:
    """The single outcome of a claim that could not be judged at all (scope ``all``)."""
    return Outcome("all", [Part(NOT_RUN, f"NOT RUN: {text}")])
