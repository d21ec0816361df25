"""A run's full specification: its identity plus everything that decides its outcome."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import methods
from benchmark.data import DATASETS
from benchmark.errors import UserError
from benchmark.identity import RunId, check_name
from benchmark.models import ARCHS
from benchmark.recipe import Recipe
from methods.config import ConfigError


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
        check_name("method", self.method)
        self.run_id.check()
        if self.width <= 0:
            raise UserError(f"width={self.width} must be > 0 (1 = the paper's widths)")
        DATASETS.get(self.dataset)
        ARCHS.get(self.arch)
        check_method(self.method, self.method_overrides, self.regime, self.ordering)

    @property
    def run_id(self) -> RunId:
        r = self
        return RunId(r.recipe.name, r.dataset, r.arch, r.regime, r.variant, r.ordering, r.seed)

    def identity(self) -> dict[str, Any]:
        """The run's identity and its method, as ``result.json`` records them."""
        return {**self.run_id.as_dict(), "method": self.method}

    def to_dict(self) -> dict[str, Any]:
        """Everything that decides the run's numbers (not where it runs or how fast)."""
        d = dataclasses.asdict(self)
        d["recipe"] = dataclasses.asdict(self.recipe)
        for key in ("data_root", "threads", "device"):
            d.pop(key)
        return d


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
