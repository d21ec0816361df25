"""Expand a workflow config into the runs each table and figure needs (DESIGN 6-7).

The Snakemake rules call only the functions here, so the grid logic is plain, importable
and tested (``tests/test_grid.py``). This module must stay free of heavy imports (no
torch): Snakemake imports it every time it builds a DAG.

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
  every N steps too (:func:`eval_args`: ``bnnbench train --eval-every --eval-subset``); a
  run's identity and hash stay the same, its ``evals.csv`` is added.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import product
from typing import Any

from benchmark import facts
from benchmark.checkcache import checked_once
from benchmark.errors import UserError
from benchmark.identity import FP_REGIME, NO_ORDERING, RunId
from benchmark.runtime import Runtime

SECTIONS = ("tables", "figures")
AXES = ("datasets", "archs", "regimes", "variants", "orderings", "seeds")
BINARY_REGIMES = ("bnn", "bwn")
# Config keys of earlier versions whose content every method now declares itself.
DERIVED_KEYS = ("ordered_methods", "full_precision_methods", "method_regimes")

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


GRID_KEYS = ("variants", "orderings", "archs", "regimes")  # every grid states these


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


def train_args(config: Config, wildcards: Any) -> str:
    """The config-derived flags of one run's ``bnnbench train``: ``--method``, the recipe's
    fields, the variant's overrides and ``--width``. One string, so that the train rule has a
    single params callable (Snakemake evaluates each callable of each job when it builds the
    DAG), and a changed value still reruns exactly the runs whose flags it changes."""
    recipe, variant, arch = (wildcard(wildcards, name) for name in ("recipe", "variant", "arch"))
    flags = [
        f"--method {shlex.quote(method_of(config, variant))}",
        recipe_args(config, recipe),
        variant_args(config, variant),
        f"--width {width_for(config, arch)}",
        init_args(config, wildcards),
        data_args(config, wildcard(wildcards, "dataset")),
        eval_args(config, wildcards),
        runtime_args(config),
    ]
    return " ".join(flag for flag in flags if flag)


def runtime_args(config: Config) -> str:
    """``--precision``, ``--compile``, ``--no-deterministic``, ``--data-placement``, ``--cpu-isa`` for the
    ``runtime`` settings that differ from the defaults (none for a default config, so that its
    commands stay as they were)."""
    given = Runtime.from_dict(config.get("runtime"))
    default = Runtime()
    flags = {
        "precision": f"--precision {given.precision}",
        "compile": "--compile" if given.compile else "--no-compile",
        "deterministic": "--deterministic" if given.deterministic else "--no-deterministic",
        "data": f"--data-placement {given.data}",
        "cpu_isa": f"--cpu-isa {given.cpu_isa}",
    }
    return " ".join(flag for key, flag in flags.items() if getattr(given, key) != getattr(default, key))


def eval_settings(config: Config, run: RunId) -> tuple[int, int]:
    """(every, subset) of a run's evaluations every N steps: those of the ``evals`` entries
    whose figure section needs the run (the same for all of them, :func:`check_evals`);
    (0, 0) for any other run."""
    found = {(0, 0)}
    for name, entry in (config.get("evals") or {}).items():
        every = int(entry.get("every", 0))
        if every and run in section_runs(config, "figures", name):
            found.add((every, int(entry.get("subset", 0))))
    return max(found)


def eval_args(config: Config, wildcards: Any) -> str:
    """``--eval-every N --eval-subset K`` for a run of a figure section named in ``evals``
    (nothing for the others, so that their commands stay as they were). A param of the train
    rule: changing it reruns the runs it names (their numbers stay the same)."""
    every, subset = eval_settings(config, run_of(wildcards))
    return f"--eval-every {every} --eval-subset {subset}" if every else ""


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


def train_inputs(config: Config, wildcards: Any) -> list[str]:
    """A train job's inputs: the ``result.json`` of the run it starts from, if any (so the
    workflow trains the source first; its ``model.pt`` is written before its result)."""
    source = _source_of(config, wildcards)
    return [source.result] if source else []


def init_args(config: Config, wildcards: Any) -> str:
    """``--init-from <source run directory>`` for a run that starts from another's weights."""
    source = _source_of(config, wildcards)
    return f"--init-from {shlex.quote(source.directory)}" if source else ""


def _source_of(config: Config, wildcards: Any) -> RunId | None:
    variant = wildcard(wildcards, "variant")
    return init_source(config, run_of(wildcards)) if config["variants"][variant].get("init_from") else None


def data_root(config: Config) -> str | None:
    """The data root: ``data_root`` from config, else ``$BNNBENCH_DATA``, else None."""
    return config.get("data_root") or os.environ.get("BNNBENCH_DATA") or None


def data_root_args(config: Config) -> str:
    """``--data-root DIR`` when a data root is known, else nothing (bundled data only)."""
    root = data_root(config)
    return f"--data-root {shlex.quote(str(root))}" if root else ""


DATA_FLAGS = {"workers": "--workers", "max_length": "--max-length", "classes": "--classes"}
DATA_FLAGS |= {"per_class": "--per-class"}


def data_args(config: Config, dataset: str) -> str:
    """The dataset's loading options from ``data_options.<dataset>`` (workers, max_length,
    classes, per_class) and ``--model-dir`` from ``model_dir`` (read by text datasets only)."""
    options = (config.get("data_options") or {}).get(dataset) or {}
    flags = [f"{DATA_FLAGS[k]} {shlex.quote(str(v))}" for k, v in options.items() if v is not None]
    if config.get("model_dir"):
        flags.append(f"--model-dir {shlex.quote(str(config['model_dir']))}")
    return " ".join(flags)


def wildcard(wildcards: Any, name: str) -> str:
    if isinstance(wildcards, Mapping):
        return str(wildcards[name])
    return str(getattr(wildcards, name))


def check_config(config: Config) -> None:
    """Consistency checks the JSON schema cannot express; raises :class:`ConfigError`.

    No key may state what the methods declare (:func:`refuse_derived_keys`), every variant's
    method must exist, every name a table or figure uses must be declared at the top level,
    every ordering must be one a method has, every recipe named must exist, every variant of
    a grid must have a regime to run in, a per-architecture width must cover every
    architecture, and names and hyperparameters must resolve in the registries
    (:func:`check_registries`, which imports torch; once per config and code version, see
    ``benchmark.checkcache``).
    """
    refuse_derived_keys(config)
    if config["recipe"] not in config["recipes"]:
        raise ConfigError(f"recipe: '{config['recipe']}' is not in recipes (has {sorted(config['recipes'])})")
    for variant in config["variants"]:
        with _naming(f"variants.{variant}"):
            facts.of(method_of(config, variant))
    _check_orderings("orderings", config["orderings"])
    for section in SECTIONS:
        for name, entry in config[section].items():
            grids = section_parts(config, section, name)
            for i, grid in enumerate(grids):
                where = f"{section}.{name}" + (f".parts[{i}]" if "parts" in entry else "")
                _check_grid(where, grid, config)
    for arch in config["archs"]:
        width_for(config, arch)
    for variant in config["variants"]:
        _check_init_from(config, variant)
    check_evals(config)
    checked_once(config, check_registries)


def check_evals(config: Config) -> None:
    """Every ``evals`` entry names a figure of the config, and a run that several of them
    need gets the same settings from each."""
    settings: dict[RunId, tuple[str, tuple[int, int]]] = {}
    for name, entry in (config.get("evals") or {}).items():
        if name not in config["figures"]:
            raise ConfigError(f"evals.{name}: not a figure of this config (has {sorted(config['figures'])})")
        mine = (int(entry.get("every", 0)), int(entry.get("subset", 0)))
        if not mine[0]:
            continue
        for run in section_runs(config, "figures", name):
            other, theirs = settings.setdefault(run, (name, mine))
            if theirs != mine:
                raise ConfigError(
                    f"evals.{name}: run {run.directory} is also in evals.{other} with other settings "
                    f"(every, subset) {theirs} vs {mine}; give both the same"
                )


def _check_init_from(config: Config, variant: str) -> None:
    """``init_from`` names a declared variant and recipe, and the chain of sources ends."""
    seen = [variant]
    init = config["variants"][variant].get("init_from")
    while init:
        where = f"variants.{seen[0]}.init_from"
        source = init["variant"]
        if source not in config["variants"]:
            raise ConfigError(
                f"{where}: variant '{source}' is not in variants (has {sorted(config['variants'])})"
            )
        if init.get("recipe") and init["recipe"] not in config["recipes"]:
            raise ConfigError(f"{where}: recipe '{init['recipe']}' is not in recipes")
        if source in seen:
            raise ConfigError(f"{where}: the chain {' -> '.join([*seen, source])} starts from itself")
        seen.append(source)
        init = config["variants"][source].get("init_from")


def check_registries(config: Config) -> None:
    """Names and hyperparameters against the registries, so that no job fails on them.

    Every run-identity name (recipe, dataset, architecture, variant) must be a plain
    directory name, every dataset, architecture, method, table and figure must be registered
    (the message lists the valid ones), and each variant's ``set`` must be valid
    hyperparameters of its method in every regime it runs in. The registries import torch,
    hence the imports here.
    """
    from benchmark import outputs
    from benchmark.data import DATASETS
    from benchmark.identity import check_name
    from benchmark.models import ARCHS
    from benchmark.spec import method_config

    for recipe in config["recipes"]:
        with _naming("recipes"):
            check_name("recipe", recipe)
    for axis, registry in (("datasets", DATASETS), ("archs", ARCHS)):
        for name in config[axis]:
            with _naming(axis):
                check_name(axis.removesuffix("s"), name)
                registry.get(name)
    for section, definition in (("tables", outputs.table), ("figures", outputs.figure)):
        for name in config[section]:
            with _naming(f"{section}.{name}"):
                definition(name)
    runs = all_runs(config)
    for variant, settings in config["variants"].items():
        with _naming(f"variants.{variant}"):
            check_name("variant", variant)
            regimes = sorted({r.regime for r in runs if r.variant == variant})
            own = facts.of(settings["method"])
            ordering = own.orderings[0] if own.ordered else NO_ORDERING
            for regime in regimes or [own.regimes[0]]:  # a variant no grid uses is checked too
                method_config(settings["method"], settings.get("set") or {}, regime, ordering)


def refuse_derived_keys(config: Config) -> None:
    """Refuse the keys of earlier configs that the methods now declare themselves."""
    for key in DERIVED_KEYS:
        if key in config:
            raise ConfigError(
                f"{key}: this key is no longer needed and no longer read: which methods have an "
                "ordering, which are full precision and which regimes each supports are derived "
                "from the methods themselves (`bnnbench methods` lists them). Delete the key."
            )


def _check_orderings(key: str, values: Iterable[str]) -> None:
    """Every ordering must be one that some method can freeze in."""
    known = sorted({o for f in facts.known().values() for o in f.orderings})
    unknown = [o for o in values if o not in known]
    if unknown:
        raise ConfigError(f"{key}: {unknown} not an ordering of any method (orderings: {known})")


@contextmanager
def _naming(where: str) -> Iterator[None]:
    """Re-raise an unknown name or a bad value as a ConfigError that names ``where``."""
    try:
        yield
    except Exception as err:
        from methods.registry import UnknownNameError  # imported already when one was raised

        if isinstance(err, UserError | UnknownNameError):
            raise ConfigError(f"{where}: {err}") from None
        raise


def _check_grid(where: str, grid: Mapping[str, Any], config: Config) -> None:
    """Names declared, recipe known, and a regime for every binarizing variant. Seeds are not
    names: a grid may use more seeds than the top level (e.g. for a claim's comparison)."""
    missing = [key for key in GRID_KEYS if key not in grid]
    if missing:
        raise ConfigError(f"{where}: no {', '.join(missing)} (set them in the part or on its section)")
    for axis in AXES:
        if axis != "seeds":
            _check_subset(f"{where}.{axis}", grid.get(axis, []), axis, config)
    recipe = grid_recipe(config, grid)
    if recipe not in config["recipes"]:
        raise ConfigError(f"{where}.recipe: '{recipe}' is not in recipes (has {sorted(config['recipes'])})")
    regimes = grid.get("regimes", config["regimes"])
    for variant in grid.get("variants", []):
        supported = supported_regimes(config, variant)
        if not is_full_precision(config, variant) and not set(regimes) & set(supported):
            raise ConfigError(
                f"{where}.variants: '{variant}' has no run in regimes {list(regimes)}: method "
                f"'{method_of(config, variant)}' supports only {list(supported)}"
            )


def _check_subset(key: str, values: Iterable, axis: str, config: Config) -> None:
    declared = config[axis] if axis != "variants" else list(config["variants"])
    unknown = [value for value in values if value not in declared]
    if unknown:
        raise ConfigError(f"{key}: {unknown} not declared in the top-level {axis} {declared}")
