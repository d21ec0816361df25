"""Expand a workflow config into the runs each table and figure needs (DESIGN 6-7).

The Snakemake rules call only the functions here, so the grid logic is plain, importable
and tested (``tests/test_grid.py``). This module must stay free of heavy imports (no
torch): Snakemake imports it every time it builds a DAG.

Grid rules:

- A table or figure section (``tables.<name>``, ``figures.<name>``) names the variants,
  orderings, architectures and regimes it needs; ``datasets`` and ``seeds`` default to the
  top-level lists.
- A variant whose method is in ``ordered_methods`` is crossed with the section's
  orderings; any other variant runs once with the ordering ``none`` (STE is never run
  four times).
- A variant whose method is in ``full_precision_methods`` runs in the regime ``fp`` only,
  once per dataset, architecture and seed; every other variant runs in the section's
  regimes (``bnn``, ``bwn``).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from itertools import product
from typing import Any

from benchmark.errors import UserError

RUN_DIR = "results/runs/{recipe}/{dataset}/{arch}/{regime}/{variant}/{ordering}/seed{seed}"
NO_ORDERING = "none"
FP_REGIME = "fp"
SECTIONS = ("tables", "figures")
AXES = ("datasets", "archs", "regimes", "variants", "orderings", "seeds")

Config = Mapping[str, Any]


class ConfigError(UserError):
    """A config that passes the schema but is inconsistent; the message names the key."""


@dataclass(frozen=True, order=True)
class Run:
    """The identity of one training run (DESIGN 6); its directory is a pure function of it."""

    recipe: str
    dataset: str
    arch: str
    regime: str
    variant: str
    ordering: str
    seed: int

    @property
    def directory(self) -> str:
        """The run directory, relative to the working directory."""
        return RUN_DIR.format(**asdict(self))

    @property
    def result(self) -> str:
        """The run's ``result.json``: the file that exists only once the run has finished."""
        return f"{self.directory}/result.json"


def method_of(config: Config, variant: str) -> str:
    """The method a variant runs."""
    return config["variants"][variant]["method"]


def has_ordering(config: Config, variant: str) -> bool:
    """Whether the variant's method freezes layers in an order (is crossed with orderings)."""
    return method_of(config, variant) in config["ordered_methods"]


def is_full_precision(config: Config, variant: str) -> bool:
    """Whether the variant's method binarizes nothing (runs in the regime ``fp`` only)."""
    return method_of(config, variant) in config["full_precision_methods"]


def section_axes(config: Config, section: str, name: str) -> dict[str, list]:
    """The grid axes of ``config[section][name]``, with omitted axes taken from the top level."""
    grid = config[section][name]
    return {axis: list(grid.get(axis, config[axis])) for axis in AXES}


def expand(config: Config, axes: Mapping[str, Iterable], recipe: str | None = None) -> list[Run]:
    """All runs of one grid, sorted and without duplicates (see the module docstring)."""
    recipe = recipe or config["recipe"]
    runs: set[Run] = set()
    for variant in axes["variants"]:
        regimes = [FP_REGIME] if is_full_precision(config, variant) else axes["regimes"]
        orderings = axes["orderings"] if has_ordering(config, variant) else [NO_ORDERING]
        for dataset, arch, regime, ordering, seed in product(
            axes["datasets"], axes["archs"], regimes, orderings, axes["seeds"]
        ):
            runs.add(Run(recipe, dataset, arch, regime, variant, ordering, int(seed)))
    return sorted(runs)


def section_runs(config: Config, section: str, name: str) -> list[Run]:
    """The runs that the table or figure ``config[section][name]`` is built from."""
    return expand(config, section_axes(config, section, name))


def section_results(config: Config, section: str, name: str) -> list[str]:
    """The ``result.json`` paths of :func:`section_runs` (a rule's input)."""
    return [run.result for run in section_runs(config, section, name)]


def all_runs(config: Config) -> list[Run]:
    """Every run that some table or figure of the config needs, without duplicates."""
    runs: set[Run] = set()
    for section in SECTIONS:
        for name in config[section]:
            runs.update(section_runs(config, section, name))
    return sorted(runs)


def width_for(config: Config, arch: str) -> float:
    """The width multiplier of ``arch``: a global number or a per-architecture mapping."""
    width = config["width"]
    if isinstance(width, Mapping):
        if arch not in width:
            raise ConfigError(f"width: no width multiplier for arch '{arch}' (has {sorted(width)})")
        return float(width[arch])
    return float(width)


def format_value(value: Any) -> str:
    """A config value as the CLI's ``--set key=value`` expects it (YAML-style booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def set_args(values: Mapping[str, Any], prefix: str = "") -> str:
    """``--set`` flags for ``values``, shell-quoted, in a stable order."""
    return " ".join(
        f"--set {shlex.quote(f'{prefix}{key}={format_value(value)}')}"
        for key, value in sorted(values.items())
    )


def recipe_args(config: Config, recipe: str) -> str:
    """``--set recipe.<field>=<value>`` for every field of the named recipe."""
    if recipe not in config["recipes"]:
        raise ConfigError(f"recipe: unknown recipe '{recipe}' (has {sorted(config['recipes'])})")
    return set_args(config["recipes"][recipe], prefix="recipe.")


def variant_args(config: Config, variant: str) -> str:
    """``--set`` flags for a variant's method hyperparameter overrides."""
    return set_args(config["variants"][variant].get("set") or {})


def data_root(config: Config) -> str | None:
    """The data root: ``data_root`` from config, else ``$BNNBENCH_DATA``, else None."""
    return config.get("data_root") or os.environ.get("BNNBENCH_DATA") or None


def data_root_args(config: Config) -> str:
    """``--data-root DIR`` when a data root is known, else nothing (bundled data only)."""
    root = data_root(config)
    return f"--data-root {shlex.quote(str(root))}" if root else ""


def check_config(config: Config) -> None:
    """Consistency checks the JSON schema cannot express; raises :class:`ConfigError`.

    Every name a table or figure uses must be declared at the top level, the selected
    recipe must exist, and a per-architecture width must cover every architecture.
    """
    if config["recipe"] not in config["recipes"]:
        raise ConfigError(f"recipe: '{config['recipe']}' is not in recipes (has {sorted(config['recipes'])})")
    for variant in config["variants"]:
        if is_full_precision(config, variant) and has_ordering(config, variant):
            raise ConfigError(
                f"variants.{variant}: method '{method_of(config, variant)}' is listed in both "
                "ordered_methods and full_precision_methods"
            )
    for section in SECTIONS:
        for name, grid in config[section].items():
            for axis in AXES:
                _check_subset(f"{section}.{name}.{axis}", grid.get(axis, []), axis, config)
    for arch in config["archs"]:
        width_for(config, arch)


def _check_subset(key: str, values: Iterable, axis: str, config: Config) -> None:
    declared = config[axis] if axis != "variants" else list(config["variants"])
    unknown = [value for value in values if value not in declared]
    if unknown:
        raise ConfigError(f"{key}: {unknown} not declared in the top-level {axis} {declared}")
