r"""Bop, the latent-free optimizer for binary weights (Helwegen et al., "Latent Weights Do Not
Exist: Rethinking Binarized Neural Network Optimization", NeurIPS 2019, Algorithm 1; seed
003; reference code plumerai/rethinking-bnn-optimization and larq's ``lq.optimizers.Bop``).

Binary weights :math:`w \in \{-1, +1\}` are the parameters themselves. Per entry, with the
gradient :math:`g_t`, adaptivity rate :math:`\gamma` and threshold :math:`\tau`:

.. math::
    m_t = (1 - \gamma)\, m_{t-1} + \gamma\, g_t, \qquad m_0 = 0,

    w_t = \begin{cases} -w_{t-1} & \text{if } |m_t| > \tau \text{ and }
    \operatorname{sign}(m_t) = \operatorname{sign}(w_{t-1}) \\
    w_{t-1} & \text{otherwise.} \end{cases}

Because :math:`|w| = 1`, the two conditions together are exactly :math:`m_t w_{t-1} > \tau`
(larq writes the update as :math:`w \leftarrow \operatorname{sign}(-\operatorname{sign}(w m_t -
\tau)\, w)`), which is what :meth:`BopOptimizer.step` computes, with float arithmetic only.

:math:`\gamma` is stored as the param group's ``lr``, so the recipe's learning-rate schedule
(a ``LambdaLR`` on every optimizer) decays it the way Bop's recipes decay :math:`\gamma`
(CIFAR: x0.1 every 100 epochs, Sec. 5.2).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class BopOptimizer(torch.optim.Optimizer):
    """Bop over binary weights stored as {-1, +1}; ``gamma`` is the group's ``lr``."""

    def __init__(self, params: Iterable[nn.Parameter], gamma: float = 1e-4, threshold: float = 1e-8) -> None:
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"Bop gamma={gamma} must be in (0, 1]")
        if threshold < 0.0:
            raise ValueError(f"Bop threshold={threshold} must be >= 0")
        super().__init__(params, {"lr": gamma, "threshold": threshold})

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[no-untyped-def, override]
        loss = None
        if closure is not None:
            with torch.enable_grad():  # the closure runs forward and backward
                loss = closure()
        for group in self.param_groups:
            gamma, tau = group["lr"], group["threshold"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                state = self.state[w]
                if "m" not in state:
                    state["m"] = torch.zeros_like(w)
                m = state["m"]
                m.mul_(1.0 - gamma).add_(w.grad, alpha=gamma)
                # flip = 1 where m * w > tau, else 0 (sign(0) = 0 keeps w at equality)
                flip = (m * w).sub_(tau).sign_().clamp_(min=0.0)
                w.mul_(flip.mul_(-2.0).add_(1.0))
        return loss
