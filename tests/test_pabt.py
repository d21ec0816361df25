"""PaBT: the multi-bit layer's arithmetic, the importance score, the pruning schedule and
criterion, the final BNN, the optimizers' ownership, and bit-for-bit resumption."""

import io

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import methods
from benchmark import accounting
from methods.bop_optimizer import BopOptimizer
from methods.config import ConfigError
from methods.flips import FlipTracker, epoch_records
from methods.multibit import ShiftedSign, make_multibit
from methods.multibit_init import (
    activation_shifts,
    expand_latent,
    expand_weight,
    residual_expansion,
    shifted_expansion,
)
from methods.op_pruning import choose_prunes, importance, prune_window, pruned_target
from methods.pabt import PabtConfig
from methods.primitives import ste_sign
from methods.quantizers import SteSign
from methods.routing import optimizers_for
from tests.tiny import batch, protocol_steps, tiny_arch, tiny_net

T = 12  # training steps of the short runs: window [3, 9) with prune_start 0.25, prune_end 0.75
WINDOW = {"prune_start": 0.25, "prune_end": 0.75}


def make(regime: str = "bnn", seed: int = 0, **overrides: object):
    torch.manual_seed(0)
    method = methods.build_method("pabt", overrides, regime, seed)
    model = method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    optimizers = optimizers_for(method, model, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9))
    method.setup(T, torch.device("cpu"))
    return model, method, optimizers


def train(model, method, optimizers, start: int, stop: int) -> None:  # type: ignore[no-untyped-def]
    protocol_steps(model, method, optimizers, range(start, stop))


def hand_sign(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, 1.0, -1.0)


# -- the multi-bit layer ---------------------------------------------------------------------
def multibit_conv(groups: int = 1, bias: bool = True, m: int = 2, n: int = 3) -> nn.Module:
    torch.manual_seed(1)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=groups, bias=bias)
    layer = make_multibit(conv, m, n, "residual", "fit", SteSign(), ShiftedSign(activation_shifts(n)))
    with torch.no_grad():
        layer.scale.copy_(torch.randn(m, n))  # distinct scales, some negative
        if bias:
            layer.bias.copy_(torch.randn(6))
    return layer


def double_sum_conv(layer: nn.Module, x: torch.Tensor, sign=hand_sign) -> torch.Tensor:
    """sum_{m,n} p_mn gamma_mn conv(sign(x - v_n), W_m) + b, one F.conv2d per (m, n)."""
    rows = layer.out_channels
    y = 0.0
    for m in range(layer.weight_bases):
        w = layer.weight[m * rows : (m + 1) * rows]
        for n, v in enumerate(activation_shifts(layer.act_bases)):
            a = sign(x - v)
            conv = F.conv2d(a, w, None, layer.stride, layer.padding, layer.dilation, layer.groups)
            y = y + layer.prune_mask[m, n] * layer.gammas()[m, n] * conv
    return y + layer.bias.view(1, -1, 1, 1) if layer.bias is not None else y


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("pruned", [[], [(1, 0)], [(0, 1), (1, 1)]])
def test_conv_forward_and_gradients_equal_the_explicit_double_sum(
    groups: int, pruned: list, layout: torch.memory_format
) -> None:
    layer = multibit_conv(groups).to(memory_format=layout)
    for op in pruned:  # [(0, 1), (1, 1)] removes activation base 1 entirely
        layer.prune(*op)
    x = torch.randn(2, 4, 7, 7).contiguous(memory_format=layout).requires_grad_()
    y = layer(x)
    torch.testing.assert_close(y, double_sum_conv(layer, x), atol=1e-5, rtol=1e-5)
    # the same gradients as the double sum with the same straight-through sign
    g = torch.randn_like(y)
    mine = torch.autograd.grad(y, [x, layer.weight, layer.scale], g)
    hand = torch.autograd.grad(double_sum_conv(layer, x, sign=ste_sign), [x, layer.weight, layer.scale], g)
    for a, b in zip(mine, hand, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    for m, n in pruned:
        assert mine[2][m, n] == 0.0  # a pruned scale no longer matters


def test_linear_forward_equals_the_explicit_double_sum() -> None:
    torch.manual_seed(2)
    quantizer = ShiftedSign(activation_shifts(2))
    layer = make_multibit(nn.Linear(5, 3), 3, 2, "residual", "fit", SteSign(), quantizer)
    layer.prune(2, 1)
    x = torch.randn(4, 7, 5)
    expected = layer.bias.clone()
    for m in range(3):
        for n, v in enumerate(activation_shifts(2)):
            w = layer.weight[3 * m : 3 * (m + 1)]
            expected = expected + layer.prune_mask[m, n] * layer.scale[m, n] * F.linear(hand_sign(x - v), w)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_a_layer_with_one_operation_left_is_a_plain_binary_conv() -> None:
    layer = multibit_conv(groups=2)
    for op in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]:
        layer.prune(*op)
    assert layer.alive == [(1, 1)] and layer.single_op == (1, 1)
    x = torch.randn(2, 4, 7, 7)
    v = activation_shifts(3)[1]
    w = layer.weight[6:12]
    conv = F.conv2d(hand_sign(x - v), w, None, layer.stride, layer.padding, groups=2)
    torch.testing.assert_close(layer(x), layer.scale[1, 1] * conv + layer.bias.view(1, -1, 1, 1))
    with pytest.raises(ValueError, match="last operation"):
        layer.prune(1, 1)


def test_residual_expansion_and_shifts() -> None:
    w = torch.tensor([0.9, -0.3, 0.1, -1.2])
    bases, alphas = residual_expansion(w, 2)
    assert torch.equal(bases[0], torch.tensor([1.0, -1.0, 1.0, -1.0]))
    assert alphas[0] == pytest.approx(0.625)  # mean |w|
    residual = w - 0.625 * bases[0]  # [0.275, 0.325, -0.525, -0.575]
    assert torch.equal(bases[1], torch.tensor([1.0, 1.0, -1.0, -1.0]))
    assert alphas[1] == pytest.approx(float(residual.abs().mean()))
    assert activation_shifts(1) == [0.0]
    assert activation_shifts(3) == pytest.approx([-2 / 3, 0.0, 2 / 3])
    # (1/N) sum_n sign(x - v_n) is the uniform 4-level quantizer of clip(x, -1, 1)
    x = torch.tensor([-2.0, -0.5, 0.2, 0.9])
    levels = ShiftedSign(activation_shifts(3))(x).mean(0)
    assert torch.allclose(levels, torch.tensor([-1.0, -1 / 3, 1 / 3, 1.0]))


def test_shifted_expansion_and_uniform_scales() -> None:
    torch.manual_seed(3)
    w = torch.randn(6, 4, 3, 3)
    bases, alphas = shifted_expansion(w, 3)
    assert bases.shape == (3, 6, 4, 3, 3) and set(torch.unique(bases).tolist()) <= {-1.0, 1.0}
    assert torch.equal(bases[1], torch.where(w - w.mean() >= 0, 1.0, -1.0))  # u_2 = 0: ABC-Net's middle base
    residual = w - torch.einsum("m,m...->...", alphas, bases)
    # least squares: the residual is orthogonal to every base
    assert torch.allclose((bases * residual).flatten(1).sum(1), torch.zeros(3), atol=1e-3)
    conv = nn.Conv2d(4, 6, 3, bias=False)
    layer = make_multibit(conv, 3, 2, "residual", "uniform", SteSign(), ShiftedSign(activation_shifts(2)))
    assert torch.unique(layer.scale.detach()).numel() == 1
    layer = make_multibit(conv, 3, 2, "residual", "fit", SteSign(), ShiftedSign(activation_shifts(2)))
    alphas = residual_expansion(conv.weight, 3)[1]
    torch.testing.assert_close(layer.scale.detach(), alphas.view(3, 1).expand(3, 2) / 2)


# -- importance ----------------------------------------------------------------------------
def test_importance_closed_form() -> None:
    state = {
        "exp_avg": torch.tensor([0.5]),
        "exp_avg_sq": torch.tensor([0.16]),
        "max_exp_avg_sq": torch.tensor([0.25]),
    }
    g = torch.tensor([2.0])
    assert importance(g, state, 1.0, "max_exp_avg_sq").item() == pytest.approx(-1.0 + 0.5)
    assert importance(g, state, 2.0, "exp_avg_sq").item() == pytest.approx(-2.0 + 0.32)
    assert importance(g, state, 1.0, "sqrt_max_exp_avg_sq").item() == pytest.approx(-1.0 + 1.0)
    assert importance(g, {}, 1.0, "max_exp_avg_sq").item() == 0.0  # before AMSGrad's first step


@pytest.mark.parametrize("moment", ["max_exp_avg_sq", "exp_avg_sq"])
def test_importance_matches_the_formula_from_amsgrads_state(moment: str) -> None:
    model, method, optimizers = make(kappa=0.7, moment=moment)
    method.setup(1000, torch.device("cpu"))  # no pruning during these steps
    train(model, method, optimizers, 0, 4)
    for layer, f in zip(method.layers, method.importance_scores(), strict=True):
        st = method.amsgrad.state[layer.scale]
        assert int(st["step"]) == 4
        u, v, gamma = st["exp_avg"], st[moment], layer.scale.detach()
        assert u.abs().sum() > 0
        torch.testing.assert_close(f, -0.7 * u * gamma + 0.5 * v * gamma**2)


# -- the schedule and the choice --------------------------------------------------------------
def test_schedule_reaches_one_operation_per_layer_by_prune_end() -> None:
    assert prune_window(100, 0.2, 0.8) == (20, 80)
    assert prune_window(3, 0.9, 1.0) == (2, 3)  # never empty
    targets = [pruned_target(s, (20, 80), 24) for s in range(100)]
    assert targets[19] == 0 and targets[79] == 24 and targets[-1] == 24
    assert all(b - a in (0, 1) for a, b in zip(targets, targets[1:], strict=False))
    assert [s for s in range(1, 100) if targets[s] > targets[s - 1]][:3] == [22, 24, 27]  # every 2.5 steps
    assert [pruned_target(s, (2, 4), 10) for s in range(6)] == [0, 0, 5, 10, 10, 10]  # several per step


def test_pruning_never_removes_a_layers_last_operation() -> None:
    alive = torch.ones(3, 4)
    scores = torch.tensor([[-9.0, -8.0, -7.0, -6.0], [1.0, 2.0, 3.0, 4.0], [5.0, 0.0, 6.0, 7.0]])
    chosen = choose_prunes(alive, 20, scores, None)  # more than there is to prune
    assert len(chosen) == 9
    assert chosen[:3] == [(0, 0), (0, 1), (0, 2)]  # the least important, layer 0 ...
    assert chosen[3] == (2, 1)  # ... but never its last operation
    left = alive.clone()
    for layer, op in chosen:
        left[layer, op] = 0
    assert left.sum(1).tolist() == [1.0, 1.0, 1.0]
    assert left[0, 3] == 1 and left[1, 3] == 1 and left[2, 3] == 1  # each layer's most important


def test_random_choice_is_uniform_over_valid_candidates_and_seeded() -> None:
    alive = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # layer 0 has one left: not a candidate
    first = choose_prunes(alive, 1, None, torch.Generator().manual_seed(0))
    assert first[0][0] == 1
    counts = torch.zeros(3)
    g = torch.Generator().manual_seed(0)
    for _ in range(600):
        counts[choose_prunes(alive, 1, None, g)[0][1]] += 1
    assert counts.min() > 150
    a = choose_prunes(torch.ones(4, 9), 32, None, torch.Generator().manual_seed(5))
    b = choose_prunes(torch.ones(4, 9), 32, None, torch.Generator().manual_seed(5))
    assert a == b


# -- training runs -------------------------------------------------------------------------
def test_after_prune_end_every_layer_is_one_binary_conv_and_evaluation_is_a_plain_bnn() -> None:
    model, method, optimizers = make(**WINDOW)
    assert method.window == (3, 9) and method.total_prunes == 3 * 8
    for step in range(T):
        train(model, method, optimizers, step, step + 1)
        assert method.pruned == pruned_target(step, method.window, method.total_prunes)
        assert all(len(layer.alive) >= 1 for layer in method.layers)
    assert [len(layer.alive) for layer in method.layers] == [1, 1, 1]
    assert not method.as_trained_differs
    assert method.epoch_metrics()["ops_total_left"] == 3.0
    x = batch(seed=99)[0]
    model.eval()
    seen = {}
    hooks = [
        layer.register_forward_hook(lambda mod, i, o, k=k: seen.__setitem__(k, (i[0], o)))
        for k, layer in enumerate(method.layers)
    ]
    with torch.no_grad(), method.evaluating("binary", epoch=1):
        binary_logits = model(x)
    for k, layer in enumerate(method.layers):
        (m, n), (inp, out) = layer.alive[0], seen[k]
        v = activation_shifts(3)[n]
        w = layer.weight[m * layer.out_channels : (m + 1) * layer.out_channels]
        assert set(torch.unique(w).tolist()) <= {-1.0, 1.0}
        expected = layer.scale[m, n] * F.conv2d(hand_sign(inp - v), w, None, layer.stride, layer.padding)
        torch.testing.assert_close(out, expected)
    for h in hooks:
        h.remove()
    with torch.no_grad(), method.evaluating("as_trained", epoch=1):
        assert torch.equal(model(x), binary_logits)


def test_binary_evaluation_keeps_each_layers_most_important_operation() -> None:
    model, method, optimizers = make(**WINDOW)
    train(model, method, optimizers, 0, 5)
    assert 0 < method.pruned < method.total_prunes and method.as_trained_differs
    scores = method.importance_scores()
    with method.evaluating("binary", epoch=1):
        forced = [layer.forced_op for layer in method.layers]
    for layer, f, op in zip(method.layers, scores, forced, strict=True):
        best = max(layer.alive, key=lambda mn: float(f[mn]))
        assert op == best
        assert layer.forced_op is None  # restored after evaluation


def test_random_criterion_prunes_a_different_valid_set_and_predicts_its_final_bnn() -> None:
    masks = {}
    for criterion in ("importance", "random"):
        model, method, optimizers = make(criterion=criterion, **WINDOW)
        train(model, method, optimizers, 0, 6)
        masks[criterion] = torch.stack([layer.prune_mask.clone() for layer in method.layers])
        assert method.pruned == pruned_target(5, method.window, method.total_prunes)
        assert all(len(layer.alive) >= 1 for layer in method.layers)
        if criterion == "random":
            predicted = method.survivors()
            train(model, method, optimizers, 6, T)
            assert [layer.alive for layer in method.layers] == [[op] for op in predicted]
    assert masks["importance"].sum() == masks["random"].sum()
    assert not torch.equal(masks["importance"], masks["random"])


def test_one_weight_and_one_activation_base_trains_without_pruning() -> None:
    model, method, optimizers = make(weight_bases=1, act_bases=1)
    assert method.total_prunes == 0 and not method.as_trained_differs
    x, y = batch(n=32, seed=1)
    for step in range(30):
        method.before_forward(step)
        loss = F.cross_entropy(model(x), y)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in optimizers:
            opt.step()
        method.after_step(step)
        if step == 0:
            first = loss.item()
    assert loss.item() < first
    for layer in method.layers:
        assert layer.alive == [(0, 0)] and set(torch.unique(layer.weight).tolist()) <= {-1.0, 1.0}


def test_each_optimizer_owns_exactly_its_parameters_and_each_gets_gradients() -> None:
    model, method, optimizers = make(gamma=1.0, threshold=0.0)
    recipe, bop, amsgrad = optimizers
    owned = [{id(p) for g in opt.param_groups for p in g["params"]} for opt in optimizers]
    bases = {id(layer.weight) for layer in method.layers}
    scales = {id(layer.scale) for layer in method.layers}
    assert owned[1] == bases and owned[2] == scales
    assert owned[0] == {id(p) for p in model.parameters()} - bases - scales
    assert amsgrad.defaults["amsgrad"] and isinstance(recipe, torch.optim.SGD)
    before = {id(p): p.detach().clone() for p in model.parameters()}
    x, y = batch()
    F.cross_entropy(model(x), y).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    for opt in optimizers:
        opt.step()
    method.after_step(0)
    for opt in optimizers:  # every optimizer moved what it owns
        assert any(not torch.equal(p, before[id(p)]) for g in opt.param_groups for p in g["params"])
    for layer in method.layers:
        assert set(torch.unique(layer.weight).tolist()) <= {-1.0, 1.0}


def test_bwn_keeps_float_activations_and_prunes_weight_bases() -> None:
    model, method, optimizers = make(regime="bwn", **WINDOW)
    assert method.ops_per_layer == 3 and method.total_prunes == 6
    assert any(isinstance(m, nn.ReLU) for m in model.modules())
    assert all(layer.binarizes_weight and not layer.binarizes_input for layer in method.layers)
    train(model, method, optimizers, 0, T)
    assert [layer.alive[0][1] for layer in method.layers] == [0, 0, 0]
    assert [len(layer.alive) for layer in method.layers] == [1, 1, 1]


def test_metrics_report_operations_left_per_layer_and_overall() -> None:
    model, method, optimizers = make(**WINDOW)
    flips = FlipTracker.observe(method)
    protocol_steps(model, method, optimizers, range(0, 5), flips=flips)
    metrics, rows = epoch_records(method, flips)
    assert [list(r)[:2] for r in rows] == [["order", "name"]] * 3
    assert [r["ops_left"] for r in rows] == [len(layer.alive) for layer in method.layers]
    assert all({"weight_bits", "act_bits", "never_flipped", "flip_ratio"} <= set(r) for r in rows)
    assert metrics["ops_total_left"] == 27 - method.pruned
    assert metrics["ops_left"] == pytest.approx(metrics["ops_total_left"] / 3)
    assert "flip_ratio" in metrics


def test_config_validation_names_the_key() -> None:
    with pytest.raises(ConfigError, match="prune_start"):
        methods.build_method("pabt", {"prune_start": 0.9, "prune_end": 0.5}, "bnn", 0)
    with pytest.raises(ConfigError, match="weight_bases"):
        methods.build_method("pabt", {"weight_bases": 0}, "bnn", 0)
    with pytest.raises(ConfigError, match="criterion"):
        methods.build_method("pabt", {"criterion": "magnitude"}, "bnn", 0)


# -- checkpoints -----------------------------------------------------------------------------
@pytest.mark.parametrize("criterion", ["importance", "random"])
def test_checkpoint_resumes_pruning_and_generator_bit_for_bit(criterion: str) -> None:
    k = 5  # inside the pruning window [3, 9)
    model, method, optimizers = make(criterion=criterion, **WINDOW)
    train(model, method, optimizers, 0, T)
    reference = {n: t.clone() for n, t in model.state_dict().items()}

    model, method, optimizers = make(criterion=criterion, **WINDOW)
    train(model, method, optimizers, 0, k)
    buffer = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "optimizers": [opt.state_dict() for opt in optimizers],
            "method": method.state_dict(),
        },
        buffer,
    )
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    model, method, optimizers = make(criterion=criterion, **WINDOW)
    model.load_state_dict(saved["model"])
    for opt, state in zip(optimizers, saved["optimizers"], strict=True):
        opt.load_state_dict(state)
    method.load_state_dict(saved["method"])
    assert method.pruned == pruned_target(k - 1, method.window, method.total_prunes) > 0
    train(model, method, optimizers, k, T)
    resumed = model.state_dict()
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(resumed[name], tensor), name


def test_method_state_refuses_a_model_whose_masks_do_not_match() -> None:
    model, method, optimizers = make(**WINDOW)
    train(model, method, optimizers, 0, 5)
    state = method.state_dict()
    _, fresh, _ = make(**WINDOW)  # masks not loaded: nothing pruned
    with pytest.raises(ValueError, match="load the model's state dict before"):
        fresh.load_state_dict(state)


# -- Table 2's other rows: the options (defaults: PaBT's own choices) ---------------------------
DEFAULTS = {"scaling": "operation", "weight_optimizer": "bop", "scale_optimizer": "amsgrad", "prune": True}
LATENT_1X1 = {"weight_bases": 1, "act_bases": 1, "weight_optimizer": "latent", "scale_optimizer": "recipe"}


def test_the_defaults_are_pabt_and_setting_them_explicitly_trains_bit_for_bit_alike() -> None:
    assert {k: getattr(PabtConfig(), k) for k in DEFAULTS} == DEFAULTS
    assert PabtConfig.from_dict(PabtConfig().to_dict()) == PabtConfig()
    states = []
    for overrides in ({}, DEFAULTS):
        model, method, optimizers = make(**WINDOW, **overrides)
        assert [type(o) for o in optimizers[1:]] == [BopOptimizer, torch.optim.Adam]
        train(model, method, optimizers, 0, T)
        states.append(model.state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert all(len(layer.alive) == 1 for layer in method.layers)


def test_without_pruning_every_operation_stays_and_is_evaluated() -> None:
    """The unpruned 3/3 network (Table 2, pruning ✗): all 9 binary convolutions of every layer
    train, and the "binary" network is that network, at 9 times the BOPs of the pruned one."""
    model, method, optimizers = make(prune=False, **WINDOW)
    assert method.total_prunes == 0
    train(model, method, optimizers, 0, T)
    assert method.pruned == 0 and not method.as_trained_differs
    assert all(layer.alive == [(m, n) for m in range(3) for n in range(3)] for layer in method.layers)
    assert all(bool((layer.prune_mask == 1).all()) for layer in method.layers)
    x = batch(seed=99)[0]
    model.eval()
    with torch.no_grad(), method.evaluating("binary", epoch=1):
        assert all(layer.forced_op is None for layer in method.layers)
        binary = model(x)
    with torch.no_grad(), method.evaluating("as_trained", epoch=1):
        assert torch.equal(model(x), binary)
    assert [r["weight_bits"] for r in method.layer_metrics()] == [3, 3, 3]
    pruned_model, pruned, pruned_optimizers = make(**WINDOW)
    train(pruned_model, pruned, pruned_optimizers, 0, T)
    full = accounting.final(model, method, x[:1], 1)
    one = accounting.final(pruned_model, pruned, x[:1], 1)
    assert full["bops"] == 9 * one["bops"] > 0 and full["flops"] == one["flops"]


def test_latent_bases_start_as_the_values_whose_signs_are_the_bases() -> None:
    torch.manual_seed(4)
    w = torch.randn(6, 4, 3, 3)
    for init in ("residual", "shifted"):
        latent = expand_latent(w, 3, init)
        assert torch.equal(torch.where(latent >= 0, 1.0, -1.0), expand_weight(w, 3, init)[0])
    residual = residual_expansion(w, 2)
    assert torch.equal(expand_latent(w, 1, "residual")[0], w)  # M = 1: the float weight itself
    torch.testing.assert_close(expand_latent(w, 2, "residual")[1], w - residual[1][0] * residual[0][0])


def test_latent_weights_forward_their_sign_and_pass_the_clipped_ste_gradient() -> None:
    """Table 2's ADAM(theta) rows: forward sign(w), backward dL/dsign(w) * 1[|w| <= 1], the recipe's
    optimizer for every parameter, latent weights clipped to [-1, 1] after each step."""
    model, method, optimizers = make(**LATENT_1X1)
    assert len(optimizers) == 1 and method.bop is None and method.amsgrad is None
    recipe = {id(p) for g in optimizers[0].param_groups for p in g["params"]}
    assert recipe == {id(p) for p in model.parameters()}
    torch.manual_seed(0)
    floats = [m.weight for m in tiny_net().modules() if isinstance(m, nn.Conv2d)][1:]
    for layer, w in zip(method.layers, floats, strict=True):  # the float initial weights, clipped
        torch.testing.assert_close(layer.weight.detach(), w.detach().clamp(-1.0, 1.0))
    layer = method.layers[0]
    with torch.no_grad():
        layer.weight[0, 0, 0, :2] = torch.tensor([1.5, -2.0])  # outside [-1, 1]: no gradient
    x = torch.randn(2, 4, 6, 6)
    y = layer(x)
    binary = hand_sign(layer.weight.detach()).requires_grad_()
    hand = layer.scale[0, 0] * F.conv2d(hand_sign(x), binary, None, layer.stride, layer.padding)
    torch.testing.assert_close(y, hand)
    g = torch.randn_like(y)
    (grad,) = torch.autograd.grad(y, [layer.weight], g)
    (grad_binary,) = torch.autograd.grad(hand, [binary], g)
    torch.testing.assert_close(grad, grad_binary * (layer.weight.detach().abs() <= 1.0))
    assert grad[0, 0, 0, :2].eq(0).all() and grad_binary[0, 0, 0, :2].ne(0).all()
    method.after_step(0)
    assert layer.weight[0, 0, 0, :2].tolist() == [1.0, -1.0]
    train(model, method, optimizers, 0, 6)
    weights = torch.cat([layer.weight.detach().flatten() for layer in method.layers])
    assert weights.abs().max() <= 1.0 and (weights.abs() < 1.0).any()  # latent, not +-1


def test_latent_bases_can_be_pruned_by_importance() -> None:
    """The seed's remark (Sec. 5.1): latent weights during pruning; AMSGrad still scores gamma."""
    model, method, optimizers = make(weight_optimizer="latent", **WINDOW)
    assert [type(o) for o in optimizers[1:]] == [torch.optim.Adam] and method.amsgrad is not None
    train(model, method, optimizers, 0, T)
    assert [len(layer.alive) for layer in method.layers] == [1, 1, 1]


def test_base_scaling_is_abc_nets_alpha_times_beta() -> None:
    """gamma_mn = alpha_m beta_n (ABC-Net; the seed's Eq. 1): alpha starts as the least-squares
    scales of the weight bases, beta as 1/N; the gradients are those of the product."""
    torch.manual_seed(1)
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=False)
    for init in ("residual", "shifted"):
        layer = make_multibit(
            conv, 2, 3, init, "fit", SteSign(), ShiftedSign(activation_shifts(3)), scaling="base"
        )
        assert not hasattr(layer, "scale") and layer.scale_parameters() == [layer.alpha, layer.beta]
        torch.testing.assert_close(layer.alpha.detach(), expand_weight(conv.weight, 2, init)[1])
        torch.testing.assert_close(layer.beta.detach(), torch.full((3,), 1 / 3))
    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([0.7, -0.2]))
        layer.beta.copy_(torch.tensor([0.5, 1.5, -0.3]))
    torch.testing.assert_close(layer.gammas(), torch.outer(layer.alpha, layer.beta))
    layer.prune(1, 2)
    x = torch.randn(2, 4, 5, 5)
    y = layer(x)
    torch.testing.assert_close(y, double_sum_conv(layer, x), atol=1e-5, rtol=1e-5)
    g = torch.randn_like(y)
    grad_alpha, grad_beta = torch.autograd.grad(y, [layer.alpha, layer.beta], g)
    inner = torch.zeros(2, 3)  # <g, p_mn conv(A_n, W_m)>
    for m in range(2):
        w = layer.weight[6 * m : 6 * (m + 1)].detach()
        for n, v in enumerate(activation_shifts(3)):
            inner[m, n] = layer.prune_mask[m, n] * (g * F.conv2d(hand_sign(x - v), w, padding=1)).sum()
    alpha, beta = layer.alpha.detach(), layer.beta.detach()
    torch.testing.assert_close(grad_alpha, inner @ beta, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(grad_beta, alpha @ inner, atol=1e-4, rtol=1e-4)
    # deployed: one alpha per weight base and one beta per activation base still in use
    assert accounting.scale_bits(layer) == {id(layer.alpha): 64, id(layer.beta): 96}
    for op in [(0, 0), (0, 1), (0, 2), (1, 0)]:
        layer.prune(*op)
    assert accounting.scale_bits(layer) == {id(layer.alpha): 32, id(layer.beta): 32}


def test_base_and_operation_scaling_start_as_the_same_network() -> None:
    """The two 1/1 Adam rows of Table 2 differ in the scaling only: alpha beta = gamma at the start."""
    x = batch(seed=99)[0]
    outputs = []
    for overrides in (LATENT_1X1, {**LATENT_1X1, "scaling": "base"}):
        model, method, _ = make(**overrides)
        model.eval()
        with torch.no_grad():
            outputs.append(model(x))
    torch.testing.assert_close(outputs[0], outputs[1])


def test_base_scaling_prunes_at_random_with_alpha_and_beta_in_amsgrad() -> None:
    model, method, optimizers = make(scaling="base", criterion="random", **WINDOW)
    owned = {id(p) for g in optimizers[2].param_groups for p in g["params"]}
    assert owned == {id(p) for layer in method.layers for p in (layer.alpha, layer.beta)}
    train(model, method, optimizers, 0, T)
    assert [len(layer.alive) for layer in method.layers] == [1, 1, 1]


@pytest.mark.parametrize("overrides", [{"scaling": "base"}, {"scale_optimizer": "recipe"}])
def test_importance_pruning_needs_operation_scales_in_amsgrad(overrides: dict) -> None:
    with pytest.raises(ConfigError, match="criterion=importance"):
        methods.build_method("pabt", overrides, "bnn", 0)
    for fine in ({"prune": False}, {"criterion": "random"}, {"weight_bases": 1, "act_bases": 1}):
        methods.build_method("pabt", {**overrides, **fine}, "bnn", 0)
    with pytest.raises(ConfigError, match="weight_optimizer"):
        methods.build_method("pabt", {"weight_optimizer": "adam"}, "bnn", 0)
