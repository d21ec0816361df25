"""Expand a workflow config into the runs each table and figure needs (DESIGN 6-7).

The Snakemake rules call only the functions here, in ``benchmark.job_args`` (the flags of one
train job) and in ``benchmark.config_checks`` (what the Snakefile checks before it builds a DAG),
so the grid logic is plain, importable and tested (``tests/test_grid.py``). These modules must
stay free of heavy imports (no torch): Snakemake imports them every time it builds a DAG.

Grid rules:

- A table or figure section (``tables.<name>``, ``figures.<name>``) names the variants,
  orderings, architectures and regimes it needs; ``datasets`` and ``seeds`` default to the
  top-level lists. A variant may be given as a shell-style pattern (``stompp_sweep_*``): the
  declared variants it matches (a sweep's points).
- What a variant's method can do is declared by the method itself (``benchmark.facts``):
- A variant whose method has orderings (StoMPP and its hybrids) is crossed with the
  section's orderings that it has; any other variant runs once with the ordering ``none``
  (STE is never run four times).
- A variant whose method is full precision runs in the regime ``fp`` only, once per
  dataset, architecture and seed; every other variant runs in the section's regimes
  (``bnn``, ``bwn``) that its method supports (the hybrids exist for BNNs only, so a
  ``bwn`` grid has no hybrid runs).
- A section trains with its ``recipe`` (default: the top-level ``recipe``). A section
  made of ``parts`` (a list of such grids, e.g. a peer paper's main table on CIFAR-10 and
  its ablation on CIFAR-100 under another recipe) needs the union of its parts' runs; its
  own grid keys are defaults for its parts.
- A variant with ``init_from`` starts each of its runs from the final weights of another
  variant's run of the same dataset, architecture and seed (:func:`init_source`); that run
  is the train job's input, so it is trained first.
- ``evals.<figure>`` (``every``, ``subset``) makes the runs of that figure section evaluate
  every N steps too (``job_args.eval_args``: ``bnnbench train --eval-every --eval-subset``); a
  run's identity and hash stay the same, its ``evals.csv`` is added.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from itertools import product
from typing import Any

from benchmark import facts
from benchmark.errors import UserError
from benchmark.identity import FP_REGIME, NO_ORDERING, RunId

SECTIONS = ("tables", "figures")
AXES = ("datasets", "archs", "regimes", "variants", "orderings", "seeds")
BINARY_REGIMES = ("bnn", "bwn")

Config = Mapping[str, Any]


class ConfigError(UserError):
    """A config that passes the schema but is inconsistent; the message names the key."""


def method_of(config: Config, variant: str) -> str:
    """The method a variant runs."""
    return config["variants"][variant]["method"]


def orderings_of(config: Config, variant: str) -> tuple[str, ...]:
    """The orderings the variant's method can freeze in (empty: it has no ordering)."""
    return facts.of(method_of(config, variant)).orderings


def has_ordering(config: Config, variant: str) -> bool:
    """Whether the variant's method freezes layers in an order (is crossed with orderings)."""
    return bool(orderings_of(config, variant))


def is_full_precision(config: Config, variant: str) -> bool:
    """Whether the variant's method binarizes nothing (runs in the regime ``fp`` only)."""
    return facts.of(method_of(config, variant)).full_precision


def supported_regimes(config: Config, variant: str) -> tuple[str, ...]:
    """The binarizing regimes the variant's method supports."""
    return tuple(r for r in facts.of(method_of(config, variant)).regimes if r in BINARY_REGIMES)


def section_parts(config: Config, section: str, name: str) -> list[dict[str, Any]]:
    """The grids of ``config[section][name]``: its ``parts``, each over the section's own grid
    keys (the parts' defaults), or the section itself; name patterns in ``variants`` expanded
    (:func:`expand_variants`)."""
    entry = config[section][name]
    defaults = {key: value for key, value in entry.items() if key != "parts"}
    grids = [{**defaults, **part} for part in entry["parts"]] if "parts" in entry else [dict(entry)]
    for grid in grids:
        if "variants" in grid:
            grid["variants"] = expand_variants(config, grid["variants"], f"{section}.{name}.variants")
    return grids


def expand_variants(config: Config, names: Iterable[str], where: str) -> list[str]:
    """A grid's variants with each shell-style pattern (``stompp_sweep_*``, ``fnmatch``) replaced
    by the declared variants it matches, in declaration order, without repeats; a pattern that
    matches none is a ConfigError (a plain name is checked later, with the other axes)."""
    out: list[str] = []
    for name in names:
        if not any(c in str(name) for c in "*?["):
            out.append(name)
            continue
        matched = [v for v in config["variants"] if fnmatch.fnmatchcase(v, name)]
        if not matched:
            raise ConfigError(
                f"{where}: the pattern '{name}' matches no variant (has {sorted(config['variants'])})"
            )
        out += matched
    return list(dict.fromkeys(out))


def grid_axes(config: Config, grid: Mapping[str, Any]) -> dict[str, list]:
    """The axes of one grid, with omitted axes taken from the top level."""
    return {axis: list(grid.get(axis, config[axis])) for axis in AXES}


def section_axes(config: Config, section: str, name: str) -> dict[str, list]:
    """The grid axes of a single-grid section (see :func:`section_parts` for sections with parts)."""
    return grid_axes(config, section_parts(config, section, name)[0])


def grid_recipe(config: Config, grid: Mapping[str, Any]) -> str:
    """The recipe a grid trains with: its own ``recipe``, else the top-level one."""
    return str(grid.get("recipe") or config["recipe"])


def expand(config: Config, axes: Mapping[str, Iterable], recipe: str | None = None) -> list[RunId]:
    """All runs of one grid, sorted and without duplicates (see the module docstring)."""
    recipe = recipe or config["recipe"]
    runs: set[RunId] = set()
    for variant in axes["variants"]:
        if is_full_precision(config, variant):
            regimes = [FP_REGIME]
        else:
            supported = supported_regimes(config, variant)
            regimes = [r for r in axes["regimes"] if r in supported]
        own = orderings_of(config, variant)
        orderings = [o for o in axes["orderings"] if o in own] if own else [NO_ORDERING]
        for dataset, arch, regime, ordering, seed in product(
            axes["datasets"], axes["archs"], regimes, orderings, axes["seeds"]
        ):
            runs.add(RunId(recipe, dataset, arch, regime, variant, ordering, int(seed)))
    return sorted(runs)


def section_runs(config: Config, section: str, name: str) -> list[RunId]:
    """The runs that the table or figure ``config[section][name]`` is built from."""
    runs: set[RunId] = set()
    for grid in section_parts(config, section, name):
        runs.update(expand(config, grid_axes(config, grid), grid_recipe(config, grid)))
    return sorted(runs)


def section_results(config: Config, section: str, name: str) -> list[str]:
    """The ``result.json`` paths of :func:`section_runs` (a rule's input)."""
    return [run.result for run in section_runs(config, section, name)]


def all_runs(config: Config) -> list[RunId]:
    """Every run that some table or figure of the config needs, without duplicates."""
    runs: set[RunId] = set()
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


def zero_init_for(config: Config, arch: str) -> bool:
    """Whether ``arch``'s residual branches start at zero (listed in ``zero_init_residual``)."""
    return arch in (config.get("zero_init_residual") or [])


def eval_settings(config: Config, run: RunId) -> tuple[int, int]:
    """(every, subset) of a run's evaluations every N steps: those of the ``evals`` entries
    whose figure section needs the run (the same for all of them, ``config_checks.check_evals``);
    (0, 0) for any other run."""
    found = {(0, 0)}
    for name, entry in (config.get("evals") or {}).items():
        every = int(entry.get("every", 0))
        if every and run in section_runs(config, "figures", name):
            found.add((every, int(entry.get("subset", 0))))
    return max(found)


def run_of(wildcards: Any) -> RunId:
    """The run a train job's wildcards name."""
    names = ("recipe", "dataset", "arch", "regime", "variant", "ordering")
    return RunId(*(wildcard(wildcards, n) for n in names), int(wildcard(wildcards, "seed")))


def init_source(config: Config, run: RunId) -> RunId | None:
    """The run whose final weights ``run`` starts from: its variant's ``init_from`` names a
    variant (and optionally its recipe, regime and ordering), and the source is that variant's
    run of the same dataset, architecture and seed. None for a run trained from scratch.

    Defaults: the same recipe; regime ``fp`` for a full-precision source, else the run's own;
    the source method's first ordering (``none`` if it has none)."""
    init = config["variants"][run.variant].get("init_from")
    if not init:
        return None
    variant = init["variant"]
    regime = init.get("regime") or (FP_REGIME if is_full_precision(config, variant) else run.regime)
    own = orderings_of(config, variant)
    ordering = init.get("ordering") or (own[0] if own else NO_ORDERING)
    recipe = init.get("recipe") or run.recipe
    return RunId(recipe, run.dataset, run.arch, regime, variant, ordering, run.seed)


def data_root(config: Config) -> str | None:
    """The data root: ``data_root`` from config, else ``$BNNBENCH_DATA``, else None."""
    return config.get("data_root") or os.environ.get("BNNBENCH_DATA") or None


def wildcard(wildcards: Any, name: str) -> str:
    if isinstance(wildcards, Mapping):
        return str(wildcards[name])
    return str(getattr(wildcards, name))
