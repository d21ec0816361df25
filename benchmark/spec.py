"""A run's full specification: its identity plus everything that decides its outcome.

The method's hyperparameters are resolved here, once: the overrides as given (``--set`` strings
or the typed values of a config) and, for a method that freezes in an order, the run's
ordering become the method's typed, frozen config (``methods.config``), which the trainer
hands to the method and ``config.json`` records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import methods
from benchmark import weights
from benchmark.data import DATASETS
from benchmark.data.options import DataOptions
from benchmark.errors import UserError
from benchmark.identity import NO_ORDERING, RunId, check_name
from benchmark.models import ARCHS
from benchmark.recipe import Recipe
from benchmark.runtime import Runtime
from methods.config import ConfigError, MethodConfig


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Identity (recipe, dataset, arch, regime, variant, ordering, seed), method and settings.

    ``init_from``: a finished run's directory or weights file to start from (``benchmark.weights``);
    the config records the file's SHA-256, not its location.

    ``zero_init_residual``: every residual branch of the architecture starts at zero
    (:mod:`benchmark.models.zero_init`); recorded in the config only when set.

    ``method_overrides``: the variant's hyperparameters on top of the method's defaults (not
    the ordering, which is part of the identity); once built, they hold typed values, and
    ``method_config`` is the method's whole typed config (:func:`method_config`).
    """

    dataset: str
    arch: str
    method: str
    regime: str
    seed: int
    recipe: Recipe
    variant: str = ""
    ordering: str = NO_ORDERING
    width: float = 1.0
    zero_init_residual: bool = False
    method_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data_options: DataOptions = DataOptions()
    init_from: str | None = None
    data_root: str | None = None
    threads: int | None = None
    device: str = "auto"
    runtime: Runtime = Runtime()
    method_config: MethodConfig = dataclasses.field(init=False, repr=False)
    init_digest: str | None = dataclasses.field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if not self.variant:
            object.__setattr__(self, "variant", self.method)
        check_name("method", self.method)
        self.run_id.check()
        if self.width <= 0:
            raise UserError(f"width={self.width} must be > 0 (1 = the paper's widths)")
        DATASETS.get(self.dataset)
        ARCHS.get(self.arch)
        config = method_config(self.method, self.method_overrides, self.regime, self.ordering)
        typed = {key: getattr(config, key) for key in self.method_overrides}
        object.__setattr__(self, "method_config", config)
        object.__setattr__(self, "method_overrides", typed)
        if self.init_from is not None:
            object.__setattr__(self, "init_digest", weights.digest(weights.resolve(self.init_from)))

    @property
    def run_id(self) -> RunId:
        r = self
        return RunId(r.recipe.name, r.dataset, r.arch, r.regime, r.variant, r.ordering, r.seed)

    def identity(self) -> dict[str, Any]:
        """The run's identity and its method, as ``result.json`` records them."""
        return {**self.run_id.as_dict(), "method": self.method}

    def to_dict(self) -> dict[str, Any]:
        """Everything that decides the run's numbers (not where it runs or how fast). The data
        options and the runtime's numeric settings (``benchmark.runtime``) appear only where
        they differ from the defaults, so that the configs (and hashes) of runs that set none
        stay what they were."""
        d = dataclasses.asdict(self)
        if not self.zero_init_residual:  # added later: runs without it keep their hashes
            d.pop("zero_init_residual")
        for key in ("data_root", "threads", "device", "runtime", "data_options", "init_from", "init_digest"):
            d.pop(key)
        if numeric := self.runtime.config_entry():  # precision, compile, determinism (not defaults)
            d["runtime"] = numeric
        d["recipe"] = self.recipe.to_dict()
        data = self.data_options.to_dict()
        if data != DataOptions().to_dict():
            d["data_options"] = data
        if self.init_digest is not None:  # the initial weights by content, wherever they lie
            d["init_sha256"] = self.init_digest
        return d


def method_config(
    method: str, overrides: Mapping[str, Any], regime: str, ordering: str = NO_ORDERING
) -> MethodConfig:
    """The typed config of ``method`` with ``overrides`` and, if it has orderings, ``ordering``.

    Refuses, before any data is read, an unknown method (``UnknownNameError`` listing the
    valid ones), a regime the method does not run in, an ordering it does not have (or any
    ordering for a method without one), and hyperparameters its config rejects (``UserError``
    naming the key)."""
    cls = methods.get_method(method)
    if regime not in cls.regimes:
        raise UserError(
            f"method '{method}' runs in regime(s) {', '.join(cls.regimes)}, not '{regime}'; "
            f"use regime {cls.regimes[0]}"
        )
    values = dict(overrides)
    if "ordering" in values and cls.orderings:
        raise UserError(
            f"method '{method}': the ordering is part of the run's identity; give it as --ordering "
            "(in a config: the grid's orderings), not as a hyperparameter"
        )
    if cls.orderings:
        if ordering not in cls.orderings:
            raise UserError(f"unknown ordering '{ordering}'; valid orderings: {', '.join(cls.orderings)}")
        values["ordering"] = ordering
    elif ordering != NO_ORDERING:
        raise UserError(f"method '{method}' has no ordering; drop --ordering {ordering}")
    try:
        return cls.config_class.from_dict(values)
    except ConfigError as err:
        raise UserError(f"method '{method}': {err}") from None
