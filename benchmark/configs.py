"""The workflow's config files: the default, and the configs laid over it (no torch).

``workflows/config/default.yaml`` is complete; every other shipped config (``smoke.yaml``,
``paper.yaml``) and every file a user passes with ``--configfile`` is an overlay that states
only what differs from it. The Snakefile loads the default from its own directory, wherever
Snakemake starts, and Snakemake lays each ``--configfile`` over it: mappings merged key by key,
every other value (lists included) replaced. :func:`load` does the same for code outside
Snakemake (tests, nox, the SLURM checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "workflows" / "config"
DEFAULT = CONFIG_DIR / "default.yaml"
REGRESSION_REPORT = ("results/regression_report.csv", "results/regression_report.md")


def merge(*configs: Mapping[str, Any]) -> dict[str, Any]:
    """Lay configs over each other the way Snakemake does: mappings merged, the rest replaced."""
    merged: dict[str, Any] = {}
    for config in configs:
        _merge_into(merged, config)
    return merged


def _merge_into(base: dict[str, Any], over: Mapping[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge_into(base[key], value)
        elif isinstance(value, Mapping):
            base[key] = merge(value)
        else:
            base[key] = value


def read(path: str | Path) -> dict[str, Any]:
    """One config file as written (an overlay is not complete)."""
    return yaml.safe_load(Path(path).read_text()) or {}


def load(*paths: str | Path) -> dict[str, Any]:
    """The workflow's config for ``--configfile paths...``: the default, then each path over it."""
    return merge(*(read(p) for p in (DEFAULT, *paths)))


def shipped(name: str) -> dict[str, Any]:
    """A shipped config by name (``default``, ``smoke``, ``paper``), laid over the default."""
    return load(CONFIG_DIR / f"{name}.yaml")


def targets(config: Mapping[str, Any]) -> list[str]:
    """What ``snakemake all`` makes besides the runs: tables, figures, regression report."""
    made = [f"results/table_{name}.csv" for name in config["tables"]]
    made += [f"results/fig_{name}.{ext}" for name in config["figures"] for ext in ("pdf", "png")]
    return [*made, *REGRESSION_REPORT]
