"""Training curves for any cells: what a curves figure plots, and the per-epoch summary over seeds.

A curves figure (``benchmark.figures.curves_figure``) is one :class:`CurveSpec`: the per-epoch
metrics it plots (one panel column each, from the runs' ``metrics.csv``, :data:`METRICS`), the
variants it draws (one colour each, optionally in groups of panel columns, e.g. Bi-Real from
scratch and fine-tuned), the regimes and orderings it keeps, an optional full-precision line
and the band drawn around the mean. The cells (datasets, architectures, recipes, seeds) are the
runs the config's ``figures.<name>`` section gives; each (recipe, dataset, arch, regime) is a
row of panels.

:func:`summarize` is the pure function from the per-seed curves (``aggregate.read_curves``) to
what is drawn, one row per (dataset, arch, regime, variant, ordering, recipe, epoch, metric):
the number of seeds ``n``, the mean, the sample std, the 95% t-interval of the mean
(``benchmark.stats``: mean +- t_{0.975, n-1} s / sqrt(n)) and the band drawn (``band_low``,
``band_high``): the min-max range over seeds, or that t-interval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmark import stats
from benchmark.errors import UserError

MIN_MAX, T_INTERVAL = "min-max over seeds", "95% t-interval of the mean"
BANDS = (MIN_MAX, T_INTERVAL)
CELL = ["dataset", "arch", "regime", "variant", "ordering", "recipe"]
SUMMARY_COLUMNS = [*CELL, "epoch", "metric", "n", "mean", "std", "ci_low", "ci_high"]
SUMMARY_COLUMNS += ["band", "band_low", "band_high"]


@dataclasses.dataclass(frozen=True)
class Metric:
    """A per-epoch column of ``metrics.csv`` (docs/INTERFACES.md): its axis label, and whether
    every run records it (``required``: a run without it is a broken record) or only some
    methods do (NaN for the others, e.g. a full-precision run has no flip statistics)."""

    label: str
    required: bool = False


METRICS: dict[str, Metric] = {
    "test_acc": Metric("test accuracy, binary network (%)", required=True),
    "test_acc_as_trained": Metric("test accuracy as trained (%)", required=True),
    "train_acc": Metric("train accuracy (%)", required=True),
    "train_loss": Metric("train loss", required=True),
    "weight_frozen": Metric("binary weights frozen (fraction)"),
    "act_frozen": Metric("activations frozen (fraction)"),
    "never_flipped": Metric("weights never flipped (%)"),
    "flip_ratio": Metric("weights flipped per step (%)"),
    "ops_left": Metric("binary convolutions left per layer"),
    "ops_total_left": Metric("binary convolutions left (total)"),
}
ALWAYS_READ = "test_acc"  # the accuracy every verdict uses, in every curves CSV


def metric(name: str) -> Metric:
    """The metric ``name``; UserError listing the known ones."""
    if name not in METRICS:
        raise UserError(f"unknown curve metric '{name}' (known: {', '.join(METRICS)})")
    return METRICS[name]


@dataclasses.dataclass(frozen=True)
class CurveSpec:
    """One curves figure: per-epoch ``metrics`` (one panel column each) of ``variants`` (one
    colour each, in this order) in ``regimes`` and ``orderings`` (``none``: variants without
    an ordering), mean over seeds with ``band`` around it.

    ``groups``: (title, variants) per group of panel columns (each group gets every metric),
    e.g. from scratch and fine-tuned; empty: one group of all ``variants``. ``fp``: a
    full-precision variant drawn in every panel as a dashed black line (its runs are in the
    regime ``fp``). ``seed_lines``: draw every seed as a faint line too.
    """

    title: str
    metrics: tuple[str, ...]
    variants: tuple[str, ...]
    regimes: tuple[str, ...] = ("bnn",)
    orderings: tuple[str, ...] = ("forward", "none")
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fp: str | None = None
    band: str = MIN_MAX
    seed_lines: bool = False

    def __post_init__(self) -> None:
        for name in self.metrics:
            metric(name)
        if self.band not in BANDS:
            raise ValueError(f"band must be one of {BANDS}, not {self.band!r}")
        grouped = [v for _, group in self.groups for v in group]
        if self.groups and sorted(grouped) != sorted(self.variants):
            raise ValueError(f"groups {grouped} must partition the variants {list(self.variants)}")

    @property
    def columns(self) -> tuple[str, ...]:
        """The metrics read from each run: ``test_acc`` first, then the plotted ones."""
        return tuple(dict.fromkeys((ALWAYS_READ, *self.metrics)))

    @property
    def required(self) -> tuple[str, ...]:
        """The metrics read that every run's ``metrics.csv`` must have."""
        return tuple(m for m in self.columns if METRICS[m].required)

    def panel_groups(self, variants: Sequence[str] | None = None) -> list[tuple[str, tuple[str, ...]]]:
        """(title, variants) of each group of panel columns; ``variants`` given: one group of them."""
        if variants is not None:
            return [("", tuple(variants))]
        return list(self.groups) or [("", self.variants)]


def summarize(curves: pd.DataFrame, metrics: Sequence[str], band: str = MIN_MAX) -> pd.DataFrame:
    """The per-epoch summary over seeds (SUMMARY_COLUMNS, see the module docstring) of the given
    ``metrics`` of per-seed ``curves``; a seed that did not record a metric (NaN) is not counted,
    and an (epoch, metric) that no seed recorded has no row."""
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, not {band!r}")
    present = [m for m in metrics if m in curves.columns]
    if curves.empty or not present:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    long = curves.melt(id_vars=[*CELL, "seed", "epoch"], value_vars=present, var_name="metric")
    long = long.dropna(subset=["value"])
    rows = [
        _summary_row(key, group["value"].astype(float).to_numpy(), band)
        for key, group in long.groupby([*CELL, "epoch", "metric"], sort=False, dropna=False)
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _summary_row(key: tuple, values: np.ndarray, band: str) -> dict:
    s = stats.summarize(values)
    low, high = (float(values.min()), float(values.max())) if band == MIN_MAX else (s.ci_low, s.ci_high)
    row = dict(zip([*CELL, "epoch", "metric"], key, strict=True))
    row |= {"n": s.n, "mean": s.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high}
    return row | {"band": band, "band_low": low, "band_high": high}
