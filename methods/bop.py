r"""Bop, the Binary Optimizer (DESIGN 3.5).

Helwegen, Widdicombe, Geiger, Liu, Cheng, Nusselder, "Latent Weights Do Not Exist: Rethinking
Binarized Neural Network Optimization", NeurIPS 2019 (seed 003), Algorithm 1; reference code
plumerai/rethinking-bnn-optimization (``bnn_optimization/optimizers.py``, hyperparameter set
``binarynet.bop_sec52``) and larq's ``lq.optimizers.Bop``.

Binary weights have no latent real value: each binary layer's weight *is* the binary weight
:math:`w \in \{-1, +1\}`, set at conversion to :math:`\operatorname{sign}(w_\text{init})` of the
model's initial weight (:math:`\operatorname{sign}(0) = +1`). Per entry, with the gradient
:math:`g_t`, the adaptivity rate :math:`\gamma` and the threshold :math:`\tau`
(``methods.bop_optimizer.BopOptimizer``):

.. math::
    m_t = (1 - \gamma)\, m_{t-1} + \gamma\, g_t, \qquad m_0 = 0,

    w_t = -w_{t-1} \text{ if } |m_t| > \tau \text{ and }
    \operatorname{sign}(m_t) = \operatorname{sign}(w_{t-1}), \text{ else } w_{t-1}.

:math:`\gamma` is the Bop optimizer's ``lr``, so the recipe's schedule (one ``LambdaLR`` per
optimizer) decays it as Bop's recipes decay :math:`\gamma`. Bop's own CIFAR-10 recipe (Sec. 5.2;
reference ``bop_sec52``) is :math:`\gamma = 10^{-4}`, :math:`\tau = 10^{-8}`, :math:`\gamma`
x0.1 every 100 epochs, batch 50, and Adam with a constant lr 0.01 for every other parameter.
That recipe lives in the workflow config (``recipe.optimizer=adam``, ``schedule=step``,
``schedule_scope=method``): with scope ``method`` the schedule decays only :math:`\gamma` and
Adam keeps its lr, as in the reference code; under a recipe with scope ``all`` (the matched
recipe of the peers table) it scales both alike.

Every other parameter (first and last layer, BatchNorm, biases) is updated in the same step by
the recipe's optimizer (``methods.routing.optimizers_for``). :meth:`Bop.own_optimizers` checks
that each parameter is exactly one of the two, a binary weight of this method or a full-precision
one, and stops the run, naming the parameter, if one is claimed twice or by neither. Binary
weights get no weight decay, momentum or clipping: they stay exactly
:math:`\pm 1` at all times.

Quantizers: the weight quantizer is the clipped straight-through sign
(:class:`~methods.quantizers.SteSign`). On :math:`w \in \{-1, +1\}` its forward is
:math:`\operatorname{sign}(w) = w` and its gradient :math:`\mathbb{1}[|w| \le 1] = 1` (closed
interval), so the layer sees exactly :math:`w` and :math:`\partial L / \partial w` reaches Bop
unchanged: the same as the reference code's identity kernel quantizer
(``Activation("linear")``, larq's ``NoOp(precision=1)``), with the forward pass still binary
should a weight ever hold another value. In the ``bnn`` regime the input of every binary layer
is binarized by the same clipped STE (the reference BinaryNet's ``input_quantizer="ste_sign"``);
the ``bwn`` regime keeps full-precision activations (and ReLU).

Differences from the paper's setup, by our conventions: the first and the last layer stay full
precision and are trained by the recipe's optimizer; in the paper's BinaryNet the first
convolution's and the classifier's weights are binary and trained by Bop as well (the first
layer's input is not binarized). The reference code starts from the float initial weights and
only binarizes them at the first update; we binarize at conversion so the first forward pass is
already binary. At exactly :math:`m_t w_{t-1} = \tau` we keep :math:`w` (the paper's strict
``>``); larq's expression would set :math:`w = +1` there (a measure-zero case).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from methods.bop_optimizer import BopOptimizer
from methods.catalog import register_method
from methods.config import ConfigError, MethodConfig, hp
from methods.convert import Binarizable
from methods.layers import QuantizedMixin
from methods.primitives import sign
from methods.protocol import Method
from methods.quantizers import SteSign
from methods.routing import route_parameters

PAPER = "Helwegen et al., NeurIPS 2019 (Bop)"
REFERENCE = "plumerai/rethinking-bnn-optimization binarynet.bop_sec52; larq lq.optimizers.Bop default"


@dataclasses.dataclass(frozen=True)
class BopConfig(MethodConfig):
    gamma: float = hp(
        1e-4,
        "adaptivity rate: weight of the newest gradient in the moving average m "
        "(the Bop optimizer's lr, so the recipe's schedule decays it)",
        f"{PAPER}, Sec. 5.2 (CIFAR-10); {REFERENCE}",
    )
    threshold: float = hp(
        1e-8,
        "flip threshold tau: w flips when |m| > tau and sign(m) = sign(w)",
        f"{PAPER}, Sec. 5.2 (CIFAR-10); {REFERENCE}",
    )

    def validate(self) -> None:
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"gamma={self.gamma} must be in (0, 1]")
        if self.threshold < 0.0:
            raise ConfigError(f"threshold={self.threshold} must be >= 0")


@register_method
class Bop(Method):
    """Latent-free binary weights in {-1, +1} flipped by Bop; the recipe's optimizer for the rest."""

    name = "bop"
    summary = "Bop: flip +-1 weights when a gradient moving average exceeds a threshold"
    source = PAPER
    config_class = BopConfig
    config: BopConfig

    def __init__(self, config: MethodConfig, regime: str, seed: int) -> None:
        super().__init__(config, regime, seed)
        self.bop: BopOptimizer | None = None

    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return SteSign()

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return SteSign()

    def convert(self, model: nn.Module, example: Any, arch: Binarizable) -> nn.Module:
        """Swap the binarizable layers, then store each binary weight as sign(initial weight)."""
        model = super().convert(model, example, arch)
        with torch.no_grad():
            for w in self.binary_weights():
                w.copy_(sign(w))
        return model

    def own_optimizers(self, model: nn.Module) -> list[torch.optim.Optimizer]:
        """Bop over the binary weights (the recipe's optimizer gets the rest). Every parameter must
        be either a binary weight of this method or a full-precision one: a binary weight that a
        float layer also uses, or a binary layer this method did not make, stops the run."""
        claims = {"bop": unique(self.binary_weights()), "recipe": full_precision_parameters(model)}
        routed = route_parameters(model, claims, rest=None)
        self.bop = BopOptimizer(routed["bop"], gamma=self.config.gamma, threshold=self.config.threshold)
        return [self.bop]

    def epoch_metrics(self) -> dict[str, Any]:
        """The current (scheduled) gamma."""
        return {"gamma": float(self.bop.param_groups[0]["lr"])} if self.bop is not None else {}


def full_precision_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter of ``model`` except the weights of weight-binarizing layers, collected
    module by module (so a binary weight also registered by another module, e.g. tied to a float
    layer, is claimed here too and the routing refuses it)."""
    params: list[nn.Parameter] = []
    for module in model.modules():
        binary = isinstance(module, QuantizedMixin) and module.binarizes_weight
        params += [p for n, p in module.named_parameters(recurse=False) if not (binary and n == "weight")]
    return unique(params)


def unique(params: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    """``params`` without repeats (a parameter shared by two modules is one parameter), in order."""
    return list({id(p): p for p in params}.values())
