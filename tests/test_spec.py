"""The run spec resolves a method's overrides and ordering into its typed config once."""

from __future__ import annotations

import pytest

from benchmark.cli import build_parser
from benchmark.cli_train import spec_from_args
from benchmark.errors import UserError
from benchmark.recipe import Recipe
from benchmark.spec import RunSpec, method_config
from methods.stompp import StomppConfig


def spec(*argv: str) -> RunSpec:
    args = build_parser().parse_args(
        ["train", "--dataset", "synthetic", "--arch", "resnet18", *argv, "--out", "x"]
    )
    return spec_from_args(args)


def test_overrides_become_the_typed_config_once() -> None:
    s = spec("--method", "stompp", "--set", "freeze_end=0.8", "--set", "refresh=5", "--ordering", "reverse")
    assert s.method_overrides == {"freeze_end": 0.8, "refresh": 5}
    assert s.method_config == StomppConfig(ordering="reverse", freeze_end=0.8, refresh=5)
    assert s.to_dict()["method_config"]["ordering"] == "reverse" == s.ordering
    again = RunSpec(
        "synthetic",
        "resnet18",
        "stompp",
        "bnn",
        0,
        Recipe(),
        ordering="reverse",
        method_overrides={"freeze_end": 0.8, "refresh": 5},
    )
    assert again.method_config == s.method_config and again.to_dict() == s.to_dict()


def test_set_ordering_is_the_same_as_the_ordering_flag() -> None:
    assert spec("--method", "stompp", "--set", "ordering=random") == spec(
        "--method", "stompp", "--ordering", "random"
    )
    assert spec("--method", "stompp").ordering == "forward"  # the method's first ordering
    assert spec("--method", "ste").ordering == "none"
    with pytest.raises(UserError, match="disagree"):
        spec("--method", "stompp", "--set", "ordering=random", "--ordering", "reverse")


def test_the_ordering_is_not_a_hyperparameter_of_a_run() -> None:
    with pytest.raises(UserError, match="part of the run's identity"):
        method_config("stompp", {"ordering": "reverse"}, "bnn", "forward")
    with pytest.raises(UserError, match="unknown ordering 'none'"):
        method_config("stompp", {}, "bnn")
    with pytest.raises(UserError, match="has no ordering"):
        method_config("ste", {}, "bnn", "forward")
