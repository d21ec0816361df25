r"""The StoMPP paper's hybrids (appendix B.2; DESIGN 3.3): StoMPP's progressive masks on one
kind of tensor, the clipped STE on the other.

- ``hybrid``: activations get StoMPP's masked binarizer (frozen entries pass no gradient under
  ``frozen_grad="none"``), weights the clipped STE,
  :math:`\partial \hat W / \partial W = \mathbb{1}[|W| \le 1]` at every step.
- ``reverse_hybrid``: weights get StoMPP's masked binarizer, activations the clipped STE.

Everything else (orderings, schedules, ``freeze_end``, refresh, latent clipping, evaluation)
is StoMPP's (``methods.stompp``). Both exist only for BNNs: in a BWN, ``hybrid`` would be STE
and ``reverse_hybrid`` would be StoMPP.
"""

from __future__ import annotations

from torch import nn

from methods.catalog import register_method
from methods.quantizers import SteSign
from methods.stompp import PAPER, Stompp


@register_method
class Hybrid(Stompp):
    """StoMPP masks on activations, clipped STE on weights."""

    name = "hybrid"
    summary = "StoMPP masks on activations, clipped STE on weights (StoMPP appendix B.2)"
    source = f"{PAPER}, appendix B.2"
    regimes = ("bnn",)

    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        return SteSign()


@register_method
class ReverseHybrid(Stompp):
    """StoMPP masks on weights, clipped STE on activations."""

    name = "reverse_hybrid"
    summary = "StoMPP masks on weights, clipped STE on activations (StoMPP appendix B.2)"
    source = f"{PAPER}, appendix B.2"
    regimes = ("bnn",)

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        return SteSign()
