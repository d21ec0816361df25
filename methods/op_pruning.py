r"""Operation pruning for multi-bit layers: PaBT's schedule and choice (DESIGN 3.6).

Frickenstein et al., "Pruning as a Binarization Technique", CVPR Workshops 2024 (seed 004),
Sec. 3.4 and Alg. 1; the method that uses these is ``methods.pabt``.

Importance of operation :math:`(m, n)` (Eq. 8), the second-order Taylor estimate of the loss
change when :math:`\gamma_{mn}` is set to 0 (:math:`\Delta\gamma = -\gamma`):

.. math:: f_{mn} = -\kappa\, u_{mn}\, \gamma_{mn} + \tfrac12\, v_{mn}\, \gamma_{mn}^2

with :math:`u` AMSGrad's first moment (``exp_avg``) and :math:`v` its second moment. AMSGrad
(Reddi et al. 2018, Alg. 2, which the seed's Alg. 1 follows: ":math:`u_t, v_t, \hat v_t`
following AMSGrad") normalizes by :math:`\hat v_t = \max(\hat v_{t-1}, v_t)`, so ``moment``
defaults to :math:`v = \hat v` (``max_exp_avg_sq``); ``exp_avg_sq`` uses :math:`v_t`, and
``sqrt_max_exp_avg_sq`` uses :math:`\sqrt{\hat v}`, the pseudo-Hessian of ALQ (Qu et al.
2020, the seed's ref. [25] for the score; with ``kappa`` = the step size it is ALQ's
:math:`-\eta \hat m \alpha + \frac12 \sqrt{\hat v} \alpha^2`). The moments are read raw, without
Adam's bias correction (AMSGrad as published has none).

Pruning (Alg. 1, "every :math:`t_{prune}` steps prune the least important operation"): between
:math:`s_0 = \operatorname{round}(\text{prune\_start} \cdot T)` and
:math:`s_1 = \operatorname{round}(\text{prune\_end} \cdot T)` the number of operations pruned
after step :math:`s` follows the linear target
:math:`\lfloor P (s - s_0 + 1) / (s_1 - s_0) \rfloor` (clipped to :math:`[0, P]`), with
:math:`P = L (MN - 1)` (the seed's :math:`L \cdot M \cdot N \cdot \psi` with
:math:`\psi = 1 - 1/(MN)`, i.e. down to one operation per layer). When :math:`P` is smaller
than the window this is one prune every :math:`t_{prune} = (s_1 - s_0)/P` steps, as in Alg. 1;
when it is larger, several prunes happen in one step. By step :math:`s_1 - 1` every layer has
exactly one operation: a BNN with one binary convolution and one scale per layer. Each prune
removes the globally least important kept operation (``criterion="importance"``, PaBT-I) or a
uniformly random one (``"random"``, PaBT-R, Sec. 5.2, drawn from a CPU generator seeded by the
run seed); a layer's last operation is never a candidate. Importance scores are read once per
pruning step (the only host-device synchronization, on pruning steps only).

A layer's operations are indexed row-major in :math:`(m, n)`: operation :math:`k = m N + n`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def prune_window(total_steps: int, start: float, end: float) -> tuple[int, int]:
    """Steps ``[s0, s1)`` in which pruning happens (never empty)."""
    s1 = max(1, round(end * total_steps))
    return min(round(start * total_steps), s1 - 1), s1


def pruned_target(step: int, window: tuple[int, int], total: int) -> int:
    """How many operations are pruned once step ``step`` (0-based) has ended."""
    s0, s1 = window
    done = min(max(step - s0 + 1, 0), s1 - s0)
    return total * done // (s1 - s0)


def importance(scale: Tensor, state: dict[str, Any], kappa: float, moment: str) -> Tensor:
    r""":math:`f = -\kappa u \gamma + \frac12 v \gamma^2` from AMSGrad's ``state`` of ``scale``
    (all zeros before its first step)."""
    if "exp_avg" not in state:
        return torch.zeros_like(scale)
    u = state["exp_avg"]
    v = state["exp_avg_sq"] if moment == "exp_avg_sq" else state["max_exp_avg_sq"]
    if moment == "sqrt_max_exp_avg_sq":
        v = v.sqrt()
    return scale * (0.5 * v * scale - kappa * u)


def choose_prunes(
    alive: Tensor, count: int, scores: Tensor | None, generator: torch.Generator | None
) -> list[tuple[int, int]]:
    """Greedily pick ``count`` operations to prune, one at a time.

    ``alive``: (L, K) in {0, 1} (K = M N operations per layer, row-major in (m, n)). Candidates
    are the kept operations of layers with more than one left. ``scores`` (L, K): the least
    one goes (first index on ties); None: a uniformly random candidate from ``generator``.
    Returns (layer, operation) pairs in pruning order.
    """
    alive = alive.clone()
    chosen = []
    for _ in range(count):
        prunable = alive * (alive.sum(1, keepdim=True) > 1)
        candidates = prunable.flatten().nonzero().flatten()
        if len(candidates) == 0:
            break
        if scores is None:
            pick = torch.randint(len(candidates), (1,), generator=generator)
            flat = int(candidates[pick])
        else:
            flat = int(candidates[scores.flatten()[candidates].argmin()])
        layer, op = divmod(flat, alive.shape[1])
        alive[layer, op] = 0.0
        chosen.append((layer, op))
    return chosen
