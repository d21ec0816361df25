"""workflows/config/wide.yaml (docs/LAPTOP_STUDY.md, design D8) trains the default's cells and
seeds, and differs from the default in exactly two design choices: the ResNets' width and a
warm-up in the SGD mini recipes."""

from __future__ import annotations

import dataclasses

from benchmark import configs, grid
from benchmark.recipe import Recipe

DEFAULT = configs.shipped("default")
WIDE = configs.shipped("wide")
WIDER = ("resnet18", "resnet34", "resnet50", "resnet18_clip")


def recipe(config: dict, name: str) -> Recipe:
    return Recipe.from_dict({"name": name, **config["recipes"][name]})


def test_wide_trains_the_default_cells_and_seeds():
    assert grid.all_runs(WIDE) == grid.all_runs(DEFAULT)
    assert WIDE["tables"] == DEFAULT["tables"] and WIDE["figures"] == DEFAULT["figures"]


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
