r"""StoMPP's freezing schedules and layer orderings (DESIGN 3.2).

A *schedule* maps progress :math:`u \in [0, 1]` through a freezing window to a frozen
fraction :math:`p(u) \in [0, 1]` with :math:`p(0) = 0`, :math:`p(1) = 1`:

- ``linear``: :math:`p = u`
- ``cosine``: :math:`p = (1 - \cos \pi u) / 2`
- ``step``: :math:`p = \lfloor k u \rfloor / k` (``k = schedule_steps`` plateaus)
- ``exponential``: :math:`p = (e^{a u} - 1) / (e^{a} - 1)` (``a = exp_rate``; slow start)

An *ordering* assigns each layer its window inside the freezing phase
:math:`[0, T_f]`, :math:`T_f = \text{freeze\_end} \cdot T`:

- ``forward``: :math:`L` equal slots; the layer at execution position :math:`l` owns slot
  :math:`l`: :math:`u_l = \operatorname{clip}((t - l\,T_f/L) / (T_f/L), 0, 1)`;
- ``reverse``: the same with positions reversed (output first);
- ``random``: the slots permuted by a seeded random permutation (a control);
- ``global``: every layer shares the whole window, :math:`u = t / T_f`.
"""

from __future__ import annotations

import math

import torch

SCHEDULES = ("linear", "cosine", "step", "exponential")
ORDERINGS = ("forward", "reverse", "global", "random")


def schedule_value(u: float, schedule: str, steps: int = 4, rate: float = 5.0) -> float:
    """Frozen fraction at progress ``u`` (clipped to [0, 1])."""
    u = min(max(u, 0.0), 1.0)
    if schedule == "linear":
        return u
    if schedule == "cosine":
        return 0.5 * (1.0 - math.cos(math.pi * u))
    if schedule == "step":
        return math.floor(steps * u) / steps
    if schedule == "exponential":
        return math.expm1(rate * u) / math.expm1(rate)
    raise ValueError(f"unknown schedule '{schedule}'; valid: {', '.join(SCHEDULES)}")


def slot_positions(n_layers: int, ordering: str, seed: int) -> list[int]:
    """``positions[i]``: the slot of the layer at execution index ``i``."""
    if ordering in ("forward", "global"):
        return list(range(n_layers))
    if ordering == "reverse":
        return list(reversed(range(n_layers)))
    if ordering == "random":
        g = torch.Generator().manual_seed(seed)
        return torch.randperm(n_layers, generator=g).tolist()
    raise ValueError(f"unknown ordering '{ordering}'; valid: {', '.join(ORDERINGS)}")


def layer_progress(step: int, freeze_steps: float, position: int, n_layers: int, ordering: str) -> float:
    """Progress :math:`u_l` of the layer in slot ``position`` at ``step``."""
    if freeze_steps <= 0:
        return 1.0
    if ordering == "global":
        u = step / freeze_steps
    else:
        u = (step * n_layers - position * freeze_steps) / freeze_steps
    return round(u, 9)  # so that float slot arithmetic lands exactly on 0 and 1


def layer_fractions(
    step: int,
    total_steps: int,
    freeze_end: float,
    positions: list[int],
    ordering: str,
    schedule: str,
    steps: int = 4,
    rate: float = 5.0,
) -> list[float]:
    """Target frozen fraction of every layer (execution order) at ``step``."""
    freeze_steps = freeze_end * total_steps
    n = len(positions)
    return [
        schedule_value(layer_progress(step, freeze_steps, p, n, ordering), schedule, steps, rate)
        for p in positions
    ]
