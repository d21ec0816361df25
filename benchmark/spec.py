"""A run's full specification: its identity plus everything that decides its outcome."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.recipe import Recipe

NAME_RE = re.compile(r"^[a-z0-9_.-]+$")


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
            value = getattr(self, key)
            if not NAME_RE.match(value):
                raise UserError(f"{key} '{value}' may contain only lower-case letters, digits and _ . -")
        if not NAME_RE.match(self.recipe.name):
            raise UserError(f"recipe name '{self.recipe.name}' may contain only [a-z0-9_.-]")
        if self.width <= 0:
            raise UserError(f"width={self.width} must be > 0")
        if self.seed < 0:
            raise UserError(f"seed={self.seed} must be >= 0")

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
