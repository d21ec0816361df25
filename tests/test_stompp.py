"""StoMPP: schedules and orderings, mask growth and refresh, and the frozen end state."""

import pytest
import torch
from torch.nn import functional as F

import methods
from methods.quantizers import MaskedBinarizer
from methods.schedules import layer_fractions, schedule_value, slot_positions
from methods.step import training_step
from tests.tiny import batch, tiny_arch, tiny_net

L, T = 4, 100


def fractions(step: int, ordering: str, schedule: str = "linear", freeze_end: float = 0.9) -> list[float]:
    return layer_fractions(step, T, freeze_end, slot_positions(L, ordering, seed=0), ordering, schedule)


@pytest.mark.parametrize("schedule", ["linear", "cosine", "step", "exponential"])
def test_schedules_run_from_zero_to_one_monotonically(schedule: str) -> None:
    values = [schedule_value(u / 50, schedule) for u in range(51)]
    assert values[0] == 0.0 and values[-1] == pytest.approx(1.0)
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))


def test_forward_ordering_freezes_the_earliest_layer_first() -> None:
    slot = 0.9 * T / L  # 22.5 steps
    f = fractions(int(slot / 2), "forward")
    assert f[0] == pytest.approx(0.5, abs=0.03) and f[1:] == [0.0, 0.0, 0.0]
    f = fractions(int(2.5 * slot), "forward")
    assert f[:2] == [1.0, 1.0] and 0 < f[2] < 1 and f[3] == 0.0


def test_reverse_ordering_freezes_the_last_layer_first() -> None:
    f = fractions(11, "reverse")
    assert f[3] > 0 and f[:3] == [0.0, 0.0, 0.0]


def test_global_ordering_freezes_all_layers_alike() -> None:
    f = fractions(45, "global")
    assert f == [pytest.approx(0.5)] * L


def test_random_ordering_is_a_seeded_permutation() -> None:
    assert sorted(slot_positions(10, "random", seed=3)) == list(range(10))
    assert slot_positions(10, "random", seed=3) == slot_positions(10, "random", seed=3)
    assert slot_positions(10, "random", seed=3) != slot_positions(10, "random", seed=4)


@pytest.mark.parametrize("ordering", ["forward", "reverse", "global", "random"])
@pytest.mark.parametrize("schedule", ["linear", "cosine", "step", "exponential"])
def test_every_layer_is_frozen_by_freeze_end(ordering: str, schedule: str) -> None:
    assert fractions(90, ordering, schedule) == [1.0] * L
    assert fractions(60, ordering, schedule, freeze_end=0.6) == [1.0] * L
    assert all(f < 1.0 for f in fractions(0, ordering, schedule))


def make(name: str = "stompp", **overrides: object) -> tuple[torch.nn.Module, methods.Method]:
    torch.manual_seed(0)
    method = methods.build_method(name, overrides, "bnn", seed=0)
    model = method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    return model, method


def test_realised_weight_mask_fraction_tracks_the_target() -> None:
    q = MaskedBinarizer("weight", shape=torch.Size([200, 100]))
    q.generator = torch.Generator().manual_seed(0)
    w = torch.randn(200, 100)
    q.redraw(w)
    for f in (0.1, 0.5, 0.9):
        q.fraction = f
        assert q.mask(w).float().mean().item() == pytest.approx(f, abs=0.01)


def test_activation_masks_are_fresh_bernoulli_draws() -> None:
    q = MaskedBinarizer("activation")
    q.generator = torch.Generator().manual_seed(0)
    q.fraction = 0.3
    x = torch.randn(50, 400)
    m1, m2 = q.mask(x), q.mask(x)
    assert set(torch.unique(m1).tolist()) == {0.0, 1.0}
    assert m1.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert not torch.equal(m1, m2)


def test_magnitude_scheme_freezes_largest_entries_first() -> None:
    q = MaskedBinarizer("weight", scheme="magnitude", shape=torch.Size([10]))
    w = torch.tensor([0.1, -0.9, 0.5, 0.05, -0.3, 0.7, 0.2, -0.6, 0.4, 0.01])
    q.redraw(w)
    q.fraction = 0.3
    assert q.mask(w).nonzero().flatten().tolist() == [1, 5, 7]
    assert set(q.mask(w).tolist()) == {0.0, 1.0}


def weight_mask(model: torch.nn.Module, method: methods.Method, layer: int) -> torch.Tensor:
    q = method.weight_masks[layer]
    return q.mask(method.layers[layer].weight).bool()


def test_without_refresh_the_mask_only_grows() -> None:
    model, method = make(refresh=0, ordering="global")
    method.setup(total_steps=100, device=torch.device("cpu"))
    previous = None
    for step in range(0, 90, 5):
        method.before_forward(step)
        mask = weight_mask(model, method, 1)
        if previous is not None:
            assert bool((previous & ~mask).sum() == 0), "an entry thawed without refresh"
        previous = mask


def test_refresh_redraws_and_may_thaw_entries() -> None:
    model, method = make(refresh=10, ordering="global")
    method.setup(total_steps=100, device=torch.device("cpu"))
    method.before_forward(45)
    before = weight_mask(model, method, 1)
    method.before_forward(50)  # a refresh step
    after = weight_mask(model, method, 1)
    assert bool((before & ~after).any()), "refresh should thaw some entries"
    assert after.float().mean().item() == pytest.approx(0.55, abs=0.2)


def train_steps(model: torch.nn.Module, method: methods.Method, steps: range, total: int) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x, y = batch()
    for step in steps:
        training_step(model, method, [opt], x, y, step)


def test_after_freeze_end_binary_weights_no_longer_change() -> None:
    model, method = make(freeze_end=0.5)
    method.setup(total_steps=20, device=torch.device("cpu"))
    train_steps(model, method, range(0, 10), 20)
    frozen = [layer.weight.detach().clone() for layer in method.layers]
    train_steps(model, method, range(10, 20), 20)
    for before, layer in zip(frozen, method.layers, strict=True):
        assert torch.equal(before, layer.weight.detach())
        assert set(torch.unique(layer.quantized_weight()).tolist()) <= {-1.0, 1.0}


def test_with_frozen_grad_ste_weights_keep_training_after_freeze_end() -> None:
    model, method = make("stompp_ste", freeze_end=0.5)
    method.setup(total_steps=20, device=torch.device("cpu"))
    train_steps(model, method, range(0, 10), 20)
    frozen = [layer.weight.detach().clone() for layer in method.layers]
    train_steps(model, method, range(10, 20), 20)
    assert any(
        not torch.equal(b, layer.weight.detach()) for b, layer in zip(frozen, method.layers, strict=True)
    )


def test_fully_frozen_activation_cuts_gradient_to_earlier_layers() -> None:
    model, method = make(ordering="forward")
    method.setup(total_steps=100, device=torch.device("cpu"))
    method.before_forward(60)  # layers 0 and 1 fully frozen, layer 2 partially
    x, y = batch()
    F.cross_entropy(model(x), y).backward()
    first_conv = model[0].weight
    assert first_conv.grad is None or torch.count_nonzero(first_conv.grad) == 0
    assert torch.count_nonzero(model[-1].weight.grad) > 0


def test_evaluation_modes() -> None:
    model, method = make(ordering="global")
    method.setup(total_steps=100, device=torch.device("cpu"))
    method.before_forward(30)
    model.eval()
    x, _ = batch()
    with method.evaluating("binary", epoch=1):
        for layer in method.layers:
            assert set(torch.unique(layer.quantized_weight()).tolist()) <= {-1.0, 1.0}
    with method.evaluating("as_trained", epoch=1):
        a = model(x)
    with method.evaluating("as_trained", epoch=1):
        b = model(x)
    with method.evaluating("as_trained", epoch=2):
        c = model(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert method.generator is method.act_masks[0].generator


def test_config_validation_names_the_key() -> None:
    with pytest.raises(methods.ConfigError, match="freeze_end"):
        methods.build_method("stompp", {"freeze_end": "1.5"}, "bnn", 0)
    with pytest.raises(methods.ConfigError, match="refresh"):
        methods.build_method("stompp", {"refresh": "-1"}, "bnn", 0)
    with pytest.raises(methods.ConfigError, match="ordering"):
        methods.build_method("stompp", {"ordering": "sideways"}, "bnn", 0)


def test_a_restored_method_has_the_fractions_of_its_last_step() -> None:
    """A run resumed after an epoch's last step evaluates that epoch before training again:
    the masks' fractions must be those of the step the checkpoint was taken at."""
    model, method = make()
    method.setup(10, torch.device("cpu"))
    train_steps(model, method, range(6), 10)
    fresh_model, fresh = make()
    fresh.setup(10, torch.device("cpu"))
    fresh_model.load_state_dict(model.state_dict())
    fresh.load_state_dict(method.state_dict())
    assert fresh.step == method.step == 5 and fresh.fractions == method.fractions
    assert any(f > 0.0 for f in fresh.fractions)
    restored = [q.fraction for q in fresh._quantizers()]
    assert restored == [q.fraction for q in method._quantizers()]
