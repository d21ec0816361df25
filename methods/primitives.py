"""Binarization primitives shared by every method.

Each primitive states its forward function and its (pseudo-)gradient. Methods compose them
into quantizers (``methods/quantizers.py``); no layer re-implements the arithmetic.

Conventions: ``sign(0) = +1`` everywhere, so a binarized tensor is exactly in {-1, +1}.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sign(x: Tensor) -> Tensor:
    r"""Hard sign with :math:`\operatorname{sign}(0) = +1`; no gradient flows through it.

    .. math:: \operatorname{sign}(x) = +1 \text{ if } x \ge 0 \text{ else } -1
    """
    one = torch.ones((), dtype=x.dtype, device=x.device)
    return torch.where(x >= 0, one, -one)


class _SteSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return sign(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def ste_sign(x: Tensor) -> Tensor:
    r"""Sign with the clipped straight-through estimator (BinaryConnect; Courbariaux et al. 2015,
    Hubara et al. 2016).

    forward :math:`\operatorname{sign}(x)`; backward
    :math:`\partial y / \partial x = \mathbb{1}[|x| \le 1]`.
    """
    return _SteSign.apply(x)


class _MaskedSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, frozen_grad: bool) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, mask)
        ctx.frozen_grad = frozen_grad
        return torch.where(mask, sign(x), x.clamp(-1.0, 1.0))

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, mask = ctx.saved_tensors
        passes = x.abs() <= 1
        if not ctx.frozen_grad:
            passes = passes & ~mask
        return grad * passes.to(grad.dtype), None, None


def masked_sign(x: Tensor, mask: Tensor, frozen_grad: bool = False) -> Tensor:
    r"""StoMPP's masked binarizer (DESIGN 3.2).

    forward :math:`\hat x = M \odot \operatorname{sign}(x) + (1 - M) \odot \operatorname{clip}(x, -1, 1)`

    backward, ``frozen_grad=False`` (STE-free): :math:`(1 - M) \odot \mathbb{1}[|x| \le 1]`;
    frozen entries pass no gradient.
    backward, ``frozen_grad=True`` ("STE on frozen entries"): :math:`\mathbb{1}[|x| \le 1]`
    everywhere, i.e. the frozen entries use the clipped straight-through estimator.

    ``mask`` is a boolean tensor broadcastable to ``x`` (True = frozen, binary).
    """
    return _MaskedSign.apply(x, mask, frozen_grad)


class _Clip(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def clip(x: Tensor) -> Tensor:
    r""":math:`\operatorname{clip}(x, -1, 1)` with gradient :math:`\mathbb{1}[|x| \le 1]`.

    Written out because ``torch.clamp`` passes no gradient at the boundary ``x = -1``; this
    keeps the unfrozen branch of :func:`masked_sign` and the plain clip identical.
    """
    return _Clip.apply(x)
