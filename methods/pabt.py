r"""PaBT: Pruning as a Binarization Technique (DESIGN 3.6).

Frickenstein, Mori, Balamuthu Sampath, Thoma, Fasfous, Vemparala, Frickenstein, Unger,
Passerone, Stechele, "Pruning as a Binarization Technique", CVPR Workshops 2024 (seed 004). No
code is public; every choice the seed leaves open is a hyperparameter below.

Each binary layer is a multi-bit layer (``methods.multibit``, Eq. 10):

.. math::
    y = \sum_{m=1}^{M} \sum_{n=1}^{N} p_{mn}\, \gamma_{mn}\, \operatorname{conv}(A_n, W_m),
    \qquad A_n = \operatorname{sign}(x - v_n)

with :math:`M` weight bases :math:`W_m \in \{-1,+1\}` trained by Bop (Sec. 3.3,
``methods.bop_optimizer``), :math:`N` activation bases with the clipped STE, one scale
:math:`\gamma_{mn}` per operation trained by AMSGrad (Sec. 3.4; ``torch.optim.Adam(amsgrad=True)``)
and a pruning mask :math:`p` (a model buffer). Everything else (first and last layer,
BatchNorm, biases) is trained by the recipe's optimizer.

Pruning (``methods.op_pruning``): within a window of the run, operations are pruned one by one
(several per step when there are more operations than steps) down to one per layer, each time
the globally least important kept one by Eq. 8's second-order estimate from AMSGrad's moments
(``criterion="importance"``, PaBT-I) or a uniformly random one (``"random"``, PaBT-R, Sec. 5.2,
drawn from a CPU generator seeded by the run seed). Importance scores are read once per pruning
step (the only host-device synchronization, on pruning steps only).

Evaluation: ``"binary"`` is the BNN that pruning would leave if it finished now, i.e. the same
greedy procedure run to the end on the current scores (for importance: each layer keeps its
most important kept operation) or on a copy of the random generator (for random: exactly the
operations the run will keep); after :math:`s_1` it is the remaining operation.
``"as_trained"`` is the current multi-operation network (the two coincide once every layer has
one operation left, and ``as_trained_differs`` turns False). Before :math:`s_1` the ``"binary"``
network runs on BatchNorm statistics gathered for the multi-operation one, so its accuracy
mid-pruning is pessimistic (near chance at mini scale); after :math:`s_1` BatchNorm adapts.

Flip statistics (``never_flipped``, ``flip_ratio``) count every weight base, pruned ones too (a
base no kept operation uses gets no gradient and stops flipping).

Initialization (the seed's Alg. 1 sets :math:`\theta_w \leftarrow \operatorname{sign}(\theta_w)` of a
pre-trained float model; the benchmark trains from the model's initial weights): the :math:`M`
bases are the residual binary expansion of the float weight (``basis_init``), the scales its
least-squares fit (``scale_init``), the shifts the thresholds of a uniform quantizer
(``shift_range``); see ``methods.multibit_init``.

Optimizers (by default): ``own_optimizers`` returns ``[Bop(bases), AMSGrad(scales)]`` and the recipe's
optimizer takes the rest (``methods.routing.optimizers_for``; it comes first, so
``metrics.csv``'s ``lr`` is the recipe's, as for ``bop``); the trainer's
lr schedule scales Bop's :math:`\gamma` and AMSGrad's step size alike, and the recipe's
optimizer too unless the recipe's ``schedule_scope`` is ``method`` (Bop's CIFAR recipe, which the
PaBT configs adopt). The seed's final rows of
Table 2 train BatchNorm with AMSGrad together with the scales; here BatchNorm and the float
first and last layers follow the benchmark's rule (the recipe's optimizer), like every method.

Table 2's other rows (Sec. 5.1: scaling factors :math:`\theta_{SF}`, optimizer scope, operation
pruning) are options of this method, each defaulting to PaBT's own choice:

- ``prune`` (column "Operation Pruning"): false trains the unpruned :math:`M/N` network and
  evaluates it as it is, all :math:`MN` binary convolutions of every layer
  (``evaluating("binary")`` forces nothing, ``as_trained_differs`` is False); its BOPs are
  :math:`MN` times the BNN's (``benchmark.accounting``).
- ``weight_optimizer`` (Sec. 3.3): ``bop`` stores the bases as :math:`\pm 1` and flips them by
  Bop; ``latent`` keeps latent real weights :math:`w` with forward :math:`\operatorname{sign}(w)`
  and the clipped STE :math:`\partial \operatorname{sign}(w) / \partial w = \mathbb{1}[|w| \le 1]`
  (the same weight quantizer), trained by the recipe's optimizer and clipped to :math:`[-1, 1]`
  at conversion and after every step (BinaryConnect, as ``ste``, DESIGN 3.1). They start as the
  values whose signs are the bases (``methods.multibit_init.expand_latent``; for :math:`M = 1` the
  float weight itself), so both start from the same binary network.
- ``scale_optimizer``: ``amsgrad`` (own, ``scale_lr``, scheduled) or ``recipe``: the recipe's
  optimizer with every other parameter, the seed's "ADAM(:math:`\theta`)" (under
  ``schedule_scope: method`` it keeps its lr, as the latent weights do).
- ``scaling`` (Sec. 3.2, Table 1): ``operation`` (:math:`\gamma_{mn}`) or ``base``, ABC-Net's
  :math:`\gamma_{mn} = \alpha_m \beta_n` (``methods.multibit``). The seed's
  :math:`\alpha, \beta` rows are "the implementation from [19]"; what is kept of it is the
  base-oriented factorization, trained like the seed's :math:`\theta_{SF}`. ABC-Net itself
  derives its :math:`M` bases from one latent weight and fits :math:`\alpha` by linear
  regression at each step (Sec. 3.1) and learns its shifts :math:`v_n` (Sec. 3.2); here the
  bases, the initial :math:`\alpha` (a least-squares fit) and the fixed shifts are the same as
  for ``operation``, so the two rows differ in the scaling only. With one operation per layer
  and BatchNorm right after every binary convolution (ResNet-20, ResNet-18), that one scale is
  normalized away in training (its gradient is zero up to rounding), so the two 1/1 rows can
  differ only through the optimizer's steps on rounding-level gradients.

Eq. 8 reads AMSGrad's moments of :math:`\gamma`: pruning by importance needs ``scaling:
operation`` and ``scale_optimizer: amsgrad`` (the config refuses other combinations when there
is something to prune). The rows as variants (``workflows/config/default.yaml``): ``pabt``
("γ, AMSGrad + BOP, ✓"), ``pabt_3x3`` (``prune: false``: "γ, ADAM/AMSGrad(θ_BN,SF), BOP(θ_W), ✗,
3/3"), ``pabt_1x1`` ("γ, ... BOP(θ_W), ✗, 1/1"), ``mbn_gamma_adam`` (1/1, latent, recipe: "γ,
ADAM(θ), ✗, 1/1") and ``mbn_alpha_beta_adam`` (the same with ``scaling: base``: "α, β, ADAM(θ),
✗, 1/1"). Where they differ from the seed: its ImageNet rows say AMSGrad(θ) where its CIFAR rows
say ADAM(θ), and here the recipe's optimizer (Adam in both PaBT recipes) serves both; its Bop
rows train the scales with BatchNorm's Adam (AMSGrad on ImageNet), here with AMSGrad at
``scale_lr``. The 8/8 row is an 8-bit integer network: the suite has no 8-bit quantization, so
that number stays UNSUPPORTED (regime ``mbn_8bit``).

Regimes: ``bnn``; ``bwn`` keeps float activations, so :math:`N = 1` without shift (``act_bases``
is ignored) and PaBT prunes :math:`M` weight bases down to one scaled binary weight.
``weight_bases = act_bases = 1`` has nothing to prune: a 1/1 network with one scale per layer
trained by Bop and AMSGrad (the seed's Table 2 baseline "γ, AMSGrad/ADAM + BOP, 1/1"). The
unpruned 3/3 network (``pabt_3x3``) also runs in ``bnn``, the regime of binary operations (each of
its 9 convolutions per layer takes a binary weight base and a binary activation base), but it
is a multi-bit network, not a BNN: 3-bit weights and activations, which its BOPs (9 times a
BNN's) and its ``layers.csv`` (``weight_bits``, ``act_bits``) show. Its reported number is
listed in regime ``bnn`` as variant ``pabt_3x3``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from methods.bop_optimizer import BopOptimizer
from methods.catalog import register_method
from methods.config import ConfigError, MethodConfig, hp
from methods.convert import Binarizable
from methods.multibit import SCALINGS, MultiBitMixin, ShiftedSign, make_multibit
from methods.multibit_init import BASIS_INITS, activation_shifts
from methods.op_pruning import choose_prunes, importance, prune_window, pruned_target
from methods.protocol import EvalMode, Method
from methods.quantizers import SteSign
from methods.ste import clip_latent_

PAPER = "Frickenstein et al., CVPRW 2024 (PaBT, seed 004)"
BOP = "Helwegen et al., NeurIPS 2019 (Bop, seed 003), Sec. 5.2"
MOMENTS = ("max_exp_avg_sq", "exp_avg_sq", "sqrt_max_exp_avg_sq")


@dataclasses.dataclass(frozen=True)
class PabtConfig(MethodConfig):
    weight_bases: int = hp(3, "M: binary weight bases per layer", f"{PAPER}, Sec. 5.3 (M = N = 3)")
    act_bases: int = hp(
        3,
        "N: binary activation bases per layer (bnn; bwn keeps float activations, N = 1)",
        f"{PAPER}, Sec. 5.3 (M = N = 3)",
    )
    scaling: str = hp(
        "operation",
        "scaling factors: operation (one gamma_mn per binary convolution) or base (ABC-Net's alpha_m "
        "per weight base and beta_n per activation base, gamma_mn = alpha_m beta_n)",
        f"{PAPER}, Sec. 3.1-3.2 (Eq. 1 and 5), Table 1 and Table 2 (column theta_SF); "
        "Lin et al., NeurIPS 2017 (ABC-Net), Sec. 3.1-3.2",
        SCALINGS,
    )
    weight_optimizer: str = hp(
        "bop",
        "weight bases: bop (stored as +-1, flipped by Bop) or latent (latent real weights, sign "
        "forward with the clipped STE, trained by the recipe's optimizer, clipped to [-1, 1])",
        f"{PAPER}, Sec. 3.3 and Table 2 (BOP(theta_W) vs ADAM(theta)/AMSGrad(theta))",
        ("bop", "latent"),
    )
    scale_optimizer: str = hp(
        "amsgrad",
        "scaling factors: amsgrad (own AMSGrad at scale_lr; its moments score importance) or recipe "
        "(the recipe's optimizer, with every other parameter: one optimizer for theta)",
        f"{PAPER}, Sec. 3.4 and Alg. 1 (AMSGrad); Table 2 (ADAM(theta), one optimizer for all)",
        ("amsgrad", "recipe"),
    )
    prune: bool = hp(
        True,
        "prune operations down to one per layer; false trains and evaluates the unpruned M/N network",
        f"{PAPER}, Table 2 (column 'Operation Pruning': the unpruned 3/3 and 1/1 rows)",
    )
    criterion: str = hp(
        "importance",
        "which operation to prune: importance score (PaBT-I, Eq. 8) or random (PaBT-R)",
        f"{PAPER}, Sec. 3.4 and 5.2",
        ("importance", "random"),
    )
    prune_start: float = hp(
        0.2,
        "t_start: share of the training steps at which pruning starts",
        f"our choice ({PAPER}, Alg. 1 defines t_start; its value is in supplement S2, not in the seed)",
    )
    prune_end: float = hp(
        0.8,
        "t_end: share of the training steps by which every layer has one operation left",
        f"our choice ({PAPER}, Alg. 1 defines t_end; its value is in supplement S2, not in the seed)",
    )
    kappa: float = hp(
        1.0,
        "weight kappa of the first-order term of the importance score",
        f"our choice: 1 is the plain second-order Taylor expansion ({PAPER}, Eq. 8 leaves it open)",
    )
    moment: str = hp(
        "max_exp_avg_sq",
        "AMSGrad state used as v in the importance score",
        f"{PAPER}, Sec. 3.4 and Alg. 1 (AMSGrad's v-hat); alternatives: v, and ALQ's sqrt(v-hat)",
        MOMENTS,
    )
    scale_lr: float = hp(
        1e-3,
        "AMSGrad step size for the scales gamma_mn (scaled by the recipe's lr schedule)",
        "our choice: AMSGrad's default step size (Reddi et al. 2018; torch.optim.Adam)",
    )
    gamma: float = hp(
        1e-4,
        "Bop adaptivity rate for the weight bases (the Bop optimizer's lr)",
        f"{BOP}; PaBT adopts Bop ({PAPER}, Sec. 3.3; its own values are in supplement S1)",
    )
    threshold: float = hp(1e-8, "Bop flip threshold tau for the weight bases", f"{BOP}")
    basis_init: str = hp(
        "residual",
        "initial weight bases from the float weight: residual expansion W_m = sign(R_{m-1}), "
        "or ABC-Net's shifted signs",
        f"our choice ({PAPER}, Alg. 1 only says theta_w <- sign(theta_w))",
        BASIS_INITS,
    )
    scale_init: str = hp(
        "fit",
        "initial gammas: fit (alpha_m / N, the float layer's fit) or uniform (all equal)",
        "our choice",
        ("fit", "uniform"),
    )
    shift_range: float = hp(
        1.0,
        "spread s of the activation shifts v_n = s (2n - 1 - N) / N (uniform quantizer thresholds)",
        "our choice (ABC-Net, Lin et al. 2017, spreads shifted binarizations over the input range)",
    )

    def validate(self) -> None:
        for key in ("weight_bases", "act_bases"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}={getattr(self, key)} must be >= 1")
        if not 0.0 <= self.prune_start < self.prune_end <= 1.0:
            raise ConfigError(
                f"prune_start={self.prune_start}, prune_end={self.prune_end}: "
                "need 0 <= prune_start < prune_end <= 1"
            )
        if self.kappa < 0.0:
            raise ConfigError(f"kappa={self.kappa} must be >= 0")
        if self.scale_lr <= 0.0:
            raise ConfigError(f"scale_lr={self.scale_lr} must be > 0")
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"gamma={self.gamma} must be in (0, 1]")
        if self.threshold < 0.0:
            raise ConfigError(f"threshold={self.threshold} must be >= 0")
        if self.shift_range < 0.0:
            raise ConfigError(f"shift_range={self.shift_range} must be >= 0")
        scored = self.prune and self.criterion == "importance" and self.weight_bases * self.act_bases > 1
        if scored and (self.scaling, self.scale_optimizer) != ("operation", "amsgrad"):
            raise ConfigError(
                f"criterion=importance scores AMSGrad's moments of the operation scales (Eq. 8), not "
                f"scaling={self.scaling} with scale_optimizer={self.scale_optimizer}: set "
                "prune=false, criterion=random, or scaling=operation with scale_optimizer=amsgrad"
            )


@register_method
class Pabt(Method):
    """Multi-bit layers pruned operation by operation down to a BNN."""

    name = "pabt"
    summary = "PaBT: prune a Bop-trained MxN multi-bit network down to a BNN by importance"
    source = PAPER
    config_class = PabtConfig
    config: PabtConfig
    layers: list[MultiBitMixin]  # type: ignore[assignment]

    def __init__(self, config: MethodConfig, regime: str, seed: int) -> None:
        super().__init__(config, regime, seed)
        self.bop: BopOptimizer | None = None
        self.amsgrad: torch.optim.Adam | None = None
        self.window = (0, 1)
        self.generator = torch.Generator().manual_seed((seed * 1_000_003 + 0xBA87) % (2**63 - 1))

    @property
    def act_bases(self) -> int:
        """N in effect: float activations (bwn) are a single base."""
        return self.config.act_bases if self.regime == "bnn" else 1

    @property
    def ops_per_layer(self) -> int:
        return self.config.weight_bases * self.act_bases

    # -- conversion ---------------------------------------------------------------------
    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        """Bases are stored as +-1: the clipped STE sign is the identity on them (as in Bop)."""
        return SteSign()

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return ShiftedSign(activation_shifts(self.act_bases, self.config.shift_range))

    def make_layer(self, name: str, module: nn.Module) -> nn.Module:
        """The multi-bit twin of a binarizable layer (bases expanded from its weight)."""
        c = self.config
        input_q = self.input_quantizer(name, module) if self.regime == "bnn" else None
        weight_q = self.weight_quantizer(name, module)
        return make_multibit(
            module,
            c.weight_bases,
            self.act_bases,
            c.basis_init,
            c.scale_init,
            weight_q,
            input_q,
            scaling=c.scaling,
            latent=self.latent,
        )

    @property
    def latent(self) -> bool:
        """Whether the weight bases are latent real weights (trained through the STE)."""
        return self.config.weight_optimizer == "latent"

    def convert(self, model: nn.Module, example: Any, arch: Binarizable) -> nn.Module:
        """Swap the binarizable layers; latent weights start inside [-1, 1] (BinaryConnect)."""
        model = super().convert(model, example, arch)
        if self.latent:
            with torch.no_grad():
                clip_latent_(self.binary_weights())
        return model

    # -- optimisation -------------------------------------------------------------------
    def own_optimizers(self, model: nn.Module) -> list[torch.optim.Optimizer]:
        """Bop for the weight bases and AMSGrad for the scales, each unless the config leaves them
        to the recipe's optimizer (which gets every other parameter)."""
        c = self.config
        own: list[torch.optim.Optimizer] = []
        if c.weight_optimizer == "bop":
            bases = [layer.weight for layer in self.layers]
            self.bop = BopOptimizer(bases, gamma=c.gamma, threshold=c.threshold)
            own.append(self.bop)
        if c.scale_optimizer == "amsgrad":
            scales = [p for layer in self.layers for p in layer.scale_parameters()]
            self.amsgrad = torch.optim.Adam(scales, lr=c.scale_lr, amsgrad=True)
            own.append(self.amsgrad)
        return own

    def setup(self, total_steps: int, device: torch.device) -> None:
        self.window = prune_window(total_steps, self.config.prune_start, self.config.prune_end)

    @property
    def total_prunes(self) -> int:
        """P = L (MN - 1): what it takes to leave one operation per layer (0 without pruning)."""
        return len(self.layers) * (self.ops_per_layer - 1) if self.config.prune else 0

    @property
    def pruned(self) -> int:
        return sum(self.ops_per_layer - len(layer.alive) for layer in self.layers)

    def after_step(self, step: int) -> None:
        if self.latent:
            with torch.no_grad():
                clip_latent_(self.binary_weights())
        due = pruned_target(step, self.window, self.total_prunes) - self.pruned
        if due > 0:
            self.prune(due)

    def prune(self, count: int) -> list[tuple[int, int, int]]:
        """Prune ``count`` operations by the criterion; returns (layer, m, n) of each."""
        choices = choose_prunes(self._alive(), count, self._scores(), self.generator)
        pruned = []
        for index, op in choices:
            m, n = divmod(op, self.act_bases)
            self.layers[index].prune(m, n)
            pruned.append((index, m, n))
        return pruned

    def importance_scores(self) -> list[Tensor]:
        """Eq. 8 per layer, (M, N) each, on the layer's device (operation scales in AMSGrad)."""
        state = self.amsgrad.state if self.amsgrad is not None else {}
        c = self.config
        return [
            importance(layer.scale.detach(), state.get(layer.scale, {}), c.kappa, c.moment)
            for layer in self.layers
        ]

    def _scores(self) -> Tensor | None:
        """(L, MN) importance on the CPU (one sync), or None under the random criterion."""
        if self.config.criterion == "random":
            return None
        return torch.stack([f.flatten() for f in self.importance_scores()]).cpu()

    def _alive(self) -> Tensor:
        """(L, MN) in {0, 1} from the layers' host-side structure (no device access)."""
        alive = torch.zeros(len(self.layers), self.ops_per_layer)
        for i, layer in enumerate(self.layers):
            for m, n in layer.alive:
                alive[i, m * self.act_bases + n] = 1.0
        return alive

    def survivors(self) -> list[tuple[int, int]]:
        """Per layer, the (m, n) that would remain if pruning ran to the end now."""
        alive = self._alive()
        generator = torch.Generator()
        generator.set_state(self.generator.get_state())  # a copy: evaluation draws nothing
        remaining = int(alive.sum()) - len(self.layers)
        for index, op in choose_prunes(alive, remaining, self._scores(), generator):
            alive[index, op] = 0.0
        return [divmod(int(row.nonzero()[0]), self.act_bases) for row in alive]  # type: ignore[misc]

    # -- evaluation ---------------------------------------------------------------------
    @property
    def as_trained_differs(self) -> bool:
        """Pruning will leave fewer operations than the network has now (never without pruning)."""
        return self.config.prune and any(len(layer.alive) > 1 for layer in self.layers)

    @contextlib.contextmanager
    def evaluating(self, mode: EvalMode, epoch: int) -> Iterator[None]:
        if mode == "binary" and self.as_trained_differs:
            for layer, op in zip(self.layers, self.survivors(), strict=True):
                layer.forced_op = op
        try:
            yield
        finally:
            for layer in self.layers:
                layer.forced_op = None

    # -- metrics ------------------------------------------------------------------------
    def layer_metrics(self) -> list[dict[str, Any]]:
        """Per layer: operations left and the effective bit-widths (bases still in use)."""
        return [
            {
                "order": i,
                "name": name,
                "ops_left": len(layer.alive),
                "weight_bits": layer.weight_bits,
                "act_bits": len(layer.active_acts),
            }
            for i, (name, layer) in enumerate(zip(self.layer_names, self.layers, strict=True))
        ]

    def epoch_metrics(self) -> dict[str, float]:
        left = [len(layer.alive) for layer in self.layers]
        return {
            "ops_left": sum(left) / max(len(left), 1),
            "ops_total_left": float(sum(left)),
        }

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The random criterion's generator; the masks are model buffers."""
        return {"generator": self.generator.get_state(), "pruned": self.pruned}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        if int(state["pruned"]) != self.pruned:
            raise ValueError(
                f"the checkpoint pruned {state['pruned']} operations but the model's masks show "
                f"{self.pruned}: load the model's state dict before the method's"
            )
