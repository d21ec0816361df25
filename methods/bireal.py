"""Bi-Real Net's own training rule (Liu, Wu, Luo, Yang, Liu, Cheng, ECCV 2018, arXiv 1808.00278,
Sec. 3.2-3.3).

Activations (``bnn`` regime): forward sign(a), backward ApproxSign max(0, 2 - 2|a|) (Eq. 5).
Weights: the magnitude-aware sign, forward mean|W_k| * sign(W_k) per output filter k, backward
the gradient times mean|W_k| where |W_r| < 1 (Eq. 8-9; the mean is held constant in the backward
pass, as Eq. 9 does). The paper clips only the gradient, not the latent weights, so nothing is
clipped after a step. The ``bwn`` regime binarizes weights only and keeps the activations.

Bi-Real starts from a real-valued network trained with clip(-1, x, 1) in place of ReLU (Sec. 3.3,
"initialization"): that is the ``fp`` run of our ``bireal18``/``bireal34`` (a Hardtanh before
each binary conv), loaded by the variant's ``init_from: {variant: fp}``, not by this method.
"""

from __future__ import annotations

from torch import nn

from methods.catalog import register_method
from methods.protocol import Method
from methods.quantizers import ApproxSign, MagnitudeAwareSign


@register_method
class BiReal(Method):
    """Magnitude-aware sign on weights, ApproxSign on activations (Bi-Real Net)."""

    name = "bireal"
    summary = "Bi-Real Net's training: magnitude-aware weight sign, ApproxSign activations"
    source = "Liu et al. 2018 (Bi-Real Net, ECCV), Sec. 3.2-3.3, Eq. 5, 8-9"

    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return MagnitudeAwareSign()

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return ApproxSign()
