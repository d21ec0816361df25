r"""StoMPP: Stochastic Masked Partial Progressive binarization (our documented interpretation).

Source: Smith and Islam, "Layerwise Progressive Freezing Enables STE-Free Training of Deep
Binary Neural Networks" (arXiv 2606.27759, v1 and v2; seeds 000 and 002). No code is public;
the abstracts fix the mechanism, this file fixes the details (DESIGN 3.2), each one a
hyperparameter below.

For every binarizable tensor :math:`x` (a binary layer's latent weight and, for BNNs, its
input activation) a boolean mask :math:`M` (True = frozen) selects

.. math::
    \hat x = M \odot \operatorname{sign}(x) + (1 - M) \odot \operatorname{clip}(x, -1, 1),
    \qquad \partial \hat x / \partial x = (1 - M) \odot \mathbb{1}[|x| \le 1]

(``frozen_grad="none"``, STE-free) or :math:`\mathbb{1}[|x| \le 1]` (``frozen_grad="ste"``:
frozen entries use the clipped STE). The mask density of layer :math:`l` follows the target
fraction :math:`f_l(t)` given by ``ordering``, ``schedule`` and ``freeze_end``
(``methods.schedules``). Weight masks: each entry has a priority drawn when the layer starts
freezing and redrawn every ``refresh`` steps (soft refresh; 0 = never), frozen when its
priority is below :math:`f_l(t)`, so the mask only grows between refreshes. Activation masks
are drawn per element each step. At :math:`f_l = 1` the layer is binary for good. After
:math:`T_f` the network is fully binary; under ``frozen_grad="none"`` binary weights then get
no gradient and never change.

Latent weights are clipped to [-1, 1] after every step (``clip_latent``), as in the STE
baseline: an entry outside [-1, 1] would otherwise receive no gradient ever again. Frozen
entries receive a zero gradient while their layer is partially frozen; the recipe's momentum
and weight decay still act on them until the layer is fully frozen (then the optimizer skips
the parameter, whose gradient is ``None``).

Evaluation "as trained" draws activation masks from a generator seeded by (seed, epoch).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from methods.catalog import register_method
from methods.config import ConfigError, MethodConfig, hp
from methods.convert import Binarizable
from methods.protocol import EvalMode, Method
from methods.quantizers import MaskedBinarizer
from methods.schedules import ORDERINGS, SCHEDULES, layer_fractions, slot_positions
from methods.ste import clip_latent_

PAPER = "Smith & Islam, arXiv 2606.27759 (StoMPP)"


@dataclasses.dataclass(frozen=True)
class StomppConfig(MethodConfig):
    ordering: str = hp(
        "forward",
        "layer order of freezing",
        f"{PAPER}, abstract: forward layerwise progression",
        ORDERINGS,
    )
    schedule: str = hp(
        "linear",
        "frozen-fraction curve inside a layer's slot",
        f"{PAPER}, Fig. 2a sweep; linear is our default",
        SCHEDULES,
    )
    freeze_end: float = hp(
        0.9,
        "share of training steps after which everything is binary",
        "our interpretation (DESIGN 3.2)",
    )
    refresh: int = hp(
        0,
        "steps between weight-mask redraws (soft refresh); 0 never redraws",
        f"{PAPER}, Fig. 2a sweep over refresh rate; 0 is our default",
    )
    scheme: str = hp(
        "random",
        "which entries freeze first: random or largest magnitude",
        f"{PAPER}, Fig. 14 masking-scheme sweep",
        ("random", "magnitude"),
    )
    frozen_grad: str = hp(
        "none",
        "gradient through frozen entries: none (STE-free) or ste",
        f"{PAPER}, abstract v2: STE only on frozen entries",
        ("none", "ste"),
    )
    schedule_steps: int = hp(4, "plateaus of the step schedule", "our choice")
    exp_rate: float = hp(5.0, "rate a of the exponential schedule", "our choice")
    clip_latent: bool = hp(
        True,
        "clip latent weights to [-1, 1] after each step",
        "BinaryConnect convention, our choice",
    )

    def validate(self) -> None:
        if not 0.0 < self.freeze_end <= 1.0:
            raise ConfigError(f"freeze_end={self.freeze_end} must be in (0, 1]")
        if self.refresh < 0:
            raise ConfigError(f"refresh={self.refresh} must be >= 0 (0 = never refresh)")
        if self.schedule_steps < 1:
            raise ConfigError(f"schedule_steps={self.schedule_steps} must be >= 1")
        if self.exp_rate <= 0:
            raise ConfigError(f"exp_rate={self.exp_rate} must be > 0")


@dataclasses.dataclass(frozen=True)
class StomppSteConfig(StomppConfig):
    frozen_grad: str = hp(
        "ste",
        "gradient through frozen entries: none (STE-free) or ste",
        f"{PAPER}, abstract v2: StoMPP + STE on frozen entries",
        ("none", "ste"),
    )


@register_method
class Stompp(Method):
    """Layerwise stochastic masked progressive binarization, STE-free by default."""

    name = "stompp"
    summary = "StoMPP: layerwise stochastic progressive freezing, STE-free (our interpretation)"
    source = PAPER
    config_class = StomppConfig
    config: StomppConfig

    def __init__(self, config: MethodConfig, regime: str, seed: int) -> None:
        super().__init__(config, regime, seed)
        self.weight_masks: list[MaskedBinarizer | None] = []
        self.act_masks: list[MaskedBinarizer | None] = []
        self.fractions: list[float] = []
        self.total_steps = 0
        self.step = 0
        self.generator: torch.Generator | None = None

    # -- conversion: which tensors get a mask (the hybrids override these two) -----------
    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        return MaskedBinarizer("weight", self.config.scheme, self.frozen_grad, module.weight.shape)

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        return MaskedBinarizer("activation", self.config.scheme, self.frozen_grad)

    @property
    def frozen_grad(self) -> bool:
        return self.config.frozen_grad == "ste"

    def convert(self, model: nn.Module, example: Any, arch: Binarizable) -> nn.Module:
        model = super().convert(model, example, arch)
        self.weight_masks = [_masked(layer.weight_quantizer) for layer in self.layers]
        self.act_masks = [_masked(layer.input_quantizer) for layer in self.layers]
        self.fractions = [0.0] * len(self.layers)
        return model

    # -- training hooks -----------------------------------------------------------------
    def setup(self, total_steps: int, device: torch.device) -> None:
        self.total_steps = total_steps
        self.positions = slot_positions(len(self.layers), self.config.ordering, self.seed)
        self.generator = torch.Generator(device=device).manual_seed(_mix(self.seed, 0x5707))
        for q in self._quantizers():
            q.generator = self.generator
        self.before_forward(0)

    def before_forward(self, step: int) -> None:
        self.set_fractions(step)
        refresh = self.config.refresh > 0 and step > 0 and step % self.config.refresh == 0
        for f, layer, wq in zip(self.fractions, self.layers, self.weight_masks, strict=True):
            if wq is not None and 0.0 < f < 1.0 and (refresh or not wq.drawn):
                wq.redraw(layer.weight)

    def set_fractions(self, step: int) -> None:
        """Every layer's frozen fraction at ``step``, given to its weight and input masks."""
        self.step = step
        c = self.config
        self.fractions = layer_fractions(
            step,
            self.total_steps,
            c.freeze_end,
            self.positions,
            c.ordering,
            c.schedule,
            c.schedule_steps,
            c.exp_rate,
        )
        for f, wq, aq in zip(self.fractions, self.weight_masks, self.act_masks, strict=True):
            for q in (wq, aq):
                if q is not None:
                    q.fraction = f

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        if self.config.clip_latent:
            clip_latent_(self.binary_weights())

    # -- evaluation ---------------------------------------------------------------------
    @property
    def as_trained_differs(self) -> bool:
        return True

    @contextlib.contextmanager
    def evaluating(self, mode: EvalMode, epoch: int) -> Iterator[None]:
        quantizers = self._quantizers()
        generator = self.generator
        if mode == "binary":
            for q in quantizers:
                q.force_binary = True
        else:
            device = generator.device if generator is not None else torch.device("cpu")
            eval_gen = torch.Generator(device=device).manual_seed(_mix(self.seed, epoch))
            for q in quantizers:
                q.generator = eval_gen
        try:
            yield
        finally:
            for q in quantizers:
                q.force_binary = False
                q.generator = generator

    # -- metrics ------------------------------------------------------------------------
    def layer_metrics(self) -> list[dict[str, Any]]:
        """Per binary layer: the target fraction and the frozen shares of weights and inputs."""
        rows = []
        for i, (name, layer, wq, aq) in enumerate(
            zip(self.layer_names, self.layers, self.weight_masks, self.act_masks, strict=True)
        ):
            rows.append(
                {
                    "order": i,
                    "name": name,
                    "target": self.fractions[i],
                    "weight_frozen": wq.realised_fraction(layer.weight) if wq is not None else float("nan"),
                    "act_frozen": aq.fraction if aq is not None else float("nan"),
                }
            )
        return rows

    def epoch_metrics(self) -> dict[str, float]:
        """Weight-frozen share over all binary weights (size-weighted), mean activation rate."""
        rows = self.layer_metrics()
        sizes = [layer.weight.numel() for layer in self.layers]
        weighted = [
            (r["weight_frozen"], n)
            for r, n in zip(rows, sizes, strict=True)
            if not math.isnan(r["weight_frozen"])
        ]
        acts = [r["act_frozen"] for r in rows if not math.isnan(r["act_frozen"])]
        return {
            "weight_frozen": sum(f * n for f, n in weighted) / sum(n for _, n in weighted)
            if weighted
            else math.nan,
            "act_frozen": sum(acts) / len(acts) if acts else math.nan,
        }

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The mask generator and which weight masks were drawn (priorities are model buffers)."""
        return {
            "generator": self.generator.get_state() if self.generator is not None else None,
            "drawn": [q.drawn if q is not None else False for q in self.weight_masks],
            "step": self.step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Also the fractions of the last step trained: a run resumed after an epoch's last step
        evaluates that epoch before any further step sets them (masks are model buffers)."""
        if "step" in state:
            self.set_fractions(int(state["step"]))
        if state.get("generator") is not None and self.generator is not None:
            self.generator.set_state(state["generator"])
        for q, drawn in zip(self.weight_masks, state.get("drawn", []), strict=False):
            if q is not None:
                q.drawn = bool(drawn)

    def _quantizers(self) -> list[MaskedBinarizer]:
        return [q for q in (*self.weight_masks, *self.act_masks) if q is not None]


@register_method
class StomppSte(Stompp):
    """StoMPP with the clipped STE on frozen entries (StoMPP paper v2 composition)."""

    name = "stompp_ste"
    summary = "StoMPP with the clipped STE on frozen entries"
    config_class = StomppSteConfig


def _masked(q: nn.Module) -> MaskedBinarizer | None:
    return q if isinstance(q, MaskedBinarizer) else None


def _mix(seed: int, salt: int) -> int:
    """A 63-bit generator seed from (run seed, salt), stable across platforms."""
    return (seed * 1_000_003 + salt * 7_919 + 12_345) % (2**63 - 1)
