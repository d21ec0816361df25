"""The power of the regression report's claim comparisons: how wide their intervals are, how many
seeds per cell would narrow them to a target, and which cells those seeds go to (issue 13).

A comparison's half-width is the smallest difference it could have detected; ``seeds_needed``
projects it to more seeds with :func:`benchmark.stats.seeds_for_half_width`, assuming the cells'
standard deviations stay as measured (a planning number: cells whose runs have heavy tails are
priced only once the tails have been seen, docs/LAPTOP_STUDY.md "D15").
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from benchmark import claims as cl
from benchmark import stats

NAN = float("nan")
CELL_SEPARATOR = ";"  # between the cells of the report's ``cells`` column


def half_width(low: float, high: float) -> float:
    """Half the width of a 95% interval: the smallest difference its comparison could have
    detected (NaN when the interval is undefined, e.g. a single seed)."""
    return (high - low) / 2 if math.isfinite(low) and math.isfinite(high) else NAN


def seeds_needed(parts: Iterable[cl.Part], target: float) -> float:
    """The most seeds per cell that any of ``parts`` needs for its 95% interval to be at most
    ``target`` points wide, were its cells' standard deviations to stay as observed
    (:func:`benchmark.stats.seeds_for_half_width`; inf: over 1,000). Only t-intervals of
    accuracies count (a part with ``df``); NaN when none of them has an interval (a cell with
    one seed) or ``target`` is NaN (no ``power.half_width_pp`` in claims.yaml)."""
    needed = [
        stats.seeds_for_half_width(half_width(p.ci_low, p.ci_high), p.n, p.df, target)
        for p in parts
        if math.isfinite(p.df)
    ]
    return max((k for k in needed if not math.isnan(k)), default=NAN)


def compared_cells(parts: Iterable[cl.Part]) -> str:
    """The run directories without seeds (``<recipe>/.../<ordering>``) of the cells that the
    comparisons of accuracies among ``parts`` read, each once, in order, joined by
    :data:`CELL_SEPARATOR` (``tools.seed_cost`` prices their missing seeds)."""
    found = [cell for p in parts if math.isfinite(p.df) for cell in p.cells]
    return CELL_SEPARATOR.join(dict.fromkeys(found))


def seeds_text(value: float) -> str:
    """``seeds_needed`` as the report prints it: an integer, ``>1000``, or blank."""
    if math.isnan(value):
        return ""
    return ">1000" if math.isinf(value) else str(int(value))
