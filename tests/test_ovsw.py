"""OvSW: scaled-sign weights with the plain STE, ApproxSign activations, AGS, SAD, their order
before SGD, the switches (and the vanilla BNN they leave), config resolution and bit-for-bit
resume."""

import dataclasses
import io
import math

import pytest
import torch
from torch.nn import functional as F

import methods
from benchmark import configs
from methods.flips import FlipTracker, epoch_records
from methods.ovsw import (
    NormalizedApproxSign,
    StandardizedScaleSign,
    ags_scale_,
    filter_norms,
    sad_penalize_,
    sad_track_,
    silent_masks,
)
from methods.primitives import sign
from methods.step import training_step
from tests.tiny import batch, tiny_arch, tiny_net

CPU = torch.device("cpu")


def make(regime: str = "bnn", **overrides: object) -> tuple[torch.nn.Module, methods.Method]:
    torch.manual_seed(0)
    method = methods.build_method("ovsw", overrides, regime, seed=0)
    model = method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    return model, method


def reference_alpha(w: torch.Tensor) -> torch.Tensor:
    """``get_scale`` of the reference code, written out."""
    w0 = w - w.mean([1, 2, 3], keepdim=True)
    w1 = w0 / torch.sqrt(w0.var([1, 2, 3], keepdim=True) + 1e-5)
    return w1.abs().mean([1, 2, 3], keepdim=True)


# -- binarization ---------------------------------------------------------------------------
def test_weight_quantizer_is_alpha_times_sign_with_alpha_by_hand() -> None:
    w = torch.tensor([[1.0, -1.0, 3.0, -3.0], [0.0, 2.0, 2.0, 4.0]]).view(2, 1, 2, 2)
    # filter 0: mean 0, unbiased var 20/3, mean |w - mu| = 2
    # filter 1: mean 2, deviations (-2, 0, 0, 2), unbiased var 8/3, mean |w - mu| = 1
    alpha = torch.tensor([2 / math.sqrt(20 / 3 + 1e-5), 1 / math.sqrt(8 / 3 + 1e-5)])
    q = StandardizedScaleSign()(w)
    signs = torch.tensor([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, 1.0, 1.0]]).view(2, 1, 2, 2)  # sign(0) = +1
    assert torch.allclose(q, alpha.view(2, 1, 1, 1) * signs, rtol=1e-6, atol=0)
    assert torch.allclose(q, reference_alpha(w) * signs, rtol=1e-6, atol=0)
    assert list(StandardizedScaleSign().parameters()) == []  # alpha is not learned


def test_weight_gradient_is_the_unclipped_identity_times_alpha() -> None:
    w = torch.tensor([[0.5, -2.0, 3.0, -0.1], [1.5, 0.2, -0.7, 4.0]]).view(2, 1, 2, 2).requires_grad_()
    upstream = torch.arange(1.0, 9.0).view(2, 1, 2, 2)
    StandardizedScaleSign()(w).backward(upstream)
    # plain STE: entries with |w| > 1 get their gradient too; alpha passes no gradient
    assert torch.allclose(w.grad, reference_alpha(w.detach()) * upstream, rtol=1e-6, atol=0)


def test_alpha_is_recomputed_every_forward() -> None:
    q = StandardizedScaleSign()
    w = torch.tensor([[1.0, -1.0, 3.0, -3.0]]).view(1, 1, 2, 2)
    w2 = torch.tensor([[1.0, -1.0, 1.0, -1.0]]).view(1, 1, 2, 2)
    assert not torch.allclose(q(w).abs(), q(w2).abs())


X = torch.tensor([[-2.0, -1.0, -0.5, 0.0], [0.25, 0.5, 1.0, 1.5]])


def test_activation_approx_sign_gradient_without_normalization() -> None:
    x = X.clone().requires_grad_()
    y = NormalizedApproxSign(normalize=False)(x)
    assert y.tolist() == [[-1, -1, -1, 1], [1, 1, 1, 1]]
    y.backward(torch.ones_like(x))
    # max(0, 2 - 2|x|)
    assert x.grad.tolist() == [[0, 0, 1, 2], [1.5, 1, 0, 0]]


def test_activation_per_sample_normalization_in_training_only() -> None:
    q = NormalizedApproxSign(normalize=True)
    x = X.clone().requires_grad_()
    y = q(x)
    assert y.tolist() == [[-1, -1, -1, 1], [1, 1, 1, 1]]
    y.backward(torch.ones_like(x))
    s = torch.sqrt(X.var(dim=1, keepdim=True) + 1e-5)  # unbiased, per sample
    expected = (2 - 2 * (X / s).abs()).clamp(min=0) / s
    assert torch.allclose(x.grad, expected, rtol=1e-6, atol=0)
    q.eval()
    x = X.clone().requires_grad_()
    q(x).backward(torch.ones_like(x))
    assert x.grad.tolist() == [[0, 0, 1, 2], [1.5, 1, 0, 0]]


def test_activation_normalization_matches_the_reference_composition_on_images() -> None:
    x = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(0)).mul_(3.0)
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    upstream = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    NormalizedApproxSign(normalize=True)(x).backward(upstream)
    # reference: input / sqrt(input.var(dim=[1, 2, 3]) + 1e-5).detach(), then sign with ApproxSign
    s = torch.sqrt(x.detach().var(dim=[1, 2, 3], keepdim=True) + 1e-5)
    expected = upstream * (2 - 2 * (x.detach() / s).abs()).clamp(min=0) / s
    assert torch.allclose(x.grad, expected, rtol=1e-5, atol=1e-7)


def test_linear_weights_are_scaled_per_output_row() -> None:
    w = torch.randn(3, 7, generator=torch.Generator().manual_seed(0))
    w0 = w - w.mean(1, keepdim=True)
    alpha = (w0 / torch.sqrt(w0.var(1, keepdim=True) + 1e-5)).abs().mean(1, keepdim=True)
    assert torch.allclose(StandardizedScaleSign()(w), alpha * sign(w), rtol=1e-6, atol=0)


def test_regimes_and_full_precision_first_and_last_layers() -> None:
    model, method = make("bnn")
    assert method.layer_names == ["3", "6", "9"]
    assert type(model[0]) is torch.nn.Conv2d and type(model[-1]) is torch.nn.Linear
    for layer in method.layers:
        assert isinstance(layer.weight_quantizer, StandardizedScaleSign)
        assert isinstance(layer.input_quantizer, NormalizedApproxSign)
    model, method = make("bwn")
    assert all(layer.binarizes_weight and not layer.binarizes_input for layer in method.layers)
    assert any(isinstance(m, torch.nn.ReLU) for m in model.modules())


# -- AGS ------------------------------------------------------------------------------------
def ratios(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return g.flatten(1).norm(dim=1) / w.flatten(1).norm(dim=1)


def test_ags_lifts_small_ratios_to_lambda_and_leaves_the_others() -> None:
    lam = 0.04
    w = torch.randn(6, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    g = torch.randn(6, 3, 3, 3, generator=torch.Generator().manual_seed(2))
    g *= (
        torch.tensor([1e-3, 1e-2, 0.5, 1.0, 2e-3, 0.2]).view(6, 1, 1, 1)
        * w.flatten(1).norm(dim=1).view(6, 1, 1, 1)
        / g.flatten(1).norm(dim=1).view(6, 1, 1, 1)
    )  # ratios 1e-3, 1e-2, 0.5, 1, 2e-3, 0.2
    before = g.clone()
    small = ratios(g, w) < lam
    assert small.tolist() == [True, True, False, False, True, False]
    ags_scale_(g, *filter_norms(g, w), lam)
    assert torch.allclose(ratios(g, w)[small], torch.full((3,), lam), rtol=1e-5, atol=0)
    assert torch.equal(g[~small], before[~small])
    # a scaled filter keeps its direction
    cos = F.cosine_similarity(g[small].flatten(1), before[small].flatten(1), dim=1)
    assert torch.allclose(cos, torch.ones(3), atol=1e-6)


def test_ags_norm_floors() -> None:
    # ||W_k|| is floored at 1e-3 and ||G_k|| at 1e-6 before the ratio and the rescaling
    w = torch.tensor([[1e-5, 0.0], [3.0, 4.0], [3.0, 4.0]])
    g = torch.tensor([[1e-5, 0.0], [1e-7, 0.0], [0.0, 0.0]])
    ags_scale_(g, *filter_norms(g, w), 0.04)
    assert torch.allclose(g[0], torch.tensor([0.04 * 1e-3, 0.0]), rtol=1e-5)  # ratio 1e-5/1e-3 < lambda
    assert torch.allclose(g[1], torch.tensor([1e-7 * 0.04 * 5 / 1e-6, 0.0]), rtol=1e-5)  # 0.02, not 0.2
    assert torch.equal(g[2], torch.zeros(2))  # a zero gradient stays zero


def test_ags_through_the_hook_sets_every_small_ratio_to_lambda() -> None:
    model, method = make(sad=False, ags_lambda=0.5)  # a large lambda, so some filters are scaled
    method.setup(10, CPU)
    method.start_epoch(1)
    x, y = batch()
    F.cross_entropy(model(x), y).backward()
    before = [layer.weight.grad.clone() for layer in method.layers]
    method.after_backward(0)
    scaled = 0
    for layer, g0 in zip(method.layers, before, strict=True):
        small = ratios(g0, layer.weight.detach()) < 0.5
        scaled += int(small.sum())
        after = ratios(layer.weight.grad, layer.weight.detach())
        assert torch.allclose(after[small], torch.full_like(after[small], 0.5), rtol=1e-5)
        assert torch.equal(layer.weight.grad[~small], g0[~small])
    assert scaled > 0


# -- SAD ------------------------------------------------------------------------------------
def test_sad_tracker_follows_the_ema_of_sign_changes() -> None:
    m = 0.5
    sequence = torch.tensor(
        [  # weights seen at successive hooks; the first row is the initial weight
            [0.3, -0.2, 0.0, 0.7],
            [-0.1, -0.4, 0.1, 0.6],  # flips: entry 0 (+ to -); entry 2 stays +1 (sign(0) = +1)
            [0.2, 0.5, 0.1, 0.5],  # flips: entries 0 and 1
            [0.2, 0.5, -0.3, 0.4],  # flips: entry 2
        ]
    )
    flips = torch.tensor([[1.0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]])
    scores, prev = [torch.zeros(4)], [sign(sequence[0])]  # sign(0) = +1
    expected = torch.zeros(4)
    for t in range(1, 4):
        prev = sad_track_(scores, prev, [sequence[t]], m)
        expected = m * expected + (1 - m) * flips[t - 1]
        assert torch.equal(scores[0], expected)
    assert scores[0].tolist() == [0.375, 0.25, 0.5, 0.0]


def test_sad_penalizes_exactly_where_the_score_is_below_sigma() -> None:
    scores = [torch.tensor([0.0, 5e-5, 1e-4, 2e-4, 1e-3])]
    masks = silent_masks(scores, 1e-4)
    assert masks[0].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]  # S < sigma, strictly
    w = torch.tensor([1.0, -2.0, 3.0, -4.0, 5.0])
    g = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5])
    grads = [g.clone()]
    sad_penalize_(grads, [w], masks, 0.01)
    assert torch.equal(grads[0], torch.tensor([0.1 + 0.01, 0.2 - 0.02, 0.3, 0.4, 0.5]))


def test_sad_hook_compares_with_the_weight_before_the_previous_step() -> None:
    model, method = make(ags=False, sad_momentum=0.5, sad_sigma=0.2, sad_gamma=0.1)
    method.setup(10, CPU)
    layer = method.layers[0]
    w0 = layer.weight.detach().clone()
    flipped = torch.zeros_like(w0)
    flipped.view(-1)[:5] = 1.0  # the "optimizer" flips five entries after step 0

    def hook(step: int, weight: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            layer.weight.copy_(weight)
        for other in method.layers:
            other.weight.grad = torch.zeros_like(other.weight)
        method.after_backward(step)
        return layer.weight.grad.clone()

    g = hook(0, w0)  # S = 0 < sigma everywhere: every weight is silent
    assert torch.equal(method.scores[0], torch.zeros_like(w0))
    assert torch.allclose(g, 0.1 * w0)
    w1 = w0 * (1 - 2 * flipped)
    g = hook(1, w1)  # S = 0.5 on the five flipped entries (not silent any more)
    assert torch.equal(method.scores[0], 0.5 * flipped)
    assert torch.allclose(g, 0.1 * w1 * (1 - flipped))
    g = hook(2, w1)  # no flip: S halves to 0.25, still >= sigma
    assert torch.equal(method.scores[0], 0.25 * flipped)
    g = hook(3, w1)  # 0.125 < sigma: silent again
    assert torch.allclose(g, 0.1 * w1)


# -- the order: AGS, then SAD, then SGD's weight decay and momentum ------------------------
def hand_ags(g: torch.Tensor, w: torch.Tensor, lam: float) -> torch.Tensor:
    """``adaptive_gradient_scale`` of the reference code, written out."""
    gn = torch.norm(g.flatten(1), dim=-1).clamp(min=1e-6).view(-1, 1, 1, 1)
    wn = torch.norm(w.flatten(1), dim=-1).clamp(min=1e-3).view(-1, 1, 1, 1)
    return torch.where(gn / wn < lam, lam * wn / gn * g, g)


def test_one_step_is_ags_then_sad_then_sgd_weight_decay_and_momentum() -> None:
    lam, gamma, sigma, m = 0.3, 0.05, 1e-4, 0.999
    lr, mu, wd = 0.5, 0.9, 5e-4
    model, method = make(ags_lambda=lam, sad_gamma=gamma)
    method.setup(10, CPU)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mu, weight_decay=wd)
    x, y = batch()
    ws = [layer.weight.detach().clone() for layer in method.layers]
    prev = [torch.sign(w) for w in ws]
    scores = [torch.zeros_like(w) for w in ws]
    bufs: list[torch.Tensor | None] = [None] * len(ws)
    scaled = silent_seen = not_silent_seen = 0
    for step in range(4):
        if step == 0:
            method.start_epoch(1)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        raw = [layer.weight.grad.clone() for layer in method.layers]
        method.after_backward(step)
        opt.step()
        method.after_step(step)
        for i, layer in enumerate(method.layers):
            w = ws[i]
            g = hand_ags(raw[i], w, lam)
            scaled += int((~torch.isclose(g, raw[i])).any())
            sign = torch.sign(w)
            scores[i] = m * scores[i] + (1 - m) * (sign != prev[i]).float()
            prev[i] = sign
            silent = (scores[i] < sigma).float()
            silent_seen += int(silent.sum())
            not_silent_seen += int((1 - silent).sum())
            g = g + gamma * silent * w
            d = g + wd * w
            bufs[i] = d if bufs[i] is None else mu * bufs[i] + d
            ws[i] = w - lr * bufs[i]
            assert torch.allclose(layer.weight.detach(), ws[i], rtol=1e-5, atol=1e-6), (step, i)
    assert scaled > 0 and silent_seen > 0 and not_silent_seen > 0  # every branch was exercised


# -- switches ---------------------------------------------------------------------------------
def gradients_after_hook(
    **overrides: object,
) -> tuple[list[torch.Tensor], list[torch.Tensor], methods.Method]:
    model, method = make(**overrides)
    method.setup(10, CPU)
    method.start_epoch(1)
    x, y = batch()
    F.cross_entropy(model(x), y).backward()
    raw = [layer.weight.grad.clone() for layer in method.layers]
    method.after_backward(0)
    return raw, [layer.weight.grad for layer in method.layers], method


def test_ags_and_sad_off_leave_gradients_untouched() -> None:
    raw, after, method = gradients_after_hook(ags=False, sad=False, ags_lambda=10.0)
    assert all(torch.equal(a, b) for a, b in zip(raw, after, strict=True))
    assert method.scores == [] and method.prev == []


def test_sad_off_is_ags_only() -> None:
    raw, after, method = gradients_after_hook(sad=False, ags_lambda=10.0)
    for g0, g, layer in zip(raw, after, method.layers, strict=True):
        assert torch.allclose(g, hand_ags(g0, layer.weight.detach(), 10.0), rtol=1e-5)
        assert not torch.equal(g, g0)


def test_ags_off_is_sad_only() -> None:
    raw, after, method = gradients_after_hook(ags=False, ags_lambda=10.0, sad_gamma=0.01)
    for g0, g, layer in zip(raw, after, method.layers, strict=True):
        # S = 0 at the first step: every weight is silent
        assert torch.allclose(g, g0 + 0.01 * layer.weight.detach(), rtol=1e-6, atol=1e-10)
        assert not torch.allclose(g, g0, rtol=1e-6, atol=1e-10)


def test_ablation_variants_are_plain_overrides() -> None:
    ags_only = methods.build_method("ovsw", {"sad": "false"}, "bnn", 0)
    sad_only = methods.build_method("ovsw", {"ags": "false"}, "bnn", 0)
    assert ags_only.config.ags and not ags_only.config.sad
    assert sad_only.config.sad and not sad_only.config.ags


def shipped_variant(name: str) -> tuple[torch.nn.Module, methods.Method]:
    """Variant ``name`` of the shipped configs (method + ``set`` overrides) on ``tiny_net``, BNN."""
    spec = configs.shipped("default")["variants"][name]
    torch.manual_seed(0)
    method = methods.build_method(spec["method"], spec.get("set") or {}, "bnn", seed=0)
    return method.convert(tiny_net(), batch()[0][:2], tiny_arch()), method


def test_ovsw_vanilla_differs_from_ovsw_only_in_ags_and_sad() -> None:
    """OvSW's "vanilla" BNN (Table 3, Sec. 5.3, Fig. 1) is OvSW's binarizer with AGS and SAD off:
    the same scaled-sign weights and ApproxSign activations, forward and backward; only the
    gradient rewriting before the optimizer step differs."""
    (vanilla_net, vanilla), (ovsw_net, ovsw) = shipped_variant("ovsw_vanilla"), shipped_variant("ovsw")
    v, o = dataclasses.asdict(vanilla.config), dataclasses.asdict(ovsw.config)
    assert {key for key in v if v[key] != o[key]} == {"ags", "sad"}
    assert (vanilla.config.ags, vanilla.config.sad) == (False, False) and ovsw.config.ags and ovsw.config.sad
    assert vanilla.layer_names == ovsw.layer_names
    for lv, lo in zip(vanilla.layers, ovsw.layers, strict=True):
        # weights: the same alpha * sign(W)
        assert type(lv.weight_quantizer) is type(lo.weight_quantizer) is StandardizedScaleSign
        w = lo.weight.detach()
        assert torch.equal(lv.weight.detach(), w)
        q = lv.weight_quantizer(w)
        assert torch.equal(q, lo.weight_quantizer(w)) and torch.equal(sign(q), sign(w))
        assert torch.allclose(q.abs(), reference_alpha(w).expand_as(w), rtol=1e-6, atol=0)
        # activations: the same sign forward and ApproxSign backward, in training and in eval
        assert type(lv.input_quantizer) is type(lo.input_quantizer) is NormalizedApproxSign
        for training in (True, False):
            xs = [X.clone().requires_grad_() for _ in range(2)]
            for quantizer, x in zip((lv.input_quantizer, lo.input_quantizer), xs, strict=True):
                y = quantizer.train(training)(x)
                assert torch.equal(y, sign(X))
                y.backward(torch.ones_like(y))
            assert torch.equal(xs[0].grad, xs[1].grad)
        assert xs[0].grad.tolist() == [[0, 0, 1, 2], [1.5, 1, 0, 0]]  # eval: max(0, 2 - 2|x|)
    # the whole network: the same output and raw gradients; then AGS and SAD act on OvSW's only
    vanilla_net.train(), ovsw_net.train()
    x, y = batch()
    outputs = []
    for net, method in ((vanilla_net, vanilla), (ovsw_net, ovsw)):
        method.setup(10, CPU)
        method.start_epoch(1)
        outputs.append(net(x))
        F.cross_entropy(outputs[-1], y).backward()
    assert torch.equal(*outputs)
    raw = [layer.weight.grad.clone() for layer in vanilla.layers]
    assert all(torch.equal(g, layer.weight.grad) for g, layer in zip(raw, ovsw.layers, strict=True))
    vanilla.after_backward(0)
    ovsw.after_backward(0)
    lam, gamma = ovsw.config.ags_lambda, ovsw.config.sad_gamma
    for g0, lv, lo in zip(raw, vanilla.layers, ovsw.layers, strict=True):
        w = lo.weight.detach()
        assert torch.equal(lv.weight.grad, g0)  # vanilla: untouched
        # OvSW: AGS, then SAD (S = 0 at the first step: every weight is silent)
        assert torch.allclose(lo.weight.grad, hand_ags(g0, w, lam) + gamma * w, rtol=1e-5, atol=1e-9)
        assert not torch.equal(lo.weight.grad, g0)
    assert vanilla.scores == [] and len(ovsw.scores) == len(ovsw.layers)  # no SAD state in vanilla


# -- config -----------------------------------------------------------------------------------
def test_family_defaults_resolve_into_the_recorded_config() -> None:
    cifar = methods.build_method("ovsw", {}, "bnn", 0).config
    assert (cifar.ags_lambda, cifar.sad_gamma, cifar.sad_sigma, cifar.sad_momentum) == (
        0.04,
        9e-4,
        1e-4,
        0.999,
    )
    imagenet = methods.build_method("ovsw", {"family": "imagenet"}, "bnn", 0).config
    assert (imagenet.ags_lambda, imagenet.sad_gamma) == (0.01, 2e-5)
    assert imagenet.to_dict()["ags_lambda"] == 0.01 and imagenet.to_dict()["sad_gamma"] == 2e-5
    mixed = methods.build_method("ovsw", {"family": "imagenet", "ags_lambda": "0.03"}, "bnn", 0).config
    assert (mixed.ags_lambda, mixed.sad_gamma) == (0.03, 2e-5)  # an explicit value wins
    assert type(mixed).from_dict(mixed.to_dict()) == mixed


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("family", "mnist"),
        ("ags_lambda", "0"),
        ("sad_gamma", "-1"),
        ("sad_sigma", "-1e-4"),
        ("sad_momentum", "1"),
    ],
)
def test_config_validation_names_the_key(key: str, value: str) -> None:
    with pytest.raises(methods.ConfigError, match=key):
        methods.build_method("ovsw", {key: value}, "bnn", 0)


# -- metrics ----------------------------------------------------------------------------------
def test_metrics_report_flips_ags_ratio_and_silent_share() -> None:
    model, method = make()
    method.setup(10, CPU)
    flips = FlipTracker.observe(method)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    method.start_epoch(1)
    x, y = batch()
    training_step(model, method, [opt], x, y, 0, flips=flips)
    metrics, rows = epoch_records(method, flips)
    assert {"never_flipped", "flip_ratio", "ags_ratio", "silent"} <= set(metrics)
    assert metrics["silent"] == 100.0  # S = 0 at the first step
    assert metrics["ags_ratio"] > 0
    assert [r["order"] for r in rows] == [0, 1, 2]
    assert list(rows[0])[:2] == ["order", "name"] and rows[0]["name"] == "3"
    assert all(r["silent"] == 100.0 and r["ags_ratio"] > 0 for r in rows)


# -- checkpoints ------------------------------------------------------------------------------
def run(model, method, opt, steps: range) -> None:  # type: ignore[no-untyped-def]
    x, y = batch()
    for step in steps:
        if step % 3 == 0:
            method.start_epoch(step // 3 + 1)
        training_step(model, method, [opt], x, y, step)


def fresh() -> tuple[torch.nn.Module, methods.Method, torch.optim.Optimizer]:
    model, method = make(ags_lambda=0.2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=5e-4)
    method.setup(10, CPU)
    return model, method, opt


def test_checkpoint_resumes_bit_for_bit() -> None:
    k, n = 4, 4
    model, method, opt = fresh()
    run(model, method, opt, range(k + n))

    model1, method1, opt1 = fresh()
    run(model1, method1, opt1, range(k))
    assert any(bool(s.sum() > 0) for s in method1.scores)  # flips happened: S matters
    buffer = io.BytesIO()
    torch.save(
        {"model": model1.state_dict(), "opt": opt1.state_dict(), "method": method1.state_dict()}, buffer
    )
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    model2, method2, opt2 = fresh()
    model2.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["opt"])
    method2.load_state_dict(saved["method"])
    assert all(torch.equal(a, b) for a, b in zip(method1.scores, method2.scores, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(method1.prev, method2.prev, strict=True))
    run(model2, method2, opt2, range(k, k + n))

    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert all(torch.equal(a, b) for a, b in zip(method.scores, method2.scores, strict=True))
    assert method.epoch_metrics() == method2.epoch_metrics()
