r"""Training recipes: optimizer, learning-rate schedule, epochs, batch size, augmentation.

The schedule scales every optimizer's lr by default (``schedule_scope: all``); with
``schedule_scope: method`` it scales only the optimizers a method brings itself (Bop's
:math:`\gamma`), and the recipe's optimizer keeps its lr, as in Bop's reference recipe.

Cells compared in one table share one recipe. The paper-scale recipe is our documented guess
of StoMPP's "matched minimal recipe" (DESIGN 6): SGD momentum 0.9, lr 0.1 cosine, batch 128,
weight decay 5e-4, 200 epochs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from methods.config import ConfigError, coerce

OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCHEDULES = ("cosine", "constant", "step", "linear")
SCHEDULE_SCOPES = ("all", "method")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named training recipe; every field is plain data (JSON round-trip safe)."""

    name: str = "custom"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    epochs: int = 200
    batch_size: int = 128
    augment: bool = True
    step_every: int = 0
    step_factor: float = 0.1
    schedule_scope: str = "all"
    warmup: float = 0.0

    # Fields added after runs were recorded: left out of a run's config while at these values,
    # so that the configs (and hashes) of earlier runs stay what they were.
    LATER_FIELDS: ClassVar[dict[str, Any]] = {"warmup": 0.0}

    def __post_init__(self) -> None:
        checks = [
            ("optimizer", self.optimizer in OPTIMIZERS, f"must be one of {', '.join(OPTIMIZERS)}"),
            ("schedule", self.schedule in LR_SCHEDULES, f"must be one of {', '.join(LR_SCHEDULES)}"),
            ("lr", self.lr > 0, "must be > 0"),
            ("epochs", self.epochs >= 1, "must be >= 1"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
            ("momentum", 0 <= self.momentum < 1, "must be in [0, 1)"),
            ("step_every", self.step_every >= 0, "must be >= 0 (epochs between decays)"),
            (
                "step_every",
                self.schedule != "step" or self.step_every >= 1,
                "must be >= 1 (epochs between decays) with recipe.schedule 'step'",
            ),
            ("step_factor", 0 < self.step_factor <= 1, "must be in (0, 1]"),
            ("warmup", 0 <= self.warmup < 1, "must be in [0, 1) (a fraction of the run's steps)"),
            (
                "schedule_scope",
                self.schedule_scope in SCHEDULE_SCOPES,
                f"must be one of {', '.join(SCHEDULE_SCOPES)}",
            ),
        ]
        for key, ok, rule in checks:
            if not ok:
                raise ConfigError(f"recipe.{key}={getattr(self, key)!r} {rule}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Recipe:
        """Build from a mapping of (possibly string) values; unknown keys are refused."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"unknown recipe key(s) {', '.join(unknown)}; valid: {', '.join(fields)}")
        hints = {
            f.name: {"str": str, "float": float, "int": int, "bool": bool}[f.type] for f in fields.values()
        }  # type: ignore[index]
        return cls(**{k: coerce(f"recipe.{k}", v, hints[k]) for k, v in values.items()})

    def build_optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """The recipe's optimizer over ``params``."""
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":  # decoupled weight decay (Loshchilov and Hutter 2019)
            return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)

    def schedules(self, own: bool) -> bool:
        r"""Whether the schedule scales an optimizer: a method's own optimizer (``own``: Bop's
        :math:`\gamma`, PaBT's scale step) always; the recipe's optimizer with scope ``all``
        only. Scope ``method`` is Bop's CIFAR recipe (reference ``bop_sec52``): :math:`\gamma`
        x0.1 every 100 epochs while Adam keeps lr 0.01."""
        return own or self.schedule_scope == "all"

    def lr_factor(self, step: int, total_steps: int) -> float:
        r"""Multiplier of the base lr at ``step``: a linear warm-up :math:`t / W` over the first
        :math:`W = \text{warmup} \cdot T` steps, then the schedule over the remaining
        :math:`T - W`: cosine :math:`\tfrac12(1 + \cos(\pi t/T))`, 1 (constant), linear
        :math:`1 - t/T` (BERT's fine-tuning, Devlin et al. 2019, App. A), or step
        :math:`\text{step\_factor}^{\lfloor e / \text{step\_every} \rfloor}` at epoch
        :math:`e = \lfloor t \cdot \text{epochs} / T \rfloor` (Bop's CIFAR recipe: x0.1 every
        100 epochs). Without warm-up, :math:`t` and :math:`T` are the step and the run's steps."""
        warm = int(self.warmup * total_steps)
        if step < warm:
            return (step + 1) / warm
        step, total_steps = step - warm, total_steps - warm
        if self.schedule == "constant":
            return 1.0
        if self.schedule == "step":
            epoch = min(step, total_steps) * self.epochs // total_steps
            return self.step_factor ** (epoch // self.step_every)
        if self.schedule == "linear":
            return max(0.0, 1.0 - step / total_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))

    def to_dict(self) -> dict[str, Any]:
        """The recipe as a run's config records it (see ``LATER_FIELDS``)."""
        d = dataclasses.asdict(self)
        return {k: v for k, v in d.items() if k not in self.LATER_FIELDS or v != self.LATER_FIELDS[k]}
