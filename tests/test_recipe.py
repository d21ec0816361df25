"""Training recipes (benchmark/recipe.py): the lr schedules with their warm-up, the optimizers,
and configs of earlier runs unchanged by fields added since."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.recipe import Recipe
from methods.config import ConfigError


def factors(recipe: Recipe, total: int) -> list[float]:
    return [recipe.lr_factor(t, total) for t in range(total)]


def test_linear_warmup_then_linear_decay_as_bert_fine_tuning() -> None:
    """Devlin et al. (2019), App. A: warm up over the first 10% of steps, then decay linearly to 0."""
    recipe = Recipe(optimizer="adamw", lr=2e-5, schedule="linear", warmup=0.1, epochs=3)
    f = factors(recipe, 100)
    assert f[:10] == pytest.approx([(t + 1) / 10 for t in range(10)])
    assert f[10:] == pytest.approx([1 - t / 90 for t in range(90)])


def test_warmup_before_cosine_and_none_by_default() -> None:
    assert factors(Recipe(), 8) == pytest.approx([0.5 * (1 + math.cos(math.pi * t / 8)) for t in range(8)])
    f = factors(Recipe(warmup=0.25), 8)
    assert f[:2] == pytest.approx([0.5, 1.0])
    assert f[2:] == pytest.approx([0.5 * (1 + math.cos(math.pi * t / 6)) for t in range(6)])


def test_adamw_decouples_weight_decay() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    opt = Recipe(optimizer="adamw", lr=0.1, weight_decay=0.01).build_optimizer([p])
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["weight_decay"] == 0.01


def test_a_field_added_later_is_left_out_of_the_config_at_its_default() -> None:
    assert "warmup" not in Recipe().to_dict()
    assert Recipe(warmup=0.1).to_dict()["warmup"] == 0.1


def test_warmup_is_a_fraction_of_the_run() -> None:
    with pytest.raises(ConfigError, match=r"recipe.warmup=1.5 must be in \[0, 1\)"):
        Recipe(warmup=1.5)
