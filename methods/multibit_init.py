r"""How a multi-bit layer starts: its weight bases, their scales and its activation shifts
(PaBT, Frickenstein et al., CVPRW 2024, seed 004, Alg. 1 "initialize"; DESIGN 3.6).

The seed starts from a pre-trained float model and leaves the expansion of a float weight into
:math:`M` binary bases open; the choices here are ``basis_init`` (:data:`BASIS_INITS`), the
greedy residual expansion (Network Sketching, LQ-Nets) or ABC-Net's shifted bases (Lin et al.,
NeurIPS 2017), and ``scale_init``, the bases' least-squares fit or its mean. The layers these
initialize are ``methods.multibit``'s.
"""

from __future__ import annotations

import torch
from torch import Tensor

from methods.primitives import sign

BASIS_INITS = ("residual", "shifted")


def _residual_steps(w: Tensor, bases: int) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """The residuals :math:`R_0 .. R_{M-1}`, their signs and their mean magnitudes."""
    residual = w.detach().clone()
    residuals, signs, alphas = [], [], []
    for _ in range(bases):
        b = sign(residual)
        a = residual.abs().mean()
        residuals.append(residual.clone())
        residual -= a * b
        signs.append(b)
        alphas.append(a)
    return residuals, signs, alphas


def residual_expansion(w: Tensor, bases: int) -> tuple[Tensor, Tensor]:
    r"""Greedy residual binary expansion :math:`W \approx \sum_m \alpha_m W_m`.

    :math:`R_0 = W`, :math:`W_m = \operatorname{sign}(R_{m-1})`,
    :math:`\alpha_m = \operatorname{mean}|R_{m-1}|` (the least-squares scale of a sign),
    :math:`R_m = R_{m-1} - \alpha_m W_m` (Guo et al. 2017, "Network Sketching"; LQ-Nets).
    Returns ``(B, alpha)`` with ``B`` of shape ``(bases, *w.shape)`` in {-1, +1}.
    """
    _, signs, alphas = _residual_steps(w, bases)
    return torch.stack(signs), torch.stack(alphas)


def _shifted_arguments(w: Tensor, bases: int) -> Tensor:
    r""":math:`W - \bar W + u_m \sigma_W` for each :math:`m` (ABC-Net's sign arguments), stacked."""
    w = w.detach()
    u = torch.linspace(-1.0, 1.0, bases) if bases > 1 else torch.zeros(1)
    centred = w - w.mean()
    return torch.stack([centred + float(s) * w.std() for s in u])


def shifted_expansion(w: Tensor, bases: int) -> tuple[Tensor, Tensor]:
    r"""ABC-Net's shifted bases (Lin et al., NeurIPS 2017, Eq. 3-4):
    :math:`W_m = \operatorname{sign}(W - \bar W + u_m \sigma_W)` with
    :math:`u_m = -1 + 2 (m - 1) / (M - 1)` (:math:`u = 0` for :math:`M = 1`), and
    :math:`\alpha` the least-squares fit of :math:`W` by the bases."""
    signs = sign(_shifted_arguments(w, bases))
    design = signs.reshape(bases, -1).t().double()
    alphas = torch.linalg.lstsq(design, w.detach().reshape(-1, 1).double()).solution.reshape(bases)
    return signs, alphas.to(w.dtype)


def expand_weight(w: Tensor, bases: int, init: str) -> tuple[Tensor, Tensor]:
    """The initial weight bases and their least-squares scales (``init`` in :data:`BASIS_INITS`)."""
    if init == "residual":
        return residual_expansion(w, bases)
    if init == "shifted":
        return shifted_expansion(w, bases)
    raise ValueError(f"unknown basis init '{init}'; valid: {', '.join(BASIS_INITS)}")


def expand_latent(w: Tensor, bases: int, init: str) -> Tensor:
    r"""Latent real weights whose signs are :func:`expand_weight`'s bases, ``(bases, *w.shape)``:
    the residuals :math:`R_{m-1}` (``residual``) or ABC-Net's arguments
    :math:`W - \bar W + u_m \sigma_W` (``shifted``). For :math:`M = 1` and ``residual`` this is
    the float weight itself, where a latent-weight BNN starts (BinaryConnect)."""
    if init == "residual":
        return torch.stack(_residual_steps(w, bases)[0])
    if init == "shifted":
        return _shifted_arguments(w, bases)
    raise ValueError(f"unknown basis init '{init}'; valid: {', '.join(BASIS_INITS)}")


def activation_shifts(bases: int, spread: float = 1.0) -> list[float]:
    r"""Shifts :math:`v_n = s\,(2n - 1 - N) / N`, :math:`n = 1..N`: the thresholds of the uniform
    :math:`(N + 1)`-level quantizer of :math:`\operatorname{clip}(x, -s, s)`, so that
    :math:`\tfrac{s}{N} \sum_n \operatorname{sign}(x - v_n)` is that quantizer (a thermometer
    code; :math:`v = 0` for :math:`N = 1`, the plain BNN sign)."""
    return [spread * (2 * n - 1 - bases) / bases for n in range(1, bases + 1)]


def initial_scales(alphas: Tensor, act_bases: int, binarize_input: bool, init: str) -> Tensor:
    r"""Initial :math:`\gamma_{mn}` (M, N).

    ``fit``: :math:`\gamma_{mn} = \alpha_m \beta_n` with the weight bases' least-squares scales
    :math:`\alpha_m` and :math:`\beta_n = 1/N` (the thermometer code of
    :func:`activation_shifts`; :math:`\beta = 1` for float activations), so the multi-bit layer
    starts as a fit of the float layer. ``uniform``: every :math:`\gamma_{mn}` equal to the
    mean of those, so no operation starts out more important than another.
    """
    beta = 1.0 / act_bases if binarize_input else 1.0
    fitted = alphas.detach().reshape(-1, 1) * torch.full((1, act_bases), beta, dtype=alphas.dtype)
    if init == "fit":
        return fitted
    if init == "uniform":
        return torch.full_like(fitted, float(fitted.mean()))
    raise ValueError(f"unknown scale init '{init}'; valid: fit, uniform")


def initial_base_scales(
    alphas: Tensor, act_bases: int, binarize_input: bool, init: str
) -> tuple[Tensor, Tensor]:
    r"""Initial ABC-Net factors :math:`(\alpha, \beta)`, (M,) and (N,), whose products
    :math:`\alpha_m \beta_n` are :func:`initial_scales`' gammas: ``fit``: :math:`\alpha` the
    weight bases' least-squares scales (ABC-Net's linear regression, Sec. 3.1, for ``shifted``
    bases), :math:`\beta_n = 1/N` (1 for float activations); ``uniform``: every
    :math:`\alpha_m` their mean."""
    beta = torch.full((act_bases,), 1.0 / act_bases if binarize_input else 1.0, dtype=alphas.dtype)
    alpha = alphas.detach().reshape(-1).clone()
    if init == "uniform":
        return torch.full_like(alpha, float(alpha.mean())), beta
    if init != "fit":
        raise ValueError(f"unknown scale init '{init}'; valid: fit, uniform")
    return alpha, beta
