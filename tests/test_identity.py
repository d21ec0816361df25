"""The run identity (benchmark/identity.py): one layout for the grid, the trainer and the tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark import configs, grid
from benchmark.errors import UserError
from benchmark.identity import RunId, pattern

CONFIGS = Path(__file__).resolve().parents[1] / "workflows" / "config"


@pytest.mark.parametrize("name", ["default", "smoke", "paper"])
def test_every_run_of_a_shipped_config_round_trips_through_its_directory(name: str) -> None:
    config = configs.shipped(name)
    runs = grid.all_runs(config)
    assert len(runs) > 10
    for run in runs:
        assert RunId.from_directory(run.directory) == run
        assert RunId.from_result(run.result) == run
        assert RunId.from_directory(Path("/elsewhere", run.relative)).directory == run.directory
        assert run.directory == pattern().format(**run.as_dict())


def test_the_layout_and_the_label() -> None:
    run = RunId("mini", "digits", "resnet18", "bnn", "stompp", "forward", 3)
    assert run.directory == "results/runs/mini/digits/resnet18/bnn/stompp/forward/seed3"
    assert run.result == f"{run.directory}/result.json"
    assert run.label == "digits/resnet18/bnn/stompp/forward/seed3"
    assert pattern("out") == "out/{recipe}/{dataset}/{arch}/{regime}/{variant}/{ordering}/seed{seed}"


@pytest.mark.parametrize(
    "path",
    [
        "results/runs/mini/digits/resnet18/bnn/stompp/forward/3",  # no "seed"
        "results/runs/mini/digits/resnet18/bnn/stompp/forward/seedx",
        "digits/resnet18/seed0",  # too short
        "table.csv",
    ],
)
def test_a_folder_that_is_no_identity_is_refused_with_the_layout(path: str) -> None:
    with pytest.raises(UserError, match=r"cannot tell which run .* layout <recipe>/<dataset>/.*/seed<seed>"):
        RunId.from_directory(path)


def test_names_must_be_plain_directory_names() -> None:
    with pytest.raises(UserError, match="variant '../x' cannot name a run directory"):
        RunId("mini", "digits", "resnet18", "bnn", "../x", "none", 0).check()
    with pytest.raises(UserError, match="seed=-1 must be >= 0"):
        RunId("mini", "digits", "resnet18", "bnn", "ste", "none", -1).check()
