"""Binarization primitives shared by every method.

Each primitive states its forward function and its (pseudo-)gradient. Methods compose them
into quantizers (``methods/quantizers.py``); no layer re-implements the arithmetic.

Conventions: ``sign(0) = +1`` everywhere, so a binarized tensor is exactly in {-1, +1}.
Masks are float tensors with entries in {0, 1} (1 = frozen); a boolean mask is accepted.

Implementation note: on CPU, comparisons that produce boolean tensors and ``torch.where``
are several times slower than plain float arithmetic, and these functions run on every
activation of every binary layer, so they are written with float ops only
(``sign``, ``clamp``, ``hardtanh_backward``).
"""

from __future__ import annotations

import torch
from torch import Tensor


def sign(x: Tensor) -> Tensor:
    r"""Hard sign with :math:`\operatorname{sign}(0) = +1`; no gradient flows through it.

    .. math:: \operatorname{sign}(x) = +1 \text{ if } x \ge 0 \text{ else } -1

    Computed as ``sign(sign(x) + 1/2)``, which maps {-1, 0, +1} to {-1, +1, +1}.
    """
    return torch.sign(x.detach()).add_(0.5).sign_()


def clip_grad(grad: Tensor, x: Tensor) -> Tensor:
    r"""``grad`` where :math:`|x| \le 1`, 0 elsewhere (boundaries included).

    ``hardtanh_backward`` keeps the open interval (lo, hi); with lo, hi one ulp beyond
    -1 and 1 it keeps exactly the closed interval [-1, 1] of ``x``'s dtype.
    """
    eps = torch.finfo(x.dtype).eps
    return torch.ops.aten.hardtanh_backward(grad, x, -1.0 - eps, 1.0 + eps)


class _SteSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return sign(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return clip_grad(grad, x)


def ste_sign(x: Tensor) -> Tensor:
    r"""Sign with the clipped straight-through estimator (BinaryConnect; Courbariaux et al. 2015,
    Hubara et al. 2016).

    forward :math:`\operatorname{sign}(x)`; backward
    :math:`\partial y / \partial x = \mathbb{1}[|x| \le 1]`.
    """
    return _SteSign.apply(x)


class _Clip(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return clip_grad(grad, x)


def clip(x: Tensor) -> Tensor:
    r""":math:`\operatorname{clip}(x, -1, 1)` with gradient :math:`\mathbb{1}[|x| \le 1]`.

    Written out because ``torch.clamp`` passes no gradient at the boundary ``x = -1``; this
    keeps the unfrozen branch of :func:`masked_sign` and the plain clip identical.
    """
    return _Clip.apply(x)


class _MaskedSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, frozen_grad: bool) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, mask)
        ctx.frozen_grad = frozen_grad
        clipped = x.clamp(-1.0, 1.0)
        return clipped.add_(mask * (sign(x) - clipped))

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, mask = ctx.saved_tensors
        g = clip_grad(grad, x)
        if not ctx.frozen_grad:
            g = g - g * mask
        return g, None, None


def masked_sign(x: Tensor, mask: Tensor, frozen_grad: bool = False) -> Tensor:
    r"""StoMPP's masked binarizer (DESIGN 3.2).

    forward :math:`\hat x = M \odot \operatorname{sign}(x) + (1 - M) \odot
    \operatorname{clip}(x, -1, 1)`

    backward, ``frozen_grad=False`` (STE-free): :math:`(1 - M) \odot \mathbb{1}[|x| \le 1]`;
    frozen entries pass no gradient.
    backward, ``frozen_grad=True`` ("STE on frozen entries"): :math:`\mathbb{1}[|x| \le 1]`
    everywhere, i.e. the frozen entries use the clipped straight-through estimator.

    ``mask`` has entries in {0, 1} (1 = frozen), float or bool, broadcastable to ``x``.
    """
    return _MaskedSign.apply(x, mask.to(x.dtype), frozen_grad)


class _ApproxSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return sign(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        # 2 - 2|x| clamped at 0: the derivative of Bi-Real's piecewise-quadratic sign
        return grad * x.abs().mul_(-2.0).add_(2.0).clamp_(min=0.0)


def approx_sign(x: Tensor) -> Tensor:
    r"""Sign with Bi-Real Net's ApproxSign gradient (Liu et al., ECCV 2018, Eq. 5; used for
    activations by OvSW's reference code).

    forward :math:`\operatorname{sign}(x)`; backward
    :math:`\partial y / \partial x = \max(0, 2 - 2|x|)`.
    """
    return _ApproxSign.apply(x)


class _MagnitudeAwareSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w: Tensor) -> Tensor:  # type: ignore[override]
        scale = w.detach().abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)  # (out, 1, ...)
        ctx.save_for_backward(w, scale)
        return scale * sign(w)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        w, scale = ctx.saved_tensors
        # the open interval |w| < 1: the derivative of Clip(w, -1, 1) (Bi-Real Eq. 9)
        return torch.ops.aten.hardtanh_backward(grad * scale, w, -1.0, 1.0)


def magnitude_aware_sign(w: Tensor) -> Tensor:
    r"""Bi-Real Net's magnitude-aware weight sign (Liu et al., ECCV 2018, Sec. 3.3, Eq. 8-9).

    forward, per output filter :math:`k` of :math:`n_k` entries (dim 0 indexes filters):
    :math:`W_b = \frac{\lVert W_k \rVert_1}{n_k} \operatorname{sign}(W_k)`

    backward: :math:`\partial L / \partial W_r = \partial L / \partial W_b \cdot
    \frac{\lVert W_k \rVert_1}{n_k} \cdot \mathbb{1}[|W_r| < 1]`, the filter's mean magnitude
    held constant (Eq. 9 drops its own derivative) and :math:`\operatorname{sign}` replaced by
    :math:`\operatorname{Clip}(W_r, -1, 1)`.
    """
    return _MagnitudeAwareSign.apply(w)
