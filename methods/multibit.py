r"""Multi-bit binary layers: M binary weight bases, N binary activation bases, one scale per
(weight base, activation base) pair and a pruning mask (PaBT, Frickenstein et al., CVPRW 2024,
seed 004, Eq. 10; DESIGN 3.6).

For a layer with float weight :math:`W` and input :math:`x`:

.. math::
    y = \sum_{m=1}^{M} \sum_{n=1}^{N} p_{mn}\, \gamma_{mn}\,
        \operatorname{conv}(A_n, W_m) + b, \qquad
    A_n = \operatorname{sign}(x - v_n), \qquad W_m \in \{-1, +1\}

with the pruning mask :math:`p \in \{0, 1\}^{M \times N}` (a buffer, 1 = kept), the
operation-oriented scales :math:`\gamma_{mn}` (Sec. 3.2, a parameter) and fixed activation
shifts :math:`v_n`. The activation bases use the clipped straight-through estimator,
:math:`\partial A_n / \partial x = \mathbb{1}[|x - v_n| \le 1]`; the weight bases are stored as
:math:`\pm 1` and pass their gradient unchanged (the Bop convention, ``methods.bop``).

Computation (one convolution per forward pass, not :math:`M N`): by linearity,
:math:`\sum_m c_{mn} \operatorname{conv}(A_n, W_m) = \operatorname{conv}(A_n, \sum_m c_{mn} W_m)`
with :math:`c = p \odot \gamma`; the :math:`N` activation bases are concatenated along the input
channels (within each group) and the :math:`N` combined weights along the weight's input
channels, so the double sum is a single convolution over :math:`N C_\text{in}` input channels:
about :math:`N` times a binary convolution, whatever :math:`M`. Activation bases whose every
operation is pruned are skipped. A layer with one operation left (or one picked for evaluation
with :attr:`MultiBitMixin.forced_op`) computes the plain BNN layer
:math:`\gamma_{mn} \operatorname{conv}(\operatorname{sign}(x - v_n), W_m) + b` (with the scale applied
to the weight, :meth:`MultiBitMixin._single`).

The weight bases are stacked along the output channels: ``weight`` has shape
:math:`(M C_\text{out}, C_\text{in}/g, k_h, k_w)` (``(M F_\text{out}, F_\text{in})`` for
linear layers), so base :math:`m` is ``weight[m * C_out:(m + 1) * C_out]``.

Scaling (``scaling``, the seed's Table 2 column :math:`\theta_{SF}`): ``"operation"`` has one
parameter ``scale`` :math:`= \gamma \in \mathbb{R}^{M \times N}` (Sec. 3.2, Eq. 5); ``"base"``
has ABC-Net's base-oriented factors (Lin et al., NeurIPS 2017, Sec. 3.1 for the weight bases,
3.2 for the activation bases; the seed's Eq. 1 and Table 1): parameters ``alpha``
:math:`\in \mathbb{R}^M` (one per weight base) and ``beta`` :math:`\in \mathbb{R}^N` (one per
activation base), with :math:`\gamma_{mn} = \alpha_m \beta_n` (:meth:`MultiBitMixin.gammas`):
the same network with :math:`M + N` instead of :math:`M N` free factors, all trained by
gradient (the seed's :math:`\theta_{SF}`). Weight storage: ``weight`` holds either the bases
themselves (:math:`\pm 1`, for Bop) or latent real weights whose signs are the bases
(``methods.multibit_init.expand_latent``); the clipped straight-through sign of the weight
quantizer serves both. How the bases, scales and shifts start: ``methods.multibit_init``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods.layers import QuantizedMixin, conv_like, linear_like
from methods.multibit_init import (
    expand_latent,
    expand_weight,
    initial_base_scales,
    initial_scales,
)
from methods.primitives import ste_sign

Op = tuple[int, int]
Scales = Tensor | tuple[Tensor, Tensor]  # gamma (M, N), or (alpha (M,), beta (N,)) for base scaling

SCALINGS = ("operation", "base")


# -- activation bases -----------------------------------------------------------------------
class ShiftedSign(nn.Module):
    r"""The activation bases :math:`A_n = \operatorname{sign}(x - v_n)`, clipped STE
    :math:`\partial A_n / \partial x = \mathbb{1}[|x - v_n| \le 1]`.

    ``forward(x)`` stacks all :math:`N` bases along a new leading dimension;
    :meth:`bases` inserts them at any dimension (what a layer needs to concatenate them along
    its input channels) and :meth:`base` gives one.
    """

    def __init__(self, shifts: list[float]) -> None:
        super().__init__()
        self.shift_values = list(shifts)
        self.register_buffer("shifts", torch.tensor(shifts), persistent=False)

    @property
    def count(self) -> int:
        return len(self.shift_values)

    def forward(self, x: Tensor) -> Tensor:
        return self.bases(x, 0)

    def bases(self, x: Tensor, dim: int, shifts: Tensor | None = None) -> Tensor:
        """:math:`\\operatorname{sign}(x - v)` for the shifts ``shifts`` (default: all),
        stacked at dimension ``dim`` of the result."""
        v = self.shifts if shifts is None else shifts
        dim = dim if dim >= 0 else x.dim() + 1 + dim
        return ste_sign(x.unsqueeze(dim) - v.view(-1, *([1] * (x.dim() - dim))))

    def base(self, x: Tensor, n: int) -> Tensor:
        """The single base :math:`A_n`, shaped like ``x``."""
        v = self.shift_values[n]
        return ste_sign(x - v if v != 0.0 else x)


# -- layers ---------------------------------------------------------------------------------
class MultiBitMixin(QuantizedMixin):
    """The multi-bit arithmetic shared by convolutions and linear layers.

    Subclasses provide :meth:`_op` (the float op on prepared input and weight),
    :meth:`_concat_bases` and :meth:`_concat_weights`.
    """

    weight: nn.Parameter
    bias: nn.Parameter | None
    scale: nn.Parameter  # scaling "operation": gamma (M, N)
    alpha: nn.Parameter  # scaling "base": one factor per weight base (M,)
    beta: nn.Parameter  # scaling "base": one factor per activation base (N,)
    scaling: str
    prune_mask: Tensor
    active_index: Tensor
    weight_bases: int
    act_bases: int
    forced_op: Op | None

    def _init_multibit(self, bases: Tensor, scale: Scales, out_features: int) -> None:
        """``bases``: (M, *float weight shape), the bases in {-1, +1} or latent weights whose signs
        they are; ``scale``: the initial gammas (M, N), or (alpha (M,), beta (N,)) for base scaling."""
        if isinstance(scale, tuple):
            alpha, beta = scale
            self.scaling = "base"
            self.alpha = nn.Parameter(alpha.detach().clone())
            self.beta = nn.Parameter(beta.detach().clone())
            like = torch.outer(alpha, beta)
        else:
            self.scaling = "operation"
            self.scale = nn.Parameter(scale.detach().clone())
            like = scale
        m, n = like.shape
        self.weight_bases, self.act_bases, self.out_features_per_base = int(m), int(n), out_features
        self.weight = nn.Parameter(bases.reshape(m * out_features, *bases.shape[2:]).contiguous())
        self.register_buffer("prune_mask", torch.ones_like(like))
        self.register_buffer("active_index", torch.arange(n, device=like.device), persistent=False)
        self.forced_op = None
        self._sync_structure()

    def gammas(self) -> Tensor:
        r"""The scale of every operation, (M, N): :math:`\gamma` itself (``operation``) or
        :math:`\gamma_{mn} = \alpha_m \beta_n` (``base``)."""
        if self.scaling == "base":
            return self.alpha.unsqueeze(1) * self.beta.unsqueeze(0)
        return self.scale

    def scale_parameters(self) -> list[nn.Parameter]:
        """The layer's scaling factors: ``[scale]`` or ``[alpha, beta]``."""
        return [self.alpha, self.beta] if self.scaling == "base" else [self.scale]

    # -- pruning structure (host mirror of the mask, changed only when pruning) -------------
    def _sync_structure(self) -> None:
        """Refresh the host-side structure from the mask (one sync; at build and load only)."""
        mask = self.prune_mask.detach().cpu()
        ops = [(m, n) for m in range(self.weight_bases) for n in range(self.act_bases)]
        self._set_alive([op for op in ops if mask[op] > 0])

    def _set_alive(self, alive: list[Op]) -> None:
        self.alive: list[Op] = alive
        self.active_acts = sorted({n for _, n in alive})
        self.active_index = torch.tensor(self.active_acts, dtype=torch.long, device=self.prune_mask.device)

    def prune(self, m: int, n: int) -> None:
        """Set :math:`p_{mn} = 0`; refuses to remove the layer's last operation."""
        if (m, n) not in self.alive:
            raise ValueError(f"operation {(m, n)} is already pruned")
        if len(self.alive) == 1:
            raise ValueError("refusing to prune the last operation of a layer")
        with torch.no_grad():
            self.prune_mask[m, n] = 0.0
        self._set_alive([op for op in self.alive if op != (m, n)])

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)  # type: ignore[misc]
        self._sync_structure()

    @property
    def single_op(self) -> Op | None:
        """The one operation computed, if only one is (forced for evaluation, or the last kept)."""
        if self.forced_op is not None:
            return self.forced_op
        return self.alive[0] if len(self.alive) == 1 else None

    @property
    def weight_bits(self) -> int:
        """Weight bases still used by a kept operation (the effective weight bit-width)."""
        return len({m for m, _ in self.alive})

    # -- forward ----------------------------------------------------------------------------
    def basis(self, m: int) -> Tensor:
        """Weight base :math:`W_m` (through the weight quantizer), shaped like the float weight."""
        rows = self.out_features_per_base
        return self.weight_quantizer(self.weight[m * rows : (m + 1) * rows])

    def quantized_weight(self) -> Tensor:
        """:math:`W_m` of the single operation computed, else all bases stacked."""
        op = self.single_op
        return self.basis(op[0]) if op is not None else self.weight_quantizer(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        op = self.single_op
        return self._single(x, *op) if op is not None else self._multi(x)

    def _single(self, x: Tensor, m: int, n: int) -> Tensor:
        r""":math:`\gamma_{mn} \operatorname{conv}(A_n, W_m)`: one binary op and one scale,
        computed as :math:`\operatorname{conv}(A_n, \gamma_{mn} W_m)` (equal up to float
        rounding; scaling the weight instead of the output saves two activation-sized passes)."""
        a = self.input_quantizer.base(x, n) if self.binarizes_input else x  # type: ignore[operator]
        return self._op(a, self.basis(m) * self.gammas()[m, n])

    def _multi(self, x: Tensor) -> Tensor:
        r""":math:`\sum_{mn} p_{mn} \gamma_{mn} \operatorname{conv}(A_n, W_m)` as one op."""
        coeff = self.prune_mask * self.gammas()  # (M, N)
        shifts = None
        if len(self.active_acts) < self.act_bases:
            coeff = coeff.index_select(1, self.active_index)
            shifts = self.input_quantizer.shifts.index_select(0, self.active_index)  # type: ignore[union-attr]
        bases = self.weight_quantizer(self.weight).reshape(self.weight_bases, -1)
        combined = coeff.t() @ bases  # (N_active, prod(float weight shape))
        return self._op(self._concat_bases(x, shifts), self._concat_weights(combined))

    def _op(self, a: Tensor, w: Tensor) -> Tensor:
        """The float op with the bias: ``conv(a, w) + b``."""
        raise NotImplementedError

    def _concat_bases(self, x: Tensor, shifts: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _concat_weights(self, combined: Tensor) -> Tensor:
        raise NotImplementedError


class MultiBitConv2d(MultiBitMixin, nn.Conv2d):
    """``nn.Conv2d`` as a multi-bit layer (any stride, padding, dilation and groups)."""

    @classmethod
    def from_float(
        cls,
        conv: nn.Conv2d,
        bases: Tensor,
        scale: Scales,
        weight_quantizer: nn.Module | None,
        input_quantizer: ShiftedSign | None,
    ) -> MultiBitConv2d:
        layer = conv_like(cls, conv)
        if conv.bias is not None:
            layer.bias.data.copy_(conv.bias.data)  # type: ignore[union-attr]
        layer._init_quantizers(weight_quantizer, input_quantizer)
        layer._init_multibit(bases.to(conv.weight), _like(scale, conv.weight), conv.out_channels)
        return layer.to(conv.weight.device)  # the quantizers' buffers too

    def _op(self, a: Tensor, w: Tensor) -> Tensor:
        return self._conv_forward(a, w, self.bias)

    def _concat_bases(self, x: Tensor, shifts: Tensor | None) -> Tensor:
        """(B, C, H, W) -> (B, g * N * C/g, H, W): the bases of each group's channels together."""
        if not self.binarizes_input:
            return x
        q = self.input_quantizer
        if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            # the same tensor built in channels-last memory: no copy, no layout reorder in the conv
            nhwc = x.permute(0, 2, 3, 1).unflatten(3, (self.groups, -1))  # (B, H, W, g, C/g)
            return q.bases(nhwc, 4, shifts).flatten(3, 5).permute(0, 3, 1, 2)  # type: ignore[operator]
        grouped = x.unflatten(1, (self.groups, -1))  # (B, g, C/g, H, W)
        return q.bases(grouped, 2, shifts).flatten(1, 3)  # type: ignore[operator]

    def _concat_weights(self, combined: Tensor) -> Tensor:
        """(N, C_out * C_in/g * k * k) -> (C_out, N * C_in/g, k_h, k_w), matching the bases."""
        kernel = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        return combined.view(-1, *kernel).transpose(0, 1).flatten(1, 2)


class MultiBitLinear(MultiBitMixin, nn.Linear):
    """``nn.Linear`` as a multi-bit layer (inputs of shape (..., F_in))."""

    @classmethod
    def from_float(
        cls,
        linear: nn.Linear,
        bases: Tensor,
        scale: Scales,
        weight_quantizer: nn.Module | None,
        input_quantizer: ShiftedSign | None,
    ) -> MultiBitLinear:
        layer = linear_like(cls, linear)
        if linear.bias is not None:
            layer.bias.data.copy_(linear.bias.data)  # type: ignore[union-attr]
        layer._init_quantizers(weight_quantizer, input_quantizer)
        layer._init_multibit(bases.to(linear.weight), _like(scale, linear.weight), linear.out_features)
        return layer.to(linear.weight.device)  # the quantizers' buffers too

    def _op(self, a: Tensor, w: Tensor) -> Tensor:
        return F.linear(a, w, self.bias)

    def _concat_bases(self, x: Tensor, shifts: Tensor | None) -> Tensor:
        """(..., F) -> (..., N * F)."""
        if not self.binarizes_input:
            return x
        return self.input_quantizer.bases(x, -2, shifts).flatten(-2)  # type: ignore[operator]

    def _concat_weights(self, combined: Tensor) -> Tensor:
        """(N, F_out * F_in) -> (F_out, N * F_in), matching the bases."""
        return combined.view(-1, self.out_features, self.in_features).transpose(0, 1).flatten(1)


MULTIBIT_LAYER_TYPES: dict[type[nn.Module], type[MultiBitConv2d] | type[MultiBitLinear]] = {
    nn.Conv2d: MultiBitConv2d,
    nn.Linear: MultiBitLinear,
}


def _like(scale: Scales, reference: Tensor) -> Scales:
    """``scale`` (a tensor or an (alpha, beta) pair) on ``reference``'s device and dtype."""
    if isinstance(scale, tuple):
        return scale[0].to(reference), scale[1].to(reference)
    return scale.to(reference)


def make_multibit(
    module: nn.Module,
    weight_bases: int,
    act_bases: int,
    basis_init: str,
    scale_init: str,
    weight_quantizer: nn.Module | None,
    input_quantizer: ShiftedSign | None,
    scaling: str = "operation",
    latent: bool = False,
) -> MultiBitConv2d | MultiBitLinear:
    r"""The multi-bit twin of a float Conv2d/Linear, its bases expanded from its weight: stored
    as the bases (:math:`\pm 1`), or with ``latent`` as the latent weights whose signs they are
    (``methods.multibit_init.expand_latent``); ``scaling`` in :data:`SCALINGS`."""
    if input_quantizer is not None and input_quantizer.count != act_bases:
        raise ValueError(f"{input_quantizer.count} shifts for {act_bases} activation bases")
    if scaling not in SCALINGS:
        raise ValueError(f"unknown scaling '{scaling}'; valid: {', '.join(SCALINGS)}")
    bases, alphas = expand_weight(module.weight, weight_bases, basis_init)  # type: ignore[arg-type]
    if not bool(torch.isfinite(alphas).all() and alphas.abs().sum() > 0):
        alphas = torch.ones_like(alphas)  # an all-zero or degenerate weight: unit scales
    binarize_input = input_quantizer is not None
    scale: Scales = (
        initial_base_scales(alphas, act_bases, binarize_input, scale_init)
        if scaling == "base"
        else initial_scales(alphas, act_bases, binarize_input, scale_init)
    )
    if latent:
        bases = expand_latent(module.weight, weight_bases, basis_init)  # type: ignore[arg-type]
    cls = MULTIBIT_LAYER_TYPES[type(module)]
    return cls.from_float(module, bases, scale, weight_quantizer, input_quantizer)  # type: ignore[arg-type]
