"""The workflow config's consistency checks, which the JSON schema cannot express (DESIGN 7).

The Snakefile runs :func:`refuse_derived_keys` before the schema and :func:`check_config`
after it, so that a config with an undeclared name, an unknown recipe or an impossible grid
stops before any job starts, with a :class:`benchmark.grid.ConfigError` that names the key.
Free of heavy imports except in :func:`check_registries`, which builds every variant's
method (once per config and code version, ``benchmark.checkcache``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from benchmark import facts
from benchmark.checkcache import checked_once
from benchmark.errors import UserError
from benchmark.grid import (
    AXES,
    SECTIONS,
    Config,
    ConfigError,
    all_runs,
    grid_recipe,
    is_full_precision,
    method_of,
    section_parts,
    section_runs,
    supported_regimes,
    width_for,
)
from benchmark.identity import NO_ORDERING, RunId

# Config keys of earlier versions whose content every method now declares itself.
DERIVED_KEYS = ("ordered_methods", "full_precision_methods", "method_regimes")


GRID_KEYS = ("variants", "orderings", "archs", "regimes")  # every grid states these


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
    (the message lists the valid ones), every architecture of ``zero_init_residual`` must have
    residual branches, and each variant's ``set`` must be valid
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
    for arch in config.get("zero_init_residual") or []:
        with _naming("zero_init_residual"):
            check_residual_branches(arch)
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


def check_residual_branches(arch: str) -> None:
    """``arch`` has residual branches to start at zero: an image architecture is built once,
    tiny, and started that way; the UserError of :func:`zero_init_residual` when it cannot be."""
    from torch import nn

    from benchmark.data.inputs import Inputs
    from benchmark.models import ARCHS, build_model
    from benchmark.models.zero_init import zero_init_residual

    image = ARCHS.get(arch).takes == "image"  # the others (text) have no BatchNorm-ended branch
    zero_init_residual(build_model(arch, Inputs.image(3, 8), 2, 0.0625) if image else nn.Module(), arch)


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
