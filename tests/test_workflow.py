"""End to end: the workflow on the small grid of tests/workflow_grid.py, run once per
session in a temporary directory (fixture ``finished_workflow``, tests/conftest.py); and the
shape of the whole smoke grid (``nox -s smoke`` trains it), checked on fake records.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from benchmark import grid
from benchmark.identity import RunId
from benchmark.reporting import build_figure, build_table, run_check
from tests.test_tables import write_run
from tests.workflow_grid import failure, smoke, snakemake

ROOT = Path(__file__).resolve().parents[1]
VERDICTS = {"PASS", "FAIL", "HOLDS", "FAILS", "INCONCLUSIVE", "NOT RUN", "UNSUPPORTED"}  # none PENDING
TABLE_NAMES = {
    "depth_scaling",
    "ordering",
    "hybrids",
    "architectures",
    "bireal",
    "peers",
    "ovsw",
    "bop",
    "pabt",
}
CLAIM_IDS = {"S1", "S2", "S3", "S4", "S5", "S6", "S7", "O1", "O2", "O3", "B1", "P1", "P2"}
CELL = ["recipe", "dataset", "arch", "regime", "variant", "ordering"]
NO_INPUT = "has no cells|was not produced"  # a claim NOT RUN for lack of cells or of a table

pytestmark = pytest.mark.workflow


def assert_one_row_per_cell(table: pd.DataFrame, runs: list[RunId], name: str) -> None:
    """One row per cell of ``runs``, each counting all of its seeds, accuracies in [0, 100]."""
    seeds = Counter((r.recipe, r.dataset, r.arch, r.regime, r.variant, r.ordering) for r in runs)
    assert set(table[CELL].itertuples(index=False, name=None)) == set(seeds), name
    counted = dict(zip(table[CELL].itertuples(index=False, name=None), table["n"], strict=True))
    assert counted == seeds, name
    assert table["mean"].between(0, 100).all(), name


def claim_rows(report: pd.DataFrame) -> pd.DataFrame:
    claims = report[report["kind"] == "claim"]
    assert {i.split(":")[0] for i in claims["id"]} == CLAIM_IDS
    return claims


def test_every_run_finished_with_a_record(finished_workflow):
    workdir, config = finished_workflow
    runs = grid.all_runs(config)
    for run in runs:
        result = json.loads((workdir / run.result).read_text())
        assert result["status"] in {"ok", "diverged"}
        assert result["provenance"]["started"] == "warm"  # forked from the local run's server
        identity = {k: v for k, v in result["identity"].items() if k != "method"}
        assert identity == asdict(run)
        assert (workdir / run.directory / "metrics.csv").is_file()
        assert (workdir / run.directory / "config.json").is_file()
    found = list((workdir / "results" / "runs").rglob("result.json"))
    assert len(found) == len(runs)  # nothing beyond the grid was trained


def test_tables_have_one_row_per_cell(finished_workflow):
    workdir, config = finished_workflow
    assert set(config["tables"]) == TABLE_NAMES
    for name in config["tables"]:
        table = pd.read_csv(workdir / f"results/table_{name}.csv")
        assert_one_row_per_cell(table, grid.section_runs(config, "tables", name), name)
        assert (workdir / config["paper"]["tables_dir"] / f"table_{name}.md").is_file()
    depth = pd.read_csv(workdir / "results/table_depth_scaling.csv")
    assert (depth["n"] == 2).all()  # a section with more seeds than the top level counts them all


def test_peer_tables_carry_speed_and_flip_statistics(finished_workflow):
    workdir, _ = finished_workflow
    peers = pd.read_csv(workdir / "results/table_peers.csv")
    assert (peers["steps_per_second"] > 0).all()
    binary = peers[peers["variant"] != "fp"]
    assert len(binary) > 0
    assert binary["never_flipped"].between(0, 100).all()
    assert binary["never_flipped_last"].between(0, 100).all()
    assert (binary["last_layer"] == "layer4.1.conv2").all()  # ResNet-18's last binary layer
    ovsw = pd.read_csv(workdir / "results/table_ovsw.csv")
    assert set(ovsw["recipe"]) == {"smoke", "smoke_half"}


def test_figure_files_are_pdf_and_png(finished_workflow):
    workdir, config = finished_workflow
    for name in config["figures"]:
        assert (workdir / f"results/fig_{name}.pdf").read_bytes().startswith(b"%PDF")
        assert (workdir / f"results/fig_{name}.png").read_bytes().startswith(b"\x89PNG")
        assert (workdir / config["paper"]["figures_dir"] / f"fig_{name}.png").is_file()
    silent = pd.read_csv(workdir / "results/silent_weights.csv")
    assert set(silent["variant"]) == {"ovsw_vanilla", "ovsw"}


def test_regression_report_has_a_verdict_per_row(finished_workflow):
    workdir, _ = finished_workflow
    report = pd.read_csv(workdir / "results/regression_report.csv", keep_default_na=False)
    assert len(report) > 0
    assert set(report["verdict"]) <= VERDICTS
    assert set(report["kind"]) == {"number", "claim"}
    claims = claim_rows(report)
    assert not claims["detail"].str.contains("was not produced").any()  # every table and figure
    # the claims the small grid has cells for are judged on them (the whole smoke grid has
    # the cells of every claim: test_the_smoke_grid_has_the_cells_of_every_claim)
    with_cells = claims[claims["id"].str.split(":").str[0].isin(["S1", "S2", "S4", "S5", "S6", "O1", "O3"])]
    assert len(with_cells) >= 7 and not with_cells["detail"].str.contains(NO_INPUT).any()
    markdown = (workdir / "results/regression_report.md").read_text()
    assert "verdict" in markdown.lower()


def test_a_finished_workflow_has_nothing_left_to_do(finished_workflow):
    workdir, config = finished_workflow
    proc = snakemake(workdir, config, "--dry-run", "all")
    assert proc.returncode == 0, failure(proc, workdir)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_html_report(finished_workflow, tmp_path):
    workdir, config = finished_workflow
    report = tmp_path / "report.html"  # outside the shared working directory
    proc = snakemake(workdir, config, "--report", str(report))
    assert proc.returncode == 0, failure(proc, workdir)
    assert report.stat().st_size > 0


def resolved_config(config: dict, run: RunId) -> dict:
    """The ``config.json`` that ``bnnbench train`` records for ``run`` of ``config``."""
    from benchmark.recipe import Recipe
    from benchmark.spec import RunSpec

    variant = config["variants"][run.variant]
    spec = RunSpec(
        dataset=run.dataset,
        arch=run.arch,
        method=variant["method"],
        regime=run.regime,
        seed=run.seed,
        recipe=Recipe.from_dict({"name": run.recipe, **config["recipes"][run.recipe]}),
        variant=run.variant,
        ordering=run.ordering,
        width=grid.width_for(config, run.arch),
        method_overrides=variant.get("set") or {},
    )
    return spec.to_dict()


def test_the_smoke_grid_has_the_cells_of_every_claim(tmp_path):
    """The whole smoke grid on fake finished records (tests/test_tables.py's format): every
    table has one row per cell, and every claim has the cells it needs: none is NOT RUN
    for lack of them. The tables, figures and report are built as the workflow's rules
    build them (``bnnbench table``, ``figure``, ``check``)."""
    config = smoke()
    results = tmp_path / "results"
    for i, run in enumerate(grid.all_runs(config)):
        flips = None if run.regime == "fp" else (40.0 + i % 7, 50.0 + i % 5)
        path = write_run(results, 40.0 + i % 11, flips=flips, **asdict(run))
        assert path == tmp_path / run.result
        (path.parent / "config.json").write_text(
            json.dumps(resolved_config(config, run))
        )  # the sweeps read it
    reported = [ROOT / p for p in config["paper"]["reported"]]
    tables_dir = tmp_path / config["paper"]["tables_dir"]
    assert set(config["tables"]) == TABLE_NAMES
    for name in config["tables"]:
        runs = grid.section_runs(config, "tables", name)
        paths = [tmp_path / run.result for run in runs]
        table = build_table(name, paths, results / f"table_{name}.csv", reported, tables_dir)
        assert_one_row_per_cell(table, runs, name)
        assert (table["n"] == len(config["seeds"])).all(), name
    for name in config["figures"]:
        paths = [tmp_path / r.result for r in grid.section_runs(config, "figures", name)]
        recipe = grid.grid_recipe(config, config["figures"][name])  # as the figure rule passes it
        build_figure(name, paths, results / f"fig_{name}", recipe=recipe)
    report = run_check(results, reported, ROOT / config["paper"]["claims"], results / "regression_report")
    assert set(report["verdict"]) <= VERDICTS
    assert not claim_rows(report)["detail"].str.contains(NO_INPUT).any()
