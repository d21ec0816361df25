"""workflows/config/wide.yaml (docs/LAPTOP_STUDY.md, design D10) trains the default's cells and
differs from the default in exactly three design choices: the ResNets' width, a warm-up in the
SGD mini recipes, and 10 seeds for the binary ResNet-50's depth cells (the default, design D13,
gives them 5, and PaBT's claim cells 10 as D10 did);
and it keeps the architectures' own initialisation, which D10 was measured with (the default's
``zero_init_residual``, design D11, is D10's only other difference; tests/test_zero_init.py)."""

from __future__ import annotations

import dataclasses

from benchmark import configs, grid
from benchmark.identity import RunId
from benchmark.recipe import Recipe

DEFAULT = configs.shipped("default")
WIDE = configs.shipped("wide")
WIDER = ("resnet18", "resnet34", "resnet50", "resnet18_clip")
MORE_SEEDS = range(5, 10)


def cell(run: RunId) -> RunId:
    return dataclasses.replace(run, seed=0)


def more_seeds(run: RunId) -> bool:
    """A run of the cells that the overlay gives seeds 5-9 (claims S1, S5)."""
    depth = run.recipe == "mini" and run.arch == "resnet50" and run.regime == "bnn"
    return depth and run.variant in ("ste", "stompp", "stompp_ste") and run.seed in MORE_SEEDS


def recipe(config: dict, name: str) -> Recipe:
    return Recipe.from_dict({"name": name, **config["recipes"][name]})


def test_wide_trains_the_default_cells_with_more_seeds_where_they_spread():
    default, wide = set(grid.all_runs(DEFAULT)), set(grid.all_runs(WIDE))
    assert default <= wide
    added = wide - default
    assert {cell(r) for r in added} <= {cell(r) for r in default}  # no new cell
    assert added == {r for r in wide if more_seeds(r)} and len(added) == 15
    assert WIDE["figures"] == DEFAULT["figures"]
    for name in DEFAULT["tables"]:
        assert set(grid.section_runs(WIDE, "tables", name)) - default <= added, name


def test_wide_doubles_the_resnets_width_only():
    for arch in DEFAULT["width"]:
        expected = 2 * grid.width_for(DEFAULT, arch) if arch in WIDER else grid.width_for(DEFAULT, arch)
        assert grid.width_for(WIDE, arch) == expected, arch


def test_wide_adds_a_tenth_of_warm_up_to_every_sgd_recipe_and_nothing_else():
    assert set(WIDE["recipes"]) == set(DEFAULT["recipes"])
    for name in DEFAULT["recipes"]:
        before, after = recipe(DEFAULT, name), recipe(WIDE, name)
        if before.optimizer == "sgd":
            assert before.warmup == 0.0 and after == dataclasses.replace(before, warmup=0.1), name
        else:
            assert after == before, name
