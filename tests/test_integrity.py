"""Nothing half-written is read, and the workflow reruns exactly what changed (issue 4).

The depth-scaling table of the small workflow grid (tests/workflow_grid.py: ResNet-18, BNN,
STE and StoMPP, two seeds: four runs) is trained once per session with the rest of that
grid (fixture ``finished_workflow``, tests/conftest.py); each test works on its own copy of
that finished working directory (modification times and Snakemake's metadata included).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, grid
from benchmark.cli import main
from tests import workflow_grid

TABLE = workflow_grid.DEPTH_TABLE
RESULT_LINE = re.compile(r"^\s*output: (results/runs/\S+/result\.json)", re.MULTILINE)

pytestmark = pytest.mark.workflow


def small_grid() -> dict:
    """The config the shared working directory was made with (a fresh copy)."""
    return workflow_grid.small_grid()


def snakemake(workdir: Path, config: dict, *args: str) -> str:
    """Run the workflow on ``config`` in ``workdir``; returns its output (it must succeed)."""
    proc = workflow_grid.snakemake(workdir, config, *args, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    return output


def dry_run(workdir: Path, config: dict) -> tuple[set[str], str]:
    """(the run directories a dry run would train, its output)."""
    output = snakemake(workdir, config, "--dry-run", TABLE)
    return {str(Path(path).parent) for path in RESULT_LINE.findall(output)}, output


def run_dirs(config: dict, **match: str) -> set[str]:
    runs = grid.section_runs(config, "tables", "depth_scaling")
    return {r.directory for r in runs if all(getattr(r, k) == v for k, v in match.items())}


def result_mtimes(workdir: Path) -> dict[str, int]:
    return {str(p.relative_to(workdir)): p.stat().st_mtime_ns for p in workdir.rglob("result.json")}


def cell_n(table: pd.DataFrame, variant: str) -> int:
    return int(table.loc[table["variant"] == variant, "n"].item())


@pytest.fixture
def workdir(finished_workflow: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the finished working directory, as deep below the repository as the
    original: the workflow names the reported-numbers CSVs by their path relative to the
    working directory, and a changed input path alone would rerun the table."""
    copy = tmp_path_factory.mktemp("work")
    finished, config = finished_workflow
    assert config == small_grid()
    shutil.copytree(finished, copy, symlinks=True, dirs_exist_ok=True)
    return copy


def test_a_finished_grid_has_nothing_to_do(workdir: Path) -> None:
    planned, output = dry_run(workdir, small_grid())
    assert planned == set() and "Nothing to be done" in output


def test_a_run_without_result_json_is_never_aggregated(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    """A crashed or running job leaves config.json and metrics.csv but no result.json; a
    result.json cut short (never written by bnnbench, whose writes are atomic) is no better."""
    config = small_grid()
    partial = workdir / sorted(run_dirs(config, variant="stompp"))[1]
    (partial / "result.json").unlink()
    assert (partial / "config.json").is_file() and (partial / "metrics.csv").is_file()
    cut = workdir / sorted(run_dirs(config, variant="ste"))[1] / "result.json"
    cut.write_text(cut.read_text()[:100])
    paths = [str(workdir / run.result) for run in grid.section_runs(config, "tables", "depth_scaling")]
    out = workdir / "partial.csv"
    assert main(["table", "depth_scaling", "--runs", *paths, "--out", str(out)]) == 0
    capsys.readouterr()
    table = pd.read_csv(out)
    assert cell_n(table, "stompp") == 1 and cell_n(table, "ste") == 1
    runs = aggregate.read_runs([Path(p) for p in paths])
    assert sorted(runs.loc[~runs["complete"], "path"]) == sorted([str(partial / "result.json"), str(cut)])
    assert set(aggregate.read_trajectories(runs)["seed"]) == {0}  # no epochs of unfinished runs


def test_changing_one_variant_hyperparameter_reruns_only_that_variant(workdir: Path) -> None:
    config = small_grid()
    config["variants"]["stompp"]["set"] = {"freeze_end": 0.8}
    planned, output = dry_run(workdir, config)
    assert planned == run_dirs(config, variant="stompp")
    assert "Params have changed since last execution" in output


def test_a_table_rerun_counts_the_run_that_finished_and_reruns_nothing_else(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    """The table is built while one run is still going (n = 1 in its cell); once that run
    finishes (its own job: a SLURM job, a retry), making the table again counts it
    (n = 2) and trains nothing."""
    config = small_grid()
    late = sorted(run_dirs(config, variant="stompp"))[1]
    (workdir / late / "result.json").unlink()  # this run is still going
    paths = [str(workdir / run.result) for run in grid.section_runs(config, "tables", "depth_scaling")]
    assert main(["table", "depth_scaling", "--runs", *paths, "--out", str(workdir / TABLE)]) == 0
    capsys.readouterr()
    assert cell_n(pd.read_csv(workdir / TABLE), "stompp") == 1
    others = result_mtimes(workdir)
    snakemake(workdir, config, "--cores", "2", f"{late}/result.json")  # the run finishes
    assert json.loads((workdir / late / "result.json").read_text())["status"] == "ok"
    planned, output = dry_run(workdir, config)
    assert planned == set() and "rule table:" in output
    snakemake(workdir, config, "--cores", "2", TABLE)
    after = result_mtimes(workdir)
    assert {k: v for k, v in after.items() if k in others} == others  # nothing else retrained
    table = pd.read_csv(workdir / TABLE)
    assert cell_n(table, "stompp") == 2 and cell_n(table, "ste") == 2
