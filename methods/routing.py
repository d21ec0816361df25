"""Routing parameters to optimizers: every parameter to exactly one (DESIGN 3, "build the
optimizer(s)"). A method declares the optimizers it owns (Bop's for binary weights, PaBT's for
bases and scales; :meth:`~methods.protocol.Method.own_optimizers`) and every other parameter
goes to the recipe's optimizer (:func:`optimizers_for`), so which optimizers the recipe's
schedule scales is explicit. A parameter claimed twice, or by nobody, is a bug that would
silently freeze or double-update it, so it stops the run before training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from methods.protocol import Method

OptimizerFactory = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


class RoutingError(ValueError):
    """A parameter is claimed by two optimizers, or by none."""


def route_parameters(
    model: nn.Module, claims: Mapping[str, Iterable[nn.Parameter]], rest: str | None = "rest"
) -> dict[str, list[nn.Parameter]]:
    """Split ``model``'s parameters among named optimizers.

    ``claims`` maps an optimizer's name to the parameters it takes; the parameters nobody
    claims go to ``rest`` (when it is None they are refused). Raises :class:`RoutingError`
    naming the parameter when one is claimed twice, claimed but not in the model, or (with
    ``rest=None``) claimed by none.
    """
    names = {id(p): n for n, p in model.named_parameters()}
    owner: dict[int, str] = {}
    routed: dict[str, list[nn.Parameter]] = {}
    for opt, params in claims.items():
        routed[opt] = []
        for p in params:
            if id(p) not in names:
                raise RoutingError(f"optimizer '{opt}' claims a parameter that is not in the model")
            if id(p) in owner:
                raise RoutingError(
                    f"parameter '{names[id(p)]}' is claimed by both '{owner[id(p)]}' and '{opt}'"
                )
            owner[id(p)] = opt
            routed[opt].append(p)
    unclaimed = [p for p in model.parameters() if id(p) not in owner]
    if rest is None:
        if unclaimed:
            listed = ", ".join(names[id(p)] for p in unclaimed[:5])
            raise RoutingError(f"parameter(s) claimed by no optimizer: {listed}")
    else:
        routed[rest] = unclaimed
    return routed


def optimizers_for(method: Method, model: nn.Module, build: OptimizerFactory) -> list[torch.optim.Optimizer]:
    """``[the recipe's optimizer, *the method's own]``: ``build`` gets every parameter of ``model``
    that no optimizer of ``method.own_optimizers(model)`` claims, in the model's order (the
    recipe's comes first, so ``metrics.csv``'s ``lr`` is its lr)."""
    own = method.own_optimizers(model)
    claims = {f"{type(opt).__name__} #{i}": owned(opt) for i, opt in enumerate(own)}
    return [build(route_parameters(model, claims, rest="recipe")["recipe"]), *own]


def owned(optimizer: torch.optim.Optimizer) -> list[nn.Parameter]:
    """The parameters of every group of ``optimizer``."""
    return [p for group in optimizer.param_groups for p in group["params"]]
