"""The ``bnnbench train`` flags of one train job, from the workflow config (DESIGN 6-7).

The train rule's params and inputs (``workflows/train.smk``) call these functions with the
job's wildcards; which runs exist is ``benchmark.grid``'s business. Each flag appears only
when the config sets it, so that a default config's commands stay as they were. No heavy
imports (no torch): Snakemake evaluates these for every job when it builds a DAG.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from benchmark.grid import (
    Config,
    ConfigError,
    data_root,
    eval_settings,
    init_source,
    method_of,
    run_of,
    width_for,
    wildcard,
    zero_init_for,
)
from benchmark.identity import RunId
from benchmark.runtime import Runtime


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
    fields, the variant's overrides, ``--width`` and ``--zero-init-residual``. One string, so
    that the train rule has a single params callable (Snakemake evaluates each callable of each
    job when it builds the DAG), and a changed value still reruns exactly the runs whose flags
    it changes."""
    recipe, variant, arch = (wildcard(wildcards, name) for name in ("recipe", "variant", "arch"))
    flags = [
        f"--method {shlex.quote(method_of(config, variant))}",
        recipe_args(config, recipe),
        variant_args(config, variant),
        f"--width {width_for(config, arch)}",
        "--zero-init-residual" if zero_init_for(config, arch) else "",
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


def eval_args(config: Config, wildcards: Any) -> str:
    """``--eval-every N --eval-subset K`` for a run of a figure section named in ``evals``
    (nothing for the others, so that their commands stay as they were). A param of the train
    rule: changing it reruns the runs it names (their numbers stay the same)."""
    every, subset = eval_settings(config, run_of(wildcards))
    return f"--eval-every {every} --eval-subset {subset}" if every else ""


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
