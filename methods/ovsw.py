r"""OvSW: Overcoming Silent Weights (AGS + SAD on top of an XNOR-style BNN).

Source: Xiang, Chen, Li, Wu, Liu, "OvSW: Overcoming Silent Weights for Accurate Binary
Neural Networks", ECCV 2024 (seed 001); reference code JingyangXiang/OvSW
(``model/modules/ovsw.py``: ``OvSWConv2d``; ``trainers/ovsw.py``; ``args.py``; the run
scripts ``resnet18_resnet20_vggsmall.py`` and ``resnet18_resnet34_imagenet.py``). DESIGN 3.4.

Binarization (``OvSWConv2d.xnor`` with ``act_a: binary``, ``act_w: ste``,
``scaling_factor: False``):

- weights: :math:`\hat W_k = \alpha_k \operatorname{sign}(W_k)` per output filter :math:`k`,
  with the *plain, unclipped* straight-through estimator
  :math:`\partial \operatorname{sign}(w) / \partial w = 1` (``StraightThroughEstimator``) and

  .. math::
      \alpha_k = \operatorname{mean}\Bigl|\frac{W_k - \mu_k}{\sqrt{s_k^2 + 10^{-5}}}\Bigr|,

  :math:`\mu_k`, :math:`s_k^2` the mean and *unbiased* variance of filter :math:`k`
  (``get_scale``): the mean absolute value of the standardized filter, recomputed every
  forward pass under ``no_grad``, so no gradient flows through :math:`\alpha` and it is not a
  parameter (``--scaling_factor False`` in every run script; the paper's Sec. 3 and
  Algorithm 1 describe an XNOR-Net++ factor learned by SGD instead, which the code follows
  only with ``--scaling_factor True``). The reference multiplies the convolution's output
  by :math:`\alpha`; scaling the weight instead is the same map for bias-free layers (all of
  the reference's) and only leaves a layer's bias unscaled.
- activations (``bnn``): forward :math:`\operatorname{sign}(a)`, backward Bi-Real's
  ApproxSign :math:`\max(0, 2 - 2|a|)` (paper Eq. 6). In training the reference first
  divides the input by its per-sample standard deviation (unbiased, over every non-batch
  dimension, plus :math:`10^{-5}`, detached); the sign is unchanged but the gradient becomes
  :math:`\max(0, 2 - 2|a/s|)/s`. The paper does not mention it; ``act_normalize`` keeps it
  (default, as the code) or drops it.
- ``bwn``: weights as above, float activations (the ReLUs stay).
- The first and the last layer stay full precision, as in the reference models (``conv1`` and
  ``fc`` are plain ``nn.Conv2d``/``nn.Linear`` there). The reference's ImageNet ResNets also
  keep the 1x1 downsample convolutions in float; our converter binarizes every layer but the
  ones the architecture declares full precision (``conv1`` and ``fc`` here), as for every method.

Each step, after ``backward`` and before the optimizer step (``trainers/ovsw.py`` calls
``adaptive_gradient_scale`` then ``conditional_dampening`` on every binary layer, then
``optimizer.step()``, whose SGD adds weight decay and momentum), for every binary layer with
latent weight :math:`W` and gradient :math:`G`:

1. AGS (paper Eq. 14): per output filter :math:`k`, with
   :math:`\|G_k\| \leftarrow \max(\|G_k\|_F, 10^{-6})` and
   :math:`\|W_k\| \leftarrow \max(\|W_k\|_F, 10^{-3})` (the reference's clamps),
   if :math:`\|G_k\| / \|W_k\| < \lambda` then
   :math:`G_k \leftarrow \lambda \|W_k\| / \|G_k\| \cdot G_k`; other filters are untouched.
   Computed as :math:`G_k \leftarrow \max(1, \lambda \|W_k\| / \|G_k\|)\, G_k`.
2. SAD (Eqs. 15-16): per weight entry,
   :math:`S \leftarrow m S + (1 - m)\,\mathbb{1}[\operatorname{sign}(W_t) \ne
   \operatorname{sign}(W_{t-1})]` with :math:`S = 0` at the start (``track_ones: False``),
   where :math:`W_t` is the weight now (before this step's update) and :math:`W_{t-1}` the
   weight seen at the previous step's hook, i.e. before the previous optimizer step (the
   reference's ``weight_prev`` buffer, initialised to the initial weight); then
   :math:`G \leftarrow G + \gamma W` where :math:`S < \sigma` ("silent" weights). The EMA is
   updated before the test, so it uses :math:`S(t)` (the paper's Algorithm 1 lists the update
   after the SGD step; the code is followed). We keep only the previous *signs*, with
   sign(0) = +1 (the reference's ``torch.sign`` gives 0 at 0).

Defaults are the reference code's: :math:`m = 0.999`, :math:`\sigma = 10^{-4}` (``args.py``,
never overridden by the run scripts); CIFAR :math:`\lambda = 0.04`, :math:`\gamma = 9\cdot
10^{-4}` (``resnet18_resnet20_vggsmall.py``); ImageNet :math:`\lambda = 0.01`,
:math:`\gamma = 2\cdot 10^{-5}` (``resnet18_resnet34_imagenet.py``, README). Discrepancies
with the paper's text, where the code is followed: the paper (Sec. 5.1, 5.2, 5.3, Fig. 3b)
calls the second number ":math:`\sigma`", but the code passes it as ``--dampen_weight``,
the penalty :math:`\gamma` of Eq. 16, and keeps the threshold ``--track_threshold`` at
:math:`10^{-4}`; the paper gives ImageNet :math:`\lambda = 0.02` (Sec. 5.2), the code 0.01.
``family`` picks the CIFAR or ImageNet pair for whichever of ``ags_lambda`` and
``sad_gamma`` is left unset; the resolved numbers are what the config records.

The paper's component ablation (Tab. 3, left) is two plain overrides of ``ovsw``:
``sad: false`` (AGS only) and ``ags: false`` (SAD only); its "vanilla" BNN (Tab. 3, the
Sec. 5.3 convergence rows, Fig. 1) is both off (the variant ``ovsw_vanilla``): this binarizer
without gradient rewriting, not the clipped STE without scale of ``methods.ste``.

Metrics: besides the base class's ``never_flipped`` and ``flip_ratio``, ``ags_ratio`` (mean
:math:`\|G_k\|/\|W_k\|` before scaling) and ``silent`` (percent of weights with
:math:`S < \sigma`), both taken at the first step of each epoch as the reference logs them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor, nn

from methods.catalog import register_method
from methods.config import ConfigError, MethodConfig, hp
from methods.flips import signs_of as signs_pm1  # foreach sign with sign(0) = +1
from methods.primitives import approx_sign, sign
from methods.protocol import Method

PAPER = "Xiang et al., ECCV 2024 (OvSW, seed 001)"
CODE = "JingyangXiang/OvSW"
GRAD_NORM_FLOOR = 1e-6  # OvSWConv2d.adaptive_gradient_scale: grad norm clamp(min=1e-6)
WEIGHT_NORM_FLOOR = 1e-3  # ... and param norm clamp(min=1e-3)
STD_EPS = 1e-5  # get_scale and xnor: sqrt(var + 1e-5)

FAMILY_DEFAULTS: dict[str, dict[str, float]] = {
    "cifar": {"ags_lambda": 0.04, "sad_gamma": 9e-4},
    "imagenet": {"ags_lambda": 0.01, "sad_gamma": 2e-5},
}


def family_defaults(family: str) -> dict[str, float]:
    """The reference code's (lambda, gamma) for a dataset family."""
    if family not in FAMILY_DEFAULTS:
        raise ConfigError(f"family={family!r} is not one of {', '.join(FAMILY_DEFAULTS)}")
    return FAMILY_DEFAULTS[family]


@dataclasses.dataclass(frozen=True)
class OvswConfig(MethodConfig):
    """OvSW's hyperparameters. ``ags_lambda``/``sad_gamma`` left at None take ``family``'s
    values in ``__post_init__``, so the config (and ``config.json``) holds resolved numbers;
    ``dataclasses.replace(config, family=...)`` keeps the numbers already resolved."""

    family: str = hp(
        "cifar",
        "dataset family whose reference defaults fill ags_lambda and sad_gamma when unset",
        f"{CODE}: resnet18_resnet20_vggsmall.py (CIFAR), resnet18_resnet34_imagenet.py (ImageNet)",
        tuple(FAMILY_DEFAULTS),
    )
    ags: bool = hp(
        True, "adaptive gradient scaling (AGS) on", f"{PAPER}, Sec. 4.2, Tab. 3; {CODE} --enable_ags"
    )
    sad: bool = hp(
        True, "silence awareness decaying (SAD) on", f"{PAPER}, Sec. 4.3, Tab. 3; {CODE} --enable_dampen"
    )
    ags_lambda: float | None = hp(
        None,
        "AGS lower bound lambda of ||G_k||/||W_k|| (None: family default, 0.04 cifar / 0.01 imagenet)",
        f"{CODE} --delta: 0.04 (resnet18_resnet20_vggsmall.py), 0.01 (resnet18_resnet34_imagenet.py, "
        f"README); {PAPER}: 0.04 (Sec. 5.1, Fig. 3a) but 0.02 for ImageNet (Sec. 5.2)",
    )
    sad_gamma: float | None = hp(
        None,
        "SAD penalty gamma added as gamma*W to silent weights' gradients "
        "(None: family default, 9e-4 cifar / 2e-5 imagenet)",
        f"{CODE} --dampen_weight: 9e-4 (resnet18_resnet20_vggsmall.py), 2e-5 (ImageNet script, README); "
        f"{PAPER} Sec. 5.1-5.3 and Fig. 3b call these numbers 'sigma' (code followed)",
    )
    sad_sigma: float = hp(
        1e-4,
        "SAD threshold sigma: weights with flip EMA S < sigma are silent",
        f"{CODE} args.py --track_threshold default (the scripts keep it); {PAPER} Eq. 16 gives no value",
    )
    sad_momentum: float = hp(
        0.999, "momentum m of the flip EMA S", f"{CODE} args.py --track_momentum; {PAPER} Eq. 15"
    )
    act_normalize: bool = hp(
        True,
        "in training, divide binary-layer inputs by their per-sample std (detached) before the sign",
        f"{CODE} model/modules/ovsw.py OvSWConv2d.xnor (not in the paper)",
    )

    def __post_init__(self) -> None:
        for key, value in family_defaults(self.family).items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        super().__post_init__()

    def validate(self) -> None:
        if not self.ags_lambda > 0:  # type: ignore[operator]
            raise ConfigError(f"ags_lambda={self.ags_lambda} must be > 0")
        if not self.sad_gamma >= 0:  # type: ignore[operator]
            raise ConfigError(f"sad_gamma={self.sad_gamma} must be >= 0")
        if not self.sad_sigma >= 0:
            raise ConfigError(f"sad_sigma={self.sad_sigma} must be >= 0")
        if not 0 <= self.sad_momentum < 1:
            raise ConfigError(f"sad_momentum={self.sad_momentum} must be in [0, 1)")


# -- binarization -------------------------------------------------------------------------
class _IdentitySteSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        return sign(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad


def identity_ste_sign(x: Tensor) -> Tensor:
    r"""Sign with the plain (unclipped) straight-through estimator (Bengio et al. 2013; OvSW's
    ``StraightThroughEstimator``): forward :math:`\operatorname{sign}(x)`, backward
    :math:`\partial y / \partial x = 1`."""
    return _IdentitySteSign.apply(x)


def _filter_dims(t: Tensor) -> tuple[int, ...]:
    """Every dimension but the first (output channels / samples)."""
    return tuple(range(1, t.dim()))


def _centered_and_var(x: Tensor) -> tuple[Tensor, Tensor]:
    """``x`` minus its mean over every dimension but the first, and its unbiased variance there
    (two passes: ``torch.var`` is several times slower on CPU, and these run every forward)."""
    dims = _filter_dims(x)
    centered = x - x.mean(dim=dims, keepdim=True)
    n = centered[0].numel()
    return centered, torch.linalg.vector_norm(centered, dim=dims, keepdim=True).square_().div_(n - 1)


@torch.no_grad()
def standardized_scale(w: Tensor) -> Tensor:
    r""":math:`\alpha_k = \operatorname{mean}|W_k - \mu_k| / \sqrt{s_k^2 + 10^{-5}}`, shape
    ``(C_out, 1, ...)``: the mean absolute value of each standardized filter (unbiased
    variance, as ``torch.var``'s default in the reference's ``get_scale``). No gradient."""
    centered, var = _centered_and_var(w)
    return centered.abs_().mean(dim=_filter_dims(w), keepdim=True).div_(var.add_(STD_EPS).sqrt_())


class StandardizedScaleSign(nn.Module):
    r"""OvSW's weight quantizer: :math:`\alpha \odot \operatorname{sign}(W)` per output filter,
    :math:`\alpha` from :func:`standardized_scale` (recomputed each call, not learned, no
    gradient), backward the identity (plain STE), so :math:`\partial L/\partial W =
    \alpha \odot \partial L/\partial \hat W`."""

    def forward(self, w: Tensor) -> Tensor:
        return identity_ste_sign(w) * standardized_scale(w)


@torch.no_grad()
def per_sample_std(x: Tensor) -> Tensor:
    r""":math:`\sqrt{\operatorname{var}(x_n) + 10^{-5}}` per sample :math:`n` (unbiased, over every
    non-batch dimension), broadcastable to ``x``; no gradient."""
    return _centered_and_var(x)[1].add_(STD_EPS).sqrt_()


class _ScaledApproxSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, s: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, s)
        return sign(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, s = ctx.saved_tensors
        # max(0, 2 - 2|x|/s) / s = max(0, 2/s - (2/s^2)|x|), s > 0
        slope = s.reciprocal().mul_(2.0)
        return torch.addcmul(slope, x.abs(), slope.square().mul_(-0.5)).clamp_(min=0.0).mul_(grad), None


def scaled_approx_sign(x: Tensor, s: Tensor) -> Tensor:
    r""":func:`~methods.primitives.approx_sign` of :math:`x / s` for a positive constant
    :math:`s` (no gradient), without materializing :math:`x / s`: forward
    :math:`\operatorname{sign}(x)`, backward :math:`\max(0, 2 - 2|x|/s) / s`."""
    return _ScaledApproxSign.apply(x, s)


class NormalizedApproxSign(nn.Module):
    r"""OvSW's activation quantizer: :math:`\operatorname{sign}(a)` with the ApproxSign gradient.

    With ``normalize`` and in training mode the input is first divided by its detached
    per-sample std :math:`s` (reference ``OvSWConv2d.xnor``): forward unchanged, backward
    :math:`\max(0, 2 - 2|a/s|)/s` (:func:`scaled_approx_sign`). Otherwise backward
    :math:`\max(0, 2 - 2|a|)` (:func:`~methods.primitives.approx_sign`).
    """

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize

    def forward(self, x: Tensor) -> Tensor:
        if self.normalize and self.training and x.dim() >= 2:
            return scaled_approx_sign(x, per_sample_std(x))
        return approx_sign(x)


# -- the per-step gradient rewriting -------------------------------------------------------
def filter_norms(grad: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Per-output-filter Frobenius norms ``(max(||G_k||, 1e-6), max(||W_k||, 1e-3))``, keepdim."""
    dims = _filter_dims(weight)
    g = torch.linalg.vector_norm(grad, dim=dims, keepdim=True).clamp_(min=GRAD_NORM_FLOOR)
    w = torch.linalg.vector_norm(weight, dim=dims, keepdim=True).clamp_(min=WEIGHT_NORM_FLOOR)
    return g, w


def ags_scale_(grad: Tensor, grad_norm: Tensor, weight_norm: Tensor, lam: float) -> None:
    r"""AGS in place: :math:`G_k \leftarrow \max(1, \lambda \|W_k\| / \|G_k\|)\, G_k`, i.e. filters
    with :math:`\|G_k\|/\|W_k\| < \lambda` are rescaled to ratio :math:`\lambda`, the rest are
    multiplied by exactly 1."""
    grad.mul_(weight_norm.mul(lam).div_(grad_norm).clamp_(min=1.0))


def sad_track_(scores: list[Tensor], prev: list[Tensor], weights: list[Tensor], m: float) -> list[Tensor]:
    r"""SAD's flip EMA in place: :math:`S \leftarrow m S + (1 - m) \mathbb{1}[s_t \ne s_{t-1}]`
    with :math:`s = \operatorname{sign}(W)`; returns the new signs (the next call's ``prev``).

    Float arithmetic: :math:`\mathbb{1}[s_t \ne s_{t-1}] = (1 - s_t s_{t-1})/2`."""
    signs = signs_pm1(weights)
    flipped = torch._foreach_mul(signs, prev)
    torch._foreach_mul_(flipped, -0.5 * (1.0 - m))
    torch._foreach_add_(flipped, 0.5 * (1.0 - m))  # (1 - m) * flipped
    torch._foreach_mul_(scores, m)
    torch._foreach_add_(scores, flipped)
    return signs


def silent_masks(scores: list[Tensor], sigma: float) -> list[Tensor]:
    """1.0 where ``S < sigma`` (a silent weight), else 0.0, in float arithmetic."""
    masks = torch._foreach_neg(scores)
    torch._foreach_add_(masks, sigma)
    torch._foreach_sign_(masks)  # +1 below sigma, 0 at it, -1 above
    torch._foreach_clamp_min_(masks, 0.0)
    return masks


def sad_penalize_(grads: list[Tensor], weights: list[Tensor], masks: list[Tensor], gamma: float) -> None:
    r"""SAD's penalty in place: :math:`G \leftarrow G + \gamma\, \mathbb{1}[S < \sigma]\, W`.
    Consumes ``masks`` (multiplied by the weights)."""
    torch._foreach_mul_(masks, weights)
    torch._foreach_add_(grads, masks, alpha=gamma)


# -- the method -----------------------------------------------------------------------------
@register_method
class Ovsw(Method):
    """XNOR-style BNN (scaled sign, plain STE, ApproxSign) trained with AGS and SAD."""

    name = "ovsw"
    summary = "OvSW: adaptive gradient scaling + silence awareness decaying (reference-code defaults)"
    source = f"{PAPER}; reference code {CODE}"
    config_class = OvswConfig
    config: OvswConfig

    def __init__(self, config: MethodConfig, regime: str, seed: int) -> None:
        super().__init__(config, regime, seed)
        self.scores: list[Tensor] = []  # SAD's S per binary layer
        self.prev: list[Tensor] = []  # sign(W) at the previous step's hook
        self.probe_ratio: list[Tensor] = []  # mean ||G_k||/||W_k||, first step of the epoch
        self.probe_silent: list[Tensor] = []  # share of S < sigma, first step of the epoch
        self.probe_pending = False

    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return StandardizedScaleSign()

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return NormalizedApproxSign(self.config.act_normalize)

    # -- training hooks -------------------------------------------------------------------
    def setup(self, total_steps: int, device: torch.device) -> None:
        weights = [w.detach() for w in self.binary_weights()]
        if self.config.sad and weights:
            self.scores = [torch.zeros_like(w) for w in weights]
            self.prev = signs_pm1(weights)
        self.probe_ratio = [torch.full((), math.nan, device=w.device) for w in weights]
        self.probe_silent = [torch.full((), math.nan, device=w.device) for w in weights]

    def start_epoch(self, epoch: int) -> None:
        self.probe_pending = True

    @torch.no_grad()
    def after_backward(self, step: int) -> None:
        """AGS on every binary layer, then SAD, as ``trainers/ovsw.py`` before ``optimizer.step``."""
        params = self.binary_weights()
        weights = [p.detach() for p in params]
        index = [i for i, p in enumerate(params) if p.grad is not None]  # layers that got a gradient
        grads = [params[i].grad for i in index]
        if self.config.ags or self.probe_pending:
            self._ags(index, grads, [weights[i] for i in index])  # type: ignore[arg-type]
        if self.config.sad and weights:
            self._sad(index, grads, weights)  # type: ignore[arg-type]
        self.probe_pending = False

    def _ags(self, index: list[int], grads: list[Tensor], weights: list[Tensor]) -> None:
        for i, g, w in zip(index, grads, weights, strict=True):
            g_norm, w_norm = filter_norms(g, w)
            if self.probe_pending:
                self.probe_ratio[i] = (g_norm / w_norm).mean()
            if self.config.ags:
                ags_scale_(g, g_norm, w_norm, self.config.ags_lambda)  # type: ignore[arg-type]

    def _sad(self, index: list[int], grads: list[Tensor], weights: list[Tensor]) -> None:
        """Update every layer's EMA (the tracker runs even for a layer without a gradient this
        step), then penalize the silent weights of the layers that have one."""
        self.prev = sad_track_(self.scores, self.prev, weights, self.config.sad_momentum)
        if not index:
            return
        masks = silent_masks([self.scores[i] for i in index], self.config.sad_sigma)
        if self.probe_pending:
            for i, mask in zip(index, masks, strict=True):
                self.probe_silent[i] = mask.mean()
        sad_penalize_(grads, [weights[i] for i in index], masks, self.config.sad_gamma)  # type: ignore[arg-type]

    # -- metrics --------------------------------------------------------------------------
    def layer_metrics(self) -> list[dict[str, Any]]:
        """``ags_ratio`` and ``silent`` (percent) per binary layer."""
        probes = zip(self.weight_layers(), self.probe_ratio, self.probe_silent, strict=False)
        return [
            {"order": order, "name": name, "ags_ratio": float(ratio), "silent": 100.0 * float(silent)}
            for (order, name), ratio, silent in probes
        ]

    def epoch_metrics(self) -> dict[str, float]:
        """Mean ``ags_ratio`` over layers, size-weighted ``silent`` percent."""
        if not self.probe_ratio:
            return {}
        sizes = [w.numel() for w in self.binary_weights()]
        ratio = torch.stack(self.probe_ratio).mean()
        silent = sum(s * n for s, n in zip(self.probe_silent, sizes, strict=True)) / sum(sizes)
        return {"ags_ratio": float(ratio), "silent": 100.0 * float(silent)}

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """SAD's EMA and previous signs, and this epoch's probes (as plain tensors)."""
        return {
            "sad_scores": [t.clone() for t in self.scores],
            "sad_prev": [t.clone() for t in self.prev],
            "probe_ratio": [t.clone() for t in self.probe_ratio],
            "probe_silent": [t.clone() for t in self.probe_silent],
            "probe_pending": self.probe_pending,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pairs = (("sad_scores", self.scores), ("sad_prev", self.prev))
        pairs += (("probe_ratio", self.probe_ratio), ("probe_silent", self.probe_silent))
        for key, mine in pairs:
            if len(state[key]) != len(mine):
                raise ValueError(
                    f"ovsw checkpoint has {len(state[key])} '{key}' tensors, this run {len(mine)}"
                )
            for tensor, saved in zip(mine, state[key], strict=True):
                tensor.copy_(saved)
        self.probe_pending = bool(state["probe_pending"])
