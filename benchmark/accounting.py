r"""Operations and model size of a converted network, one convention for every method.

The convention is Bi-Real Net's (Liu et al., ECCV 2018, Sec. 4.5 "Efficiency and memory usage
analysis", Table 5), which ReActNet keeps (Liu et al., ECCV 2020, Tables 1 and 4:
"OPs = BOPs/64 + FLOPs"):

.. math::
    \text{OPs} = \text{FLOPs} + \text{BOPs} / 64, \qquad
    \text{size} = 1\,\text{bit} \times \#\text{binary weights}
                + 32\,\text{bits} \times \#\text{other parameters}

(64: a 64-bit CPU does 64 XNOR/popcount binary operations in one instruction).

What is counted, per example (one image of the dataset's ``example_input``; for text, one
sentence of ``EXAMPLE_TOKENS`` tokens), on the network as the trainer evaluates it (the fully
binary network: ``Method.evaluating("binary")``):

- Only ``Conv2d`` and ``Linear`` layers (binary twins included). A layer's MACs are its
  multiply-accumulates on the example: output elements x (``C_in / groups x k_h x k_w``, or
  ``F_in`` for a linear layer), summed over every call. Bias additions, BatchNorm, pooling,
  activations, residual additions, scaling factors (OvSW's per-channel alpha, PaBT's gamma) and a
  transformer's activation-by-activation products (attention scores) are not counted, as in
  Bi-Real Net and ReActNet.
- **FLOPs are MACs**, not 2 x MACs: Bi-Real Net's 1.81e9 FLOPs for ResNet-18 are the 1.8e9
  multiply-adds of He et al. (CVPR 2016, Table 1), and its Bi-Real-18 FLOPs (1.39e8) are those of
  the float stem, the float 1x1 downsampling convolutions and the classifier counted the same way.
- **BOPs** (binary MACs): the MACs of a layer whose weights *and* inputs are binary (regime
  ``bnn``). A layer with binary weights and float inputs (regime ``bwn``) still accumulates float
  activations, so its MACs count as **FLOPs** (a BWN has the OPs of its float network and the
  size of a binary one). Every other layer's MACs are FLOPs.
- A multi-bit layer (PaBT, ``methods.multibit``: M weight bases x N activation bases) computes one
  binary convolution per kept operation ``(m, n)`` (``p_mn = 1``): its BOPs are
  ``kept operations x MACs of one binary convolution`` (``M N`` before pruning, 1 once pruned to
  a BNN or evaluated as one), FLOPs likewise in ``bwn`` (N = 1).
- Size: 1 bit per entry of a binary weight (of each weight base a kept operation uses, for a
  multi-bit layer), 32 bits per entry of every other parameter (float layers, BatchNorm affine
  parameters, biases, embeddings, PaBT's scales of the kept operations, or with base scaling
  one alpha per weight base and one beta per activation base in use; the scales of pruned
  operations and bases no kept operation uses are not deployed and not counted). Buffers
  (BatchNorm running statistics, masks, activation shifts) and values recomputed from the
  weights (OvSW's alpha) are not parameters and are not counted. A parameter shared by two
  modules counts once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from methods.inputs import forward
from methods.layers import BINARY_LAYER_TYPES, QuantizedMixin
from methods.multibit import MultiBitMixin
from methods.protocol import Method

BOPS_PER_OP = 64  # binary operations per OP: Bi-Real Net Sec. 4.5, ReActNet Tables 1 and 4
FLOAT_BITS = 32
BINARY_BITS = 1
KEYS = ("bops", "flops", "ops", "size_bits")  # the "accounting" record of result.json, in order
SOURCE = "Bi-Real Net (Liu et al. 2018), ReActNet (Liu et al. 2020): OPs = FLOPs + BOPs/64"


@dataclasses.dataclass(frozen=True)
class LayerCount:
    """One Conv2d/Linear on one example: ``macs`` of one operation (one convolution), the
    ``operations`` computed (kept operations of a multi-bit layer, else 1), whether its weights
    and inputs are binary, and the resulting BOPs and FLOPs."""

    name: str
    kind: str
    macs: int
    operations: int
    binary_weight: bool
    binary_input: bool

    @property
    def bops(self) -> int:
        """Binary MACs: only when weights and inputs are both binary."""
        return self.macs * self.operations if self.binary_weight and self.binary_input else 0

    @property
    def flops(self) -> int:
        """Full-precision MACs: every layer that is not fully binary (float, or BWN)."""
        return 0 if self.binary_weight and self.binary_input else self.macs * self.operations


@dataclasses.dataclass(frozen=True)
class Accounting:
    """A network's totals: BOPs, FLOPs (both MACs) and size in bits; ``ops`` derived."""

    bops: int
    flops: int
    size_bits: int

    @property
    def ops(self) -> float:
        r""":math:`\text{FLOPs} + \text{BOPs} / 64`."""
        return self.flops + self.bops / BOPS_PER_OP

    def as_dict(self) -> dict[str, float]:
        """The record written under ``accounting`` in ``result.json`` (keys :data:`KEYS`)."""
        return {"bops": self.bops, "flops": self.flops, "ops": self.ops, "size_bits": self.size_bits}


def operations(module: nn.Module) -> int:
    """Convolutions a layer computes: a multi-bit layer's kept (or forced) operations, else 1."""
    if isinstance(module, MultiBitMixin):
        return 1 if module.single_op is not None else len(module.alive)
    return 1


def weight_bases_used(module: MultiBitMixin) -> int:
    """Weight bases a kept (or the forced) operation of a multi-bit layer uses."""
    return 1 if module.single_op is not None else module.weight_bits


def act_bases_used(module: MultiBitMixin) -> int:
    """Activation bases a kept (or the forced) operation of a multi-bit layer uses."""
    return 1 if module.single_op is not None else len(module.active_acts)


def scale_bits(module: MultiBitMixin) -> dict[int, int]:
    """32 bits per deployed scaling factor: gamma of each kept operation, or (base scaling) alpha
    of each weight base and beta of each activation base in use."""
    if module.scaling == "base":
        return {
            id(module.alpha): FLOAT_BITS * weight_bases_used(module),
            id(module.beta): FLOAT_BITS * act_bases_used(module),
        }
    return {id(module.scale): FLOAT_BITS * operations(module)}


def _binary_flags(module: nn.Module) -> tuple[bool, bool]:
    if isinstance(module, QuantizedMixin):
        return module.binarizes_weight, module.binarizes_input
    return False, False


def layer_counts(model: nn.Module, example: Any) -> list[LayerCount]:
    """Every Conv2d/Linear (binary twins included) in the order it first runs on ``example``
    (a batch as the model takes it), with its MACs per example (the first sample's output
    elements x MACs per output element, summed over calls)."""
    macs: dict[str, int] = {}
    modules = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, tuple(BINARY_LAYER_TYPES)):

            def hook(m: nn.Module, _i: object, out: torch.Tensor, name: str = name) -> None:
                per_output = m.weight[0].numel()  # C_in/groups * k_h * k_w, or F_in
                macs[name] = macs.get(name, 0) + int(out[0].numel()) * per_output

            modules[name] = module
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            forward(model, example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return [
        LayerCount(
            name, type(modules[name]).__name__, n, operations(modules[name]), *_binary_flags(modules[name])
        )
        for name, n in macs.items()
    ]


def parameter_bits(module: nn.Module) -> dict[int, int]:
    """Bits of the parameters that a binary layer stores in fewer than 32 bits (or not at all),
    keyed by ``id(parameter)``: its binary weight (1 bit per entry, per base in use) and, for a
    multi-bit layer, its scales (:func:`scale_bits`)."""
    binary_weight, _ = _binary_flags(module)
    if not binary_weight:
        return {}
    weight: torch.Tensor = module.weight  # type: ignore[assignment]
    if not isinstance(module, MultiBitMixin):
        return {id(weight): BINARY_BITS * weight.numel()}
    per_base = weight.numel() // module.weight_bases
    return {id(weight): BINARY_BITS * per_base * weight_bases_used(module), **scale_bits(module)}


def size_bits(model: nn.Module) -> int:
    """1 bit per binary weight entry, 32 per entry of every other parameter; buffers not counted."""
    overrides: dict[int, int] = {}
    for module in model.modules():
        overrides |= parameter_bits(module)
    return sum(overrides.get(id(p), FLOAT_BITS * p.numel()) for p in model.parameters())


def count(model: nn.Module, example: Any) -> Accounting:
    """BOPs, FLOPs and size of ``model`` (converted, in the state to be counted) per example."""
    layers = layer_counts(model, example)
    return Accounting(
        bops=sum(layer.bops for layer in layers),
        flops=sum(layer.flops for layer in layers),
        size_bits=size_bits(model),
    )


def final(model: nn.Module, method: Method, example: Any, epoch: int) -> dict[str, float]:
    """The ``accounting`` record of a run: :func:`count` of the network whose accuracy is the
    run's ``test_acc``, the fully binary one (``method.evaluating("binary", epoch)``; for PaBT,
    the operations that are left, or that would be left if pruning ran to the end)."""
    with method.evaluating("binary", epoch):
        return count(model, example).as_dict()
