"""One end-to-end run of the workflow on the smoke config, in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark import grid

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "workflows" / "config" / "smoke.yaml"
VERDICTS = {"PASS", "FAIL", "HOLDS", "FAILS", "INCONCLUSIVE", "NOT RUN"}

pytestmark = pytest.mark.workflow


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the repository's workflow on the smoke config with ``workdir`` as its root."""
    bindir = str(Path(sys.executable).parent)  # bnnbench must be found by rule shells
    env = {**os.environ, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    cmd += ["--directory", str(workdir), "--configfile", str(SMOKE), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def failure(proc: subprocess.CompletedProcess, workdir: Path) -> str:
    logs = sorted(workdir.glob("results/**/*.log"))
    tails = [f"--- {p.relative_to(workdir)}\n{p.read_text()[-2000:]}" for p in logs[-3:]]
    return "\n".join([proc.stdout[-3000:], proc.stderr[-5000:], *tails])


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, dict]:
    """The smoke workflow, run once for this module: (working directory, config)."""
    workdir = tmp_path_factory.mktemp("smoke")
    proc = snakemake(workdir, "--cores", "2", "all")
    assert proc.returncode == 0, failure(proc, workdir)
    return workdir, yaml.safe_load(SMOKE.read_text())


def test_every_run_finished_with_a_record(smoke):
    workdir, config = smoke
    runs = grid.all_runs(config)
    for run in runs:
        result = json.loads((workdir / run.result).read_text())
        assert result["status"] in {"ok", "diverged"}
        identity = {k: v for k, v in result["identity"].items() if k != "method"}
        assert identity == asdict(run)
        assert (workdir / run.directory / "metrics.csv").is_file()
        assert (workdir / run.directory / "config.json").is_file()
    found = list((workdir / "results" / "runs").rglob("result.json"))
    assert len(found) == len(runs)  # nothing beyond the grid was trained


def test_tables_have_one_row_per_cell(smoke):
    workdir, config = smoke
    assert set(config["tables"]) == {"depth_scaling", "ordering", "peers", "ovsw", "bop", "pabt"}
    for name in config["tables"]:
        table = pd.read_csv(workdir / f"results/table_{name}.csv")
        runs = grid.section_runs(config, "tables", name)
        cells = {(r.recipe, r.dataset, r.arch, r.regime, r.variant, r.ordering) for r in runs}
        keys = ["recipe", "dataset", "arch", "regime", "variant", "ordering"]
        assert set(table[keys].itertuples(index=False, name=None)) == cells, name
        assert (table["n"] == len(config["seeds"])).all(), name
        assert table["mean"].between(0, 100).all(), name
        assert (workdir / config["paper"]["tables_dir"] / f"table_{name}.md").is_file()


def test_peer_tables_carry_speed_and_flip_statistics(smoke):
    workdir, _ = smoke
    peers = pd.read_csv(workdir / "results/table_peers.csv")
    assert (peers["steps_per_second"] > 0).all()
    binary = peers[peers["variant"] != "fp"]
    assert binary["never_flipped"].between(0, 100).all()
    assert binary["never_flipped_last"].between(0, 100).all()
    assert (binary["last_layer"] == "layer4.1.conv2").all()  # ResNet-18's last binary layer
    ovsw = pd.read_csv(workdir / "results/table_ovsw.csv")
    assert set(ovsw["recipe"]) == {"smoke", "smoke_half"}


def test_figure_files_are_pdf_and_png(smoke):
    workdir, config = smoke
    for name in config["figures"]:
        assert (workdir / f"results/fig_{name}.pdf").read_bytes().startswith(b"%PDF")
        assert (workdir / f"results/fig_{name}.png").read_bytes().startswith(b"\x89PNG")
        assert (workdir / config["paper"]["figures_dir"] / f"fig_{name}.png").is_file()
    silent = pd.read_csv(workdir / "results/silent_weights.csv")
    assert set(silent["variant"]) == {"ste", "ovsw"}


def test_regression_report_has_a_verdict_per_row(smoke):
    workdir, _ = smoke
    report = pd.read_csv(workdir / "results/regression_report.csv", keep_default_na=False)
    assert len(report) > 0
    assert set(report["verdict"]) <= VERDICTS
    assert set(report["kind"]) == {"number", "claim"}
    claims = {i.split(":")[0] for i in report.loc[report["kind"] == "claim", "id"]}
    assert claims == {"S1", "S2", "S3", "S4", "S5", "S6", "O1", "O2", "O3", "B1", "P1", "P2"}
    # every claim has the cells it needs in the smoke grid: none is NOT RUN for lack of them
    judged = report[report["kind"] == "claim"]
    assert not judged["detail"].str.contains("has no cells|was not produced").any()
    markdown = (workdir / "results/regression_report.md").read_text()
    assert "verdict" in markdown.lower()


def test_a_finished_workflow_has_nothing_left_to_do(smoke):
    workdir, _ = smoke
    proc = snakemake(workdir, "--dry-run", "all")
    assert proc.returncode == 0, failure(proc, workdir)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_html_report(smoke):
    workdir, _ = smoke
    proc = snakemake(workdir, "--report", "results/report.html")
    assert proc.returncode == 0, failure(proc, workdir)
    assert (workdir / "results/report.html").stat().st_size > 0
