"""Sweeps: final accuracy along one or two named hyperparameter axes (issue 11, item 2).

A sweep figure (``benchmark.sweep_figures``) is one :class:`SweepSpec`: a few :class:`Panel`\\ s,
each plotting the final top-1 test accuracy of the fully binary network against an axis ``x``
(a line per series, mean ± sample std over seeds, as OvSW's Fig. 3 draws it) or against two
axes ``x`` and ``y`` (a heatmap per series, as the StoMPP paper's Fig. 2a and Fig. 14 draw it).

An axis is a *field of the runs' resolved config* (``config.json``, docs/INTERFACES.md), read
back from each run, never typed into the figure: ``recipe.<key>`` is a recipe field (e.g.
``recipe.epochs``, StoMPP Fig. 3 and OvSW Fig. 3c), ``method`` the method, any other name a
hyperparameter of the method (``method_config``: ``schedule``, ``refresh``, ``scheme``,
``ags_lambda``, ``sad_gamma``). A *series* is the runs of the variants matching its name
patterns (``fnmatch``); a *reference* is a series drawn as a horizontal line with its ±std band
(e.g. vanilla OvSW beside the AGS lambda sweep).

Which runs a panel may mix (the refusal the issue asks for): within one panel, series and
(dataset, arch, regime), runs must have the same resolved config except on the panel's axes and
the seed: a sweep never compares two recipes (or two settings of a hyperparameter) that differ
along anything but its declared axes, so a table that spans recipes does so only along a swept
recipe field. A panel without a recipe axis reads only the runs of the sweep's base recipe (the
recipe of its config section, ``bnnbench figure --recipe``), so a run trained under a longer
recipe for another panel (the epochs panel) never lands in it.

:func:`summarize` is the sweep's table, one row per (panel, dataset, arch, regime, series, x,
y): n, mean, sample std and the 95% t-interval of the mean over seeds (``benchmark.stats``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark import stats
from benchmark.errors import UserError

RECIPE_PREFIX = "recipe."
CELL = ["dataset", "arch", "regime"]
DATA_COLUMNS = ["panel", *CELL, "series", "reference", "x", "y", "variant", "recipe", "seed"]
DATA_COLUMNS += ["test_acc", "best_test_acc"]
SUMMARY_KEYS = ["panel", *CELL, "series", "reference", "x", "y"]
SUMMARY_COLUMNS = [*SUMMARY_KEYS, "n", "mean", "std", "ci_low", "ci_high", "variants", "recipes"]
# config.json keys that never distinguish two runs of one sweep point (identity and bookkeeping)
_IGNORED = {"seed", "variant", "config_hash", "recipe.name"}


@dataclasses.dataclass(frozen=True)
class Axis:
    """A swept field (see the module docstring) with its axis label; ``order``: the order of
    categorical values (others follow, sorted); numbers are sorted numerically."""

    field: str
    label: str
    order: tuple[str, ...] = ()

    @property
    def is_recipe(self) -> bool:
        return self.field.startswith(RECIPE_PREFIX)

    def sort(self, values: Sequence[Any]) -> list[Any]:
        """The distinct ``values`` in display order."""
        distinct = list(dict.fromkeys(values))
        if all(_is_number(v) for v in distinct):
            return sorted(distinct, key=float)
        known = [v for v in self.order if v in distinct]
        return known + sorted((v for v in distinct if v not in known), key=str)


@dataclasses.dataclass(frozen=True)
class Series:
    """A line (or heatmap) of a panel: the runs of the variants matching ``patterns``."""

    label: str
    patterns: tuple[str, ...]

    def matches(self, variant: str) -> bool:
        return any(fnmatch.fnmatchcase(variant, p) for p in self.patterns)


@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel column: ``series`` against ``x`` (lines) or ``x`` and ``y`` (one heatmap per
    series); ``references``: horizontal lines (line panels only)."""

    title: str
    x: Axis
    series: tuple[Series, ...]
    y: Axis | None = None
    references: tuple[Series, ...] = ()

    def __post_init__(self) -> None:
        if self.y is not None and self.references:
            raise ValueError(f"panel {self.title!r}: a heatmap has no reference lines")

    @property
    def axes(self) -> tuple[Axis, ...]:
        return (self.x,) if self.y is None else (self.x, self.y)

    @property
    def pins_recipe(self) -> bool:
        """Whether the panel reads only the base recipe's runs (no recipe field is swept)."""
        return not any(axis.is_recipe for axis in self.axes)

    def series_of(self, variant: str) -> tuple[Series, bool] | None:
        """The series (and whether it is a reference) that ``variant`` belongs to, if any."""
        found = [(s, False) for s in self.series if s.matches(variant)]
        found += [(s, True) for s in self.references if s.matches(variant)]
        if len(found) > 1:
            labels = ", ".join(s.label for s, _ in found)
            raise UserError(
                f"sweep panel {self.title!r}: variant {variant!r} matches several series ({labels})"
            )
        return found[0] if found else None


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """One sweep figure and its table: a title and its panels (one panel column each)."""

    title: str
    panels: tuple[Panel, ...]


# --------------------------------------------------------------------------- reading (edge)


def read_config(result_path: str | Path) -> dict[str, Any]:
    """The resolved ``config.json`` beside a run's ``result.json``, flattened (:func:`flatten`)."""
    path = Path(result_path).parent / "config.json"
    try:
        return flatten(json.loads(path.read_text()))
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot read the run's resolved config ({err}); rerun the run") from err


def flatten(config: Mapping[str, Any]) -> dict[str, Any]:
    """A ``config.json`` as one mapping of fields: the top-level keys, ``recipe.<key>`` for the
    recipe and the method's hyperparameters (``method_config``) under their own names."""
    flat = {k: v for k, v in config.items() if k not in ("recipe", "method_config", "method_overrides")}
    flat |= {f"{RECIPE_PREFIX}{k}": v for k, v in (config.get("recipe") or {}).items()}
    return flat | {k: v for k, v in (config.get("method_config") or {}).items() if k not in flat}


def read_sweep(runs: pd.DataFrame, spec: SweepSpec, base_recipe: str | None = None) -> pd.DataFrame:
    """The sweep's data (DATA_COLUMNS): one row per complete run and panel it belongs to, its axis
    values read from its ``config.json``; checked with :func:`check_panel`."""
    done = runs[runs["complete"].astype(bool)] if not runs.empty else runs
    configs = {row.path: read_config(row.path) for row in done.itertuples(index=False)}
    return assign(done, configs, spec, base_recipe)


# --------------------------------------------------------------------------- pure functions


def assign(
    runs: pd.DataFrame, configs: Mapping[str, Mapping[str, Any]], spec: SweepSpec, base_recipe: str | None
) -> pd.DataFrame:
    """The rows of :func:`read_sweep` from the complete ``runs`` and their flattened configs
    (keyed by the runs' ``path``)."""
    rows = []
    for panel in spec.panels:
        members = []
        for run in runs.itertuples(index=False):
            found = panel.series_of(str(run.variant))
            if found is None or (panel.pins_recipe and base_recipe and run.recipe != base_recipe):
                continue
            members.append((run, found, configs[run.path]))
        check_panel(panel, [(s.label, ref, run, config) for run, (s, ref), config in members])
        for run, (series, reference), config in members:
            values = [field(config, axis.field) for axis in panel.axes]
            row = {"panel": panel.title, **{c: getattr(run, c) for c in CELL}}
            row |= {"series": series.label, "reference": reference, "x": values[0]}
            row |= {"y": values[1] if len(values) > 1 else None}
            row |= {k: getattr(run, k) for k in ("variant", "recipe", "seed", "test_acc", "best_test_acc")}
            rows.append(row)
    return pd.DataFrame(rows, columns=DATA_COLUMNS)


def field(config: Mapping[str, Any], name: str) -> Any:
    """The value of the field ``name`` in a flattened config; UserError naming the known fields."""
    if name not in config:
        known = ", ".join(sorted(k for k in config if k not in _IGNORED))
        raise UserError(f"sweep axis {name!r} is not a field of the run's config (fields: {known})")
    return config[name]


def check_panel(panel: Panel, members: Sequence[tuple[str, bool, Any, Mapping[str, Any]]]) -> None:
    """Refuse a panel whose runs of one series and cell differ along anything but its axes and the
    seed (``members``: (series label, is reference, run, flattened config)), or that has one seed
    twice at one point."""
    swept = {axis.field for axis in panel.axes}
    groups: dict[tuple, list[tuple[Any, Mapping[str, Any]]]] = {}
    for label, reference, run, config in members:
        key = (label, reference, *(getattr(run, c) for c in CELL))
        groups.setdefault(key, []).append((run, config))
    for (label, reference, *cell), group in groups.items():
        ignored = _IGNORED if reference else _IGNORED | swept
        differ = _differing(group, ignored)
        if differ:
            along = "a reference is one point" if reference else f"its axes are {', '.join(sorted(swept))}"
            raise UserError(
                f"sweep panel {panel.title!r}, series {label!r} on {'/'.join(map(str, cell))}: its runs "
                f"differ in {differ}, which is not swept ({along}); a sweep compares runs only along its "
                "axes: give these runs one value of it, or make it an axis"
            )
        points = [(tuple(cfg.get(f) for f in sorted(swept)), run.seed) for run, cfg in group]
        if len(points) != len(set(points)):
            raise UserError(
                f"sweep panel {panel.title!r}, series {label!r} on {'/'.join(map(str, cell))}: two runs "
                "share a seed at one point (two variants with the same settings); keep one of them"
            )


def _differing(group: Sequence[tuple[Any, Mapping[str, Any]]], ignored: set[str]) -> str:
    """``field (value, value, ...)`` for the fields whose values differ within ``group``."""
    names = sorted({k for _, cfg in group for k in cfg} - ignored)
    out = []
    for name in names:
        values = list(dict.fromkeys(json.dumps(cfg.get(name), sort_keys=True) for _, cfg in group))
        if len(values) > 1:
            out.append(f"{name} ({', '.join(values)})")
    return "; ".join(out)


def summarize(data: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """The sweep's table (SUMMARY_COLUMNS): per panel, cell, series and point, the final top-1
    over seeds; rows in the spec's panel and series order, axis values in axis order."""
    tables = []
    for panel in spec.panels:
        part = data[data["panel"] == panel.title]
        labels = [s.label for s in (*panel.series, *panel.references)]
        rows = []
        for key, group in part.groupby([*CELL, "series", "reference"], sort=False):
            xs = panel.x.sort(group["x"].to_list())
            ys = panel.y.sort(group["y"].to_list()) if panel.y else [None]
            for y in ys:
                for x in xs:
                    point = group[(group["x"] == x) & (_same(group["y"], y))]
                    if not point.empty:
                        rows.append(_summary_row(panel.title, key, x, y, point))
        rows.sort(key=lambda row: labels.index(row["series"]))  # stable: cells keep their order
        tables.append(pd.DataFrame(rows, columns=SUMMARY_COLUMNS))
    nonempty = [t for t in tables if not t.empty]
    return pd.concat(nonempty, ignore_index=True) if nonempty else pd.DataFrame(columns=SUMMARY_COLUMNS)


def _same(column: pd.Series, value: Any) -> pd.Series:
    return column.isna() if value is None else column == value


def _summary_row(panel: str, key: tuple, x: Any, y: Any, point: pd.DataFrame) -> dict:
    *cell, series, reference = key
    s = stats.summarize(point["test_acc"].astype(float).to_numpy())
    row = {"panel": panel, **dict(zip(CELL, cell, strict=True)), "series": series, "reference": reference}
    row |= {"x": x, "y": y, "n": s.n, "mean": s.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high}
    return row | {
        "variants": " ".join(sorted(set(point["variant"]))),
        "recipes": " ".join(sorted(set(point["recipe"]))),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
