"""Quantizer modules: a primitive from ``methods.primitives`` plus the state it needs.

Binary layers call ``quantizer(x)`` on their weight and on their input; the method owns and
drives the quantizers (fractions, masks, generators), the layers stay oblivious.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from methods.primitives import approx_sign, clip, magnitude_aware_sign, masked_sign, sign, ste_sign


class SteSign(nn.Module):
    r"""Clipped straight-through sign: forward :math:`\operatorname{sign}(x)`, backward
    :math:`\mathbb{1}[|x| \le 1]` (BinaryConnect)."""

    def forward(self, x: Tensor) -> Tensor:
        return ste_sign(x)


class ApproxSign(nn.Module):
    r"""Sign with Bi-Real's ApproxSign gradient :math:`\max(0, 2 - 2|x|)` (activations in
    OvSW's reference code)."""

    def forward(self, x: Tensor) -> Tensor:
        return approx_sign(x)


class MagnitudeAwareSign(nn.Module):
    r"""Bi-Real Net's weight binarizer (Liu et al., ECCV 2018, Eq. 8-9): forward
    :math:`\operatorname{mean}_k|W_k| \cdot \operatorname{sign}(W_k)` per output filter
    :math:`k`, backward the incoming gradient times that mean, where :math:`|W| < 1`
    (``methods.primitives.magnitude_aware_sign``)."""

    def forward(self, w: Tensor) -> Tensor:
        return magnitude_aware_sign(w)


class MaskedBinarizer(nn.Module):
    r"""StoMPP's stochastic partial binarizer for one tensor (DESIGN 3.2).

    .. math::
        \hat x = M \odot \operatorname{sign}(x) + (1 - M) \odot \operatorname{clip}(x, -1, 1)

    with a boolean mask :math:`M` (True = frozen) whose density follows ``fraction``.

    ``kind="weight"``: each entry carries a priority :math:`u` drawn U(0, 1) (``random``
    scheme) or its magnitude rank scaled to (0, 1) (``magnitude``: largest first) when the
    layer starts freezing and at every refresh (the owner calls :meth:`redraw`);
    :math:`M = u < f`. So each entry is frozen
    with probability :math:`f`, and between refreshes the mask only grows as :math:`f` rises.

    ``kind="activation"``: a fresh mask per element and forward pass, Bernoulli(f) for
    ``random``, the top-:math:`f` share by magnitude for ``magnitude``.

    ``fraction >= 1`` or ``force_binary``: plain sign (no gradient, or the STE under
    ``frozen_grad``); ``fraction <= 0``: plain clip.
    """

    def __init__(
        self,
        kind: Literal["weight", "activation"],
        scheme: str = "random",
        frozen_grad: bool = False,
        shape: torch.Size | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.scheme = scheme
        self.frozen_grad = frozen_grad
        self.fraction = 0.0
        self.force_binary = False
        self.generator: torch.Generator | None = None
        if kind == "weight":
            assert shape is not None, "a weight binarizer needs the weight's shape"
            # priorities start above any fraction (nothing frozen) until the first draw
            self.register_buffer("priority", torch.full(shape, 2.0))
        self.drawn = False

    def forward(self, x: Tensor) -> Tensor:
        if self.force_binary or self.fraction >= 1.0:
            return ste_sign(x) if self.frozen_grad else sign(x)
        if self.fraction <= 0.0:
            return clip(x)
        return masked_sign(x, self.mask(x), self.frozen_grad)

    def mask(self, x: Tensor) -> Tensor:
        """The current mask for ``x``: a float tensor in {0, 1}, 1 = frozen."""
        if self.kind == "weight":
            return _below(self.priority, self.fraction)
        if self.scheme == "magnitude":
            return _top_fraction(x.detach().abs(), self.fraction).to(x.dtype)
        noise = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        return _below(noise, self.fraction)

    @torch.no_grad()
    def redraw(self, x: Tensor) -> None:
        """Draw new weight priorities (the soft refresh: frozen entries may thaw)."""
        if self.scheme == "magnitude":
            ranks = torch.empty_like(x).flatten()
            order = torch.argsort(x.abs().flatten(), descending=True, stable=True)
            ranks[order] = torch.arange(order.numel(), device=x.device, dtype=x.dtype)
            self.priority.copy_(((ranks + 0.5) / order.numel()).view_as(x))
        else:
            self.priority.copy_(torch.rand(x.shape, generator=self.generator, device=x.device))
        self.drawn = True

    def realised_fraction(self, x: Tensor) -> float:
        """The share of entries currently frozen (weights only)."""
        if self.force_binary or self.fraction >= 1.0:
            return 1.0
        if self.fraction <= 0.0 or not self.drawn:
            return 0.0
        return float(_below(self.priority, self.fraction).mean())


def _below(u: Tensor, fraction: float) -> Tensor:
    """1.0 where ``u < fraction``, else 0.0, in float arithmetic (fast on CPU; ``u`` is a
    continuous draw, so ``u == fraction`` has probability 0 and maps to 0)."""
    return torch.sub(fraction, u).sign_().clamp_(min=0.0)


def _top_fraction(magnitude: Tensor, fraction: float) -> Tensor:
    """Per sample, the ``fraction`` share of entries with the largest magnitude."""
    flat = magnitude.flatten(1)
    k = int(round(fraction * flat.shape[1]))
    if k <= 0:
        return torch.zeros_like(magnitude, dtype=torch.bool)
    threshold = flat.topk(k, dim=1).values[:, -1:]
    return (flat >= threshold).view_as(magnitude)
