"""A run's full specification: its identity plus everything that decides its outcome."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import methods
from benchmark.data import DATASETS
from benchmark.errors import UserError
from benchmark.models import ARCHS
from benchmark.recipe import Recipe
from methods.config import ConfigError

# A run-identity component is a directory name: no separators, no "." or "..", no spaces or
# upper case (paths must mean the same on case-insensitive file systems), no leading "-".
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
NAME_RULE = "lower-case letters, digits, '_', '.' and '-', starting with a letter or digit"


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Identity (recipe, dataset, arch, regime, variant, ordering, seed) and resolved settings.

    ``method_overrides`` are the variant's hyperparameters on top of the method's defaults
    (the ordering included for methods that have one).
    """

    dataset: str
    arch: str
    method: str
    regime: str
    seed: int
    recipe: Recipe
    variant: str = ""
    ordering: str = "none"
    width: float = 1.0
    method_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    data_root: str | None = None
    threads: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.variant:
            object.__setattr__(self, "variant", self.method)
        for key in ("dataset", "arch", "method", "regime", "variant", "ordering"):
            check_name(key, getattr(self, key))
        check_name("recipe", self.recipe.name)
        if self.width <= 0:
            raise UserError(f"width={self.width} must be > 0 (1 = the paper's widths)")
        if self.seed < 0:
            raise UserError(f"seed={self.seed} must be >= 0")
        DATASETS.get(self.dataset)
        ARCHS.get(self.arch)
        check_method(self.method, self.method_overrides, self.regime, self.ordering)

    def identity(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.name,
            "dataset": self.dataset,
            "arch": self.arch,
            "regime": self.regime,
            "variant": self.variant,
            "method": self.method,
            "ordering": self.ordering,
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything that decides the run's numbers (not where it runs or how fast)."""
        d = dataclasses.asdict(self)
        d["recipe"] = dataclasses.asdict(self.recipe)
        for key in ("data_root", "threads", "device"):
            d.pop(key)
        return d

    def run_dir(self, root: Path) -> Path:
        """``<root>/<recipe>/<dataset>/<arch>/<regime>/<variant>/<ordering>/seed<k>``."""
        i = self.identity()
        return Path(
            root,
            i["recipe"],
            i["dataset"],
            i["arch"],
            i["regime"],
            i["variant"],
            i["ordering"],
            f"seed{i['seed']}",
        )


def check_name(key: str, value: str) -> None:
    """Refuse a run-identity component that is not a plain directory name (see NAME_RE)."""
    if not NAME_RE.match(value):
        suggestion = re.sub(r"[^a-z0-9_.-]+", "_", value.lower()).lstrip("_.-") or "run1"
        raise UserError(
            f"{key} '{value}' cannot name a run directory: use only {NAME_RULE} (for example '{suggestion}')"
        )


def check_method(method: str, overrides: Mapping[str, Any], regime: str, ordering: str = "none") -> None:
    """Refuse, before any data is read, an unknown method (``UnknownNameError`` listing the
    valid ones), a regime the method does not run in, or hyperparameters its config rejects
    (``UserError`` naming the key)."""
    cls = methods.get_method(method)
    if regime not in cls.regimes:
        raise UserError(
            f"method '{method}' runs in regime(s) {', '.join(cls.regimes)}, not '{regime}'; "
            f"use regime {cls.regimes[0]}"
        )
    values = dict(overrides)
    if cls.has_ordering and ordering != "none":
        values["ordering"] = ordering
    try:
        cls.config_class.from_dict(values)
    except ConfigError as err:
        raise UserError(f"method '{method}': {err}") from None
