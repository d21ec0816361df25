"""What the suite can reproduce at all, and what a config's grid is producing: the facts that
tell the regression report's UNSUPPORTED, NOT RUN and PENDING apart (:mod:`benchmark.regression`).

- :class:`Support`: the registered datasets and architectures, the regimes the registered
  methods train in, the metrics some registered table tabulates, the registered methods and
  the variants the configs declare (each with the method it runs). A reported number outside
  it is UNSUPPORTED, with the reason: no grid can ever produce it.
- :class:`Grid`: the runs each table and figure of a config needs (:mod:`benchmark.grid`) and
  which of them have finished (their ``result.json`` exists). A cell in the grid whose runs have
  not all finished is PENDING; a cell that is not in it is NOT RUN.

Pure: the caller (:func:`benchmark.reporting.run_check`) reads the registries, configs and
files. No torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmark import grid
from benchmark.identity import NAMES, NO_ORDERING, RunId

FORWARD = "forward"  # a reported number is the forward ordering's cell (or one without ordering)


@dataclass(frozen=True)
class Support:
    """What the suite can reproduce. ``variants`` maps each variant some config declares to
    its method (None: variants are not checked)."""

    datasets: frozenset[str]
    archs: frozenset[str]
    regimes: frozenset[str]
    metrics: frozenset[str]
    methods: frozenset[str]
    variants: Mapping[str, str] | None = None

    def reason(self, row: Mapping[str, Any]) -> str | None:
        """Why no grid can produce the cell of a reported row (its ``dataset``, ``arch``,
        ``regime``, ``metric`` and ``variant``), or None when one can."""
        checks = (
            ("dataset", self.datasets, "the suite has no dataset"),
            ("arch", self.archs, "the suite has no architecture"),
            ("regime", self.regimes, "no method trains in the regime"),
            ("metric", self.metrics, "no table tabulates the metric"),
        )
        for key, known, what in checks:
            if str(row[key]) not in known:
                return f"{what} '{row[key]}' (has {', '.join(sorted(known))})"
        return self.variant_reason(str(row["variant"]))

    def variant_reason(self, variant: str) -> str | None:
        """Why the suite cannot train ``variant`` (a declared variant, or a method by its name),
        or None when it can."""
        if self.variants is None:
            return None
        method = self.variants.get(variant, variant)
        if method in self.methods:
            return None
        if variant in self.variants:
            return f"variant '{variant}' runs the method '{method}', which is not registered"
        return f"the suite has no variant or method '{variant}' (no config declares it)"


@dataclass(frozen=True)
class Grid:
    """The runs of each table and figure of a config, by name; which of them have finished; and
    where the config comes from (``source``, named in the report)."""

    sections: Mapping[str, tuple[RunId, ...]]
    finished: frozenset[RunId]
    source: str = "the config"

    def runs(self, name: str) -> tuple[RunId, ...] | None:
        """The runs of table or figure ``name``; None when the config has no such section."""
        return self.sections.get(name)

    def progress(self, runs: Iterable[RunId]) -> tuple[int, int]:
        """(finished, total) of ``runs``."""
        runs = list(runs)
        return sum(run in self.finished for run in runs), len(runs)


def grid_of(config: Mapping[str, Any], finished: Callable[[RunId], bool], source: str = "the config") -> Grid:
    """The grid of a workflow config: the runs of every table and figure (a table's name wins
    over a figure's of the same name), and those for which ``finished`` says so."""
    sections: dict[str, tuple[RunId, ...]] = {}
    for section in grid.SECTIONS:
        for name in config[section]:
            sections.setdefault(name, tuple(grid.section_runs(config, section, name)))
    every = {run for runs in sections.values() for run in runs}
    return Grid(sections, frozenset(run for run in every if finished(run)), source)


def cell_runs(runs: Iterable[RunId], row: Mapping[str, Any], variant: str, recipe: str = "") -> list[RunId]:
    """The runs of the cell a reported ``row`` names (its dataset, arch and regime) for
    ``variant``: ordering forward or none, any seed, and ``recipe`` when one is given."""
    key = (row["dataset"], row["arch"], row["regime"], variant)
    return [
        run
        for run in runs
        if (run.dataset, run.arch, run.regime, run.variant) == key
        and run.ordering in (FORWARD, NO_ORDERING)
        and (not recipe or run.recipe == recipe)
    ]


def cells_frame(runs: Iterable[RunId]) -> pd.DataFrame:
    """One row per cell of ``runs`` (their identity without the seed): the columns the claims'
    checks find their scopes in (``benchmark.claims.Check.scopes``)."""
    cells = sorted({tuple(getattr(run, name) for name in NAMES) for run in runs})
    return pd.DataFrame(cells, columns=list(NAMES))


def scope_matches(values: Sequence[str], scope: str) -> bool:
    """Whether ``scope`` (``a/b/c``; a part may list alternatives, ``x|y``) names values among
    ``values`` in the same order: a claim's scope names identity values in identity order
    (``digits/resnet18``, ``mini/digits/resnet18``), so a run, or a finer scope, lies in it."""
    remaining = iter(values)
    return all(any(value in part.split("|") for value in remaining) for part in scope.split("/"))


def identity_values(run: RunId) -> tuple[str, ...]:
    """A run's identity values without the seed, in identity order."""
    return tuple(getattr(run, name) for name in NAMES)
