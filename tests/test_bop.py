"""Bop: the flip rule on hand-made gradients, +-1 weights, routing to two optimizers, the gamma
schedule, checkpoints, and a tiny BNN that learns."""

import io
from pathlib import Path

import pytest
import torch
from torch import nn

import methods
from benchmark.recipe import Recipe
from benchmark.spec import RunSpec
from benchmark.train import lr_scheduler, train
from methods.bop_optimizer import BopOptimizer
from methods.flips import FlipTracker, epoch_records
from methods.quantizers import SteSign
from methods.routing import RoutingError, optimizers_for, route_parameters
from tests.tiny import batch, protocol_steps, tiny_arch, tiny_net


# -- the rule, entry by entry ----------------------------------------------------------------
def rule(w: list[float], m: list[float], g: list[float], gamma: float, tau: float) -> tuple[list, list]:
    """Algorithm 1 of Helwegen et al. 2019, written out per entry with Python scalars."""
    m = [(1 - gamma) * mi + gamma * gi for mi, gi in zip(m, g, strict=True)]
    w = [-wi if abs(mi) > tau and (mi > 0) == (wi > 0) else wi for wi, mi in zip(w, m, strict=True)]
    return w, m


def bop_step(opt: BopOptimizer, w: nn.Parameter, g: list[float]) -> None:
    w.grad = torch.tensor(g, dtype=w.dtype)
    opt.step()


def test_flip_rule_at_the_threshold_and_under_sign_disagreement() -> None:
    # gamma = 1/2, tau = 1/4 and dyadic gradients: every value below is exact in float32
    w = nn.Parameter(torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0]))
    opt = BopOptimizer([w], gamma=0.5, threshold=0.25)
    g = [0.5 - 2**-7, 0.5 + 2**-7, 0.5, 4.0, -4.0, 0.0, 0.0]
    bop_step(opt, w, g)
    m = opt.state[w]["m"]
    assert m.tolist() == [0.25 - 2**-8, 0.25 + 2**-8, 0.25, 2.0, -2.0, 0.0, 0.0]
    assert w.tolist() == [
        1.0,  # |m| just below tau: kept
        -1.0,  # |m| just above tau, sign(m) = sign(w): flipped
        1.0,  # |m| = tau: kept (strict >)
        -1.0,  # |m| >> tau but sign(m) != sign(w): kept
        1.0,  # |m| >> tau, both negative: flipped
        1.0,  # m = 0: kept
        -1.0,  # m = 0: kept
    ]


def test_flip_rule_at_the_default_gamma_and_threshold() -> None:
    w = nn.Parameter(torch.ones(4))
    opt = BopOptimizer([w])  # gamma 1e-4, tau 1e-8
    bop_step(opt, w, [0.99e-4, 1.01e-4, -1.01e-4, -1.0])  # m = gamma * g, tau / gamma = 1e-4
    assert w.tolist() == [1.0, -1.0, 1.0, 1.0]


def test_zero_moment_never_flips_even_with_threshold_zero() -> None:
    w = nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = BopOptimizer([w], gamma=0.5, threshold=0.0)
    for _ in range(3):
        bop_step(opt, w, [0.0, 0.0])
    assert w.tolist() == [1.0, -1.0] and opt.state[w]["m"].tolist() == [0.0, 0.0]
    bop_step(opt, w, [2**-20, 2**-20])  # any agreeing m > 0 = tau flips
    assert w.tolist() == [-1.0, -1.0]


def test_moment_and_flips_follow_the_rule_over_changing_gradients() -> None:
    gamma, tau = 0.5, 0.25
    grads = [
        [0.75, -0.75, 0.25, 1.0, -2.0],
        [0.25, -0.5, 0.5, -1.0, 1.0],
        [-1.5, 0.0, 0.5, -1.0, 1.0],
        [-1.0, 1.0, -0.25, 0.5, -0.5],
        [0.0, 1.0, -1.0, 0.5, -0.5],
    ]
    w_ref, m_ref = [1.0, -1.0, 1.0, -1.0, 1.0], [0.0] * 5
    w = nn.Parameter(torch.tensor(w_ref))
    opt = BopOptimizer([w], gamma=gamma, threshold=tau)
    flips = 0
    for g in grads:
        before = w_ref
        w_ref, m_ref = rule(w_ref, m_ref, g, gamma, tau)
        flips += sum(a != b for a, b in zip(before, w_ref, strict=True))
        bop_step(opt, w, g)
        assert opt.state[w]["m"].tolist() == m_ref
        assert w.tolist() == w_ref
    assert flips >= 3  # the sequence exercises flips, kept entries and flips back


def test_random_gradients_follow_the_rule_for_many_steps() -> None:
    g = torch.Generator().manual_seed(0)
    gamma, tau = 0.1, 0.05
    w = nn.Parameter(torch.where(torch.rand(200, generator=g) < 0.5, -1.0, 1.0).double())
    opt = BopOptimizer([w], gamma=gamma, threshold=tau)
    w_ref, m_ref = w.tolist(), [0.0] * 200
    for _ in range(30):
        grad = torch.randn(200, generator=g, dtype=torch.float64)
        w_ref, m_ref = rule(w_ref, m_ref, grad.tolist(), gamma, tau)
        bop_step(opt, w, grad.tolist())
        assert torch.allclose(opt.state[w]["m"], torch.tensor(m_ref, dtype=torch.float64), rtol=1e-12, atol=0)
        assert w.tolist() == w_ref


def test_step_with_a_closure_computes_the_gradient_then_flips() -> None:
    w = nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = BopOptimizer([w], gamma=0.5, threshold=0.25)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (w * torch.tensor([1.0, 1.0])).sum()  # gradient +1 on both entries
        loss.backward()
        return loss

    assert opt.step(closure) == 0.0
    assert w.tolist() == [-1.0, -1.0] and opt.state[w]["m"].tolist() == [0.5, 0.5]


# -- the method: conversion, regimes, +-1 weights ---------------------------------------------
def make(regime: str = "bnn", **overrides: object) -> tuple[nn.Module, methods.Method]:
    torch.manual_seed(0)
    method = methods.build_method("bop", overrides, regime, 0)
    return method.convert(tiny_net(), batch()[0][:2], tiny_arch()), method


def adam(params: object) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=0.01)  # type: ignore[arg-type]


def test_convert_stores_binary_weights_as_sign_of_the_initial_weights() -> None:
    torch.manual_seed(0)
    net = tiny_net()
    with torch.no_grad():
        net[3].weight[0, 0, 0, 0] = 0.0
    initial = net[3].weight.detach().clone()
    method = methods.build_method("bop", {}, "bnn", 0)
    method.convert(net, batch()[0][:2], tiny_arch())
    layer = method.layers[0]
    assert torch.equal(layer.weight.detach(), torch.where(initial >= 0, 1.0, -1.0))
    assert layer.weight[0, 0, 0, 0] == 1.0  # sign(0) = +1
    assert type(net[0]) is nn.Conv2d and type(net[-1]) is nn.Linear  # first and last stay float


@pytest.mark.parametrize("regime", ["bnn", "bwn"])
def test_regimes_quantize_with_the_clipped_ste(regime: str) -> None:
    model, method = make(regime)
    assert all(isinstance(layer.weight_quantizer, SteSign) for layer in method.layers)
    assert all(layer.binarizes_input == (regime == "bnn") for layer in method.layers)
    assert any(isinstance(m, nn.ReLU) for m in model.modules()) == (regime == "bwn")


def test_layer_sees_exactly_w_and_the_gradient_reaches_w_unchanged() -> None:
    _, method = make("bwn")
    layer = method.layers[0]
    assert torch.equal(layer.quantized_weight(), layer.weight)
    x = torch.randn(2, 4, 6, 6)
    upstream = torch.randn_like(layer(x))
    (layer(x) * upstream).sum().backward()
    expected = torch.nn.grad.conv2d_weight(x, layer.weight.shape, upstream, padding=1)
    torch.testing.assert_close(layer.weight.grad, expected)


def test_binary_weights_stay_exactly_plus_minus_one_and_flip() -> None:
    model, method = make(gamma=0.05, threshold=1e-6)
    opts = optimizers_for(method, model, adam)
    method.setup(40, torch.device("cpu"))
    flips = FlipTracker.observe(method)
    initial = [w.detach().clone() for w in method.binary_weights()]
    protocol_steps(model, method, opts, range(40), flips=flips)
    for w, w0 in zip(method.binary_weights(), initial, strict=True):
        assert w.abs().eq(1.0).all()
        assert not torch.equal(w, w0)  # Bop did flip some entries
    metrics, _ = epoch_records(method, flips)
    assert metrics["flip_ratio"] > 0.0 and metrics["never_flipped"] < 100.0
    assert metrics["gamma"] == 0.05


def test_other_parameters_take_an_adam_step_in_the_same_step() -> None:
    model, method = make()
    opts = optimizers_for(method, model, adam)
    method.setup(1, torch.device("cpu"))
    binary = {id(w) for w in method.binary_weights()}
    fp = [p for p in model.parameters() if id(p) not in binary]
    assert {id(p) for p in opts[0].param_groups[0]["params"]} == {id(p) for p in fp}
    assert {id(p) for p in opts[1].param_groups[0]["params"]} == binary
    clones = [p.detach().clone().requires_grad_() for p in fp]
    by_hand = torch.optim.Adam(clones, lr=0.01)
    w_before = [w.detach().clone() for w in method.binary_weights()]
    protocol_steps(model, method, opts, range(1))
    for clone, p in zip(clones, fp, strict=True):
        clone.grad = p.grad.clone()
    by_hand.step()
    for clone, p in zip(clones, fp, strict=True):
        assert torch.equal(clone, p.detach())
    for w, w0 in zip(method.binary_weights(), w_before, strict=True):
        m = 1e-4 * w.grad  # one Bop step from m = 0
        assert torch.equal(w.detach(), torch.where(m * w0 > 1e-8, -w0, w0))


# -- routing ------------------------------------------------------------------------------------
def test_route_parameters_refuses_double_and_missing_claims_by_name() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    a, b = net[0].weight, net[1].weight
    with pytest.raises(RoutingError, match=r"'0\.weight' is claimed by both 'x' and 'y'"):
        route_parameters(net, {"x": [a], "y": [b, a]})
    with pytest.raises(RoutingError, match=r"claimed by no optimizer: 0\.bias, 1\.bias"):
        route_parameters(net, {"x": [a], "y": [b]}, rest=None)
    with pytest.raises(RoutingError, match="not in the model"):
        route_parameters(net, {"x": [nn.Parameter(torch.zeros(1))]})
    routed = route_parameters(net, {"x": [a]})
    assert routed["x"] == [a] and routed["rest"] == [net[0].bias, b, net[1].bias]


def test_bop_refuses_a_binary_weight_also_used_by_a_float_layer() -> None:
    model, method = make()
    tied = nn.Linear(1, 1, bias=False)
    tied.weight = method.layers[0].weight  # the same tensor, now also a float layer's weight
    model.append(tied)
    with pytest.raises(RoutingError, match=r"'3\.weight' is claimed by both 'bop' and 'recipe'"):
        optimizers_for(method, model, adam)


def test_bop_refuses_binary_weights_it_does_not_own() -> None:
    ste = methods.build_method("ste", {}, "bnn", 0)
    model = ste.convert(tiny_net(), batch()[0][:2], tiny_arch())  # binary layers Bop does not know
    bop = methods.build_method("bop", {}, "bnn", 0)
    with pytest.raises(RoutingError, match=r"claimed by no optimizer: 3\.weight, 6\.weight"):
        optimizers_for(bop, model, adam)


# -- the gamma schedule ---------------------------------------------------------------------------
def test_step_schedule_multiplies_gamma_by_a_tenth_at_the_right_epoch() -> None:
    recipe = Recipe(optimizer="adam", lr=0.01, schedule="step", step_every=2, step_factor=0.1, epochs=5)
    spec = RunSpec(dataset="synthetic", arch="resnet18", method="bop", regime="bnn", seed=0, recipe=recipe)
    model, method = make()
    opts = optimizers_for(method, model, recipe.build_optimizer)
    steps_per_epoch, total = 3, 15
    scheds = [lr_scheduler(opt, spec, total) for opt in opts]
    method.setup(total, torch.device("cpu"))
    bop = opts[1]
    w = method.binary_weights()[0]
    for epoch in range(1, 6):
        factor = 0.1 ** ((epoch - 1) // 2)  # epochs 1-2: 1, 3-4: 0.1, 5: 0.01
        for i in range(steps_per_epoch):
            step = (epoch - 1) * steps_per_epoch + i
            gamma = bop.param_groups[0]["lr"]
            assert gamma == pytest.approx(1e-4 * factor, rel=1e-12)
            assert opts[0].param_groups[0]["lr"] == pytest.approx(0.01 * factor, rel=1e-12)
            m_before = bop.state[w]["m"].clone() if w in bop.state else torch.zeros_like(w)
            protocol_steps(model, method, opts, range(step, step + 1), scheds)
            torch.testing.assert_close(bop.state[w]["m"], (1 - gamma) * m_before + gamma * w.grad)
    assert method.epoch_metrics()["gamma"] == pytest.approx(1e-6, rel=1e-12)


def train_tiny(recipe: Recipe, out: Path, overrides: dict | None = None) -> dict:
    """``train`` a Bop ResNet-18 at width 0.0625 on the synthetic data into ``out``."""
    spec = RunSpec(
        dataset="synthetic",
        arch="resnet18",
        method="bop",
        regime="bnn",
        seed=0,
        recipe=recipe,
        width=0.0625,
        method_overrides=overrides or {},
        threads=1,
        device="cpu",
    )
    return train(spec, out, show_progress=False)


@pytest.mark.parametrize("scope", ["method", "all"])
def test_schedule_scope_method_decays_gamma_only_as_bop_sec52(tmp_path: Path, scope: str) -> None:
    """Bop's reference recipe decays gamma x0.1 per period and keeps Adam at lr 0.01; scope
    ``all`` (a matched recipe) decays both. Read from the run's own metrics.csv."""
    recipe = Recipe(
        optimizer="adam",
        lr=0.01,
        weight_decay=0.0,
        schedule="step",
        step_every=1,
        step_factor=0.1,
        epochs=3,
        batch_size=64,
        augment=False,
        schedule_scope=scope,
    )
    train_tiny(recipe, tmp_path)
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    lr = [float(r.split(",")[header.index("lr")]) for r in rows[1:]]
    gamma = [float(r.split(",")[header.index("gamma")]) for r in rows[1:]]
    # each epoch's row records the rates after its last step: 0.1^e after epoch e
    assert gamma == pytest.approx([1e-5, 1e-6, 1e-7], rel=1e-9)
    expected_lr = [0.01] * 3 if scope == "method" else [1e-3, 1e-4, 1e-5]
    assert lr == pytest.approx(expected_lr, rel=1e-9)


def test_schedule_scope_is_validated() -> None:
    with pytest.raises(
        methods.ConfigError, match="recipe.schedule_scope='binary' must be one of all, method"
    ):
        Recipe(schedule_scope="binary")


# -- checkpoints ------------------------------------------------------------------------------------
def fresh() -> tuple[nn.Module, methods.Method, list, list, FlipTracker]:
    model, method = make(gamma=0.05, threshold=1e-6)
    opts = optimizers_for(method, model, adam)
    recipe = Recipe(optimizer="adam", lr=0.01, schedule="step", step_every=1, epochs=4)
    spec = RunSpec(dataset="synthetic", arch="resnet18", method="bop", regime="bnn", seed=0, recipe=recipe)
    scheds = [lr_scheduler(opt, spec, 8) for opt in opts]
    method.setup(8, torch.device("cpu"))
    return model, method, opts, scheds, FlipTracker.observe(method)


def test_checkpoint_resumes_bit_for_bit() -> None:
    k, n = 5, 3
    model, method, opts, scheds, flips = fresh()
    protocol_steps(model, method, opts, range(k + n), scheds, flips)

    model_a, method_a, opts_a, scheds_a, flips_a = fresh()
    protocol_steps(model_a, method_a, opts_a, range(k), scheds_a, flips_a)
    buffer = io.BytesIO()
    torch.save(
        {
            "model": model_a.state_dict(),
            "optimizers": [o.state_dict() for o in opts_a],
            "schedulers": [s.state_dict() for s in scheds_a],
            "method": method_a.state_dict(),
            "flips": flips_a.state_dict(),
        },
        buffer,
    )
    saved_m = [opts_a[1].state[w]["m"].clone() for w in method_a.binary_weights()]
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    model_b, method_b, opts_b, scheds_b, flips_b = fresh()
    model_b.load_state_dict(state["model"])
    for obj, saved in [
        *zip(opts_b, state["optimizers"], strict=True),
        *zip(scheds_b, state["schedulers"], strict=True),
    ]:
        obj.load_state_dict(saved)
    method_b.load_state_dict(state["method"])
    flips_b.load_state_dict(state["flips"])
    for w, m in zip(method_b.binary_weights(), saved_m, strict=True):
        assert torch.equal(opts_b[1].state[w]["m"], m) and m.abs().sum() > 0  # m survived
    protocol_steps(model_b, method_b, opts_b, range(k, k + n), scheds_b, flips_b)

    for (name, a), b in zip(model.state_dict().items(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for w, w_b in zip(method.binary_weights(), method_b.binary_weights(), strict=True):
        assert torch.equal(opts[1].state[w]["m"], opts_b[1].state[w_b]["m"])
    assert epoch_records(method, flips) == epoch_records(method_b, flips_b)


# -- config ---------------------------------------------------------------------------------------
def test_defaults_and_validation_name_the_key() -> None:
    method = methods.build_method("bop", {}, "bnn", 0)
    assert (method.config.gamma, method.config.threshold) == (1e-4, 1e-8)  # type: ignore[attr-defined]
    for key, value in [("gamma", "0"), ("gamma", "1.5"), ("threshold", "-1e-8")]:
        with pytest.raises(methods.ConfigError, match=key):
            methods.build_method("bop", {key: value}, "bnn", 0)


def test_configured_gamma_and_threshold_reach_the_optimizer() -> None:
    model, method = make(gamma="0.003", threshold="2e-7")
    bop = optimizers_for(method, model, adam)[1]
    assert bop.param_groups[0]["lr"] == 0.003 and bop.param_groups[0]["threshold"] == 2e-7


# -- a tiny BNN learns ------------------------------------------------------------------------------
def test_tiny_bnn_trained_with_bop_beats_chance_and_frozen_binary_weights(tmp_path: Path) -> None:
    recipe = Recipe(
        optimizer="adam",
        lr=0.01,
        weight_decay=0.0,
        schedule="constant",
        epochs=2,
        batch_size=32,
        augment=False,
    )

    def run(name: str, overrides: dict) -> float:
        result = train_tiny(recipe, tmp_path / name, overrides)
        assert result["status"] == "ok"
        return result["test_acc"]

    bop = run("bop", {})
    frozen = run("frozen", {"threshold": 1e9})  # no flips: only the float parameters learn
    assert bop >= 60.0  # chance is 10%
    assert bop >= frozen + 25.0
