"""The small workflow grid that the end-to-end tests train once per session.

``tests/conftest.py`` runs ``snakemake all`` on :func:`small_grid` in a temporary directory,
in the background while the other tests run (fixture ``finished_workflow``);
``tests/test_workflow.py`` checks what it produced and
``tests/test_integrity.py`` works on private copies of it. Every rule runs (train, every
table, every figure, check) but on 18 training jobs instead of the smoke grid's 69: each
job is a new process that spends seconds importing torch, which is most of its cost.
The whole smoke grid still runs in ``nox -s smoke``, and ``tests/test_workflow.py`` checks
its shape (one table row per cell, every claim with the cells it needs) on fake records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from benchmark import configs

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "workflows" / "config" / "smoke.yaml"
CONFIG_NAME = "config.yaml"  # written into the working directory
DEPTH_TABLE = "results/table_depth_scaling.csv"


def smoke() -> dict:
    return configs.load(SMOKE)


def small_grid() -> dict:
    """The smoke config narrowed to 18 runs: ResNet-18 (and BinaryNet for Bop's recipe), seed 0.

    Every table and figure of the smoke config keeps its name and form (a section recipe,
    parts with their own recipes); between them the runs still cover the fp regime, an
    ordering other than forward, a variant with ``set`` overrides, a section with more seeds
    than the top level and every recipe. The depth-scaling table is STE and StoMPP with two
    seeds: ``tests/test_integrity.py`` needs a second seed in both cells.
    """
    config = smoke()
    tables, figures = config["tables"], config["figures"]

    def one() -> dict:  # fresh lists: no YAML anchors in the written config
        return {
            "datasets": ["synthetic"],
            "orderings": ["forward"],
            "archs": ["resnet18"],
            "regimes": ["bnn"],
        }

    tables["depth_scaling"].update(one(), variants=["ste", "stompp"], seeds=[0, 1])
    # with the random-features control, which S2's laptop form reads (one run: no ordering)
    tables["ordering"].update(one(), variants=["stompp", "random_features"], orderings=["forward", "reverse"])
    tables["hybrids"].update(one(), variants=["ste", "stompp"], seeds=[0, 1])  # depth_scaling's runs
    tables["peers"].update(one(), variants=["fp", "ste", "stompp", "ovsw", "pabt"])
    full, _components, half = tables["ovsw"]["parts"]
    full.update(one(), variants=["fp", "ovsw_vanilla", "ovsw"])  # the baseline of O1 and O3
    half.update(one(), variants=["ovsw"])
    tables["ovsw"]["parts"] = [full, half]
    tables["bop"]["parts"][0].update(one(), variants=["bop"], archs=["binarynet"])
    tables["pabt"]["parts"][0].update(one(), variants=["fp", "pabt"], archs=["resnet20"])
    tables["architectures"].update(one(), variants=["ste", "stompp"], archs=["mobilenetv2"])
    tables["bireal"].update(one(), variants=["fp", "ste_ft"], archs=["bireal18"])  # fine-tuning
    figures["trajectories"].update(one(), variants=["ste", "stompp"])
    figures["silent_weights"].update(one(), variants=["ovsw_vanilla", "ovsw"])
    # the curves figures on runs the tables above train (no bwn run here: the fp line only)
    figures["curves_bwn"].update(one(), variants=["fp"])
    figures["curves_hybrids"].update(one(), variants=["fp", "ste", "stompp"])
    figures["curves_bireal"].update(one(), variants=["fp", "ste_ft"], archs=["bireal18"])
    figures["curves_pabt"].update(one(), variants=["pabt"], archs=["resnet20"])
    # the sweeps on runs the tables above train: one point each, the epoch sweep two recipes
    figures["sweep_schedule_refresh"].update(one(), variants=["stompp"])
    figures["sweep_masking"].update(one(), variants=["stompp"])
    figures["sweep_epochs"]["parts"] = [{"recipe": "smoke"}]
    figures["sweep_epochs"].update(one(), variants=["ste", "stompp"])
    figures["ovsw_sweeps"]["parts"] = [
        {"variants": ["ovsw_vanilla", "ovsw"]},
        {"recipe": "smoke_half", "variants": ["ovsw"]},
    ]
    figures["ovsw_sweeps"].update(one())
    return config


def command(workdir: Path, config: dict, *args: str) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of a snakemake run of the repository's workflow on ``config``
    (written to ``workdir/config.yaml``) with ``workdir`` as its root."""
    (workdir / CONFIG_NAME).write_text(yaml.safe_dump(config))
    bindir = str(Path(sys.executable).parent)  # bnnbench must be found by rule shells
    env = {**os.environ, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    cmd += ["--directory", str(workdir), "--configfile", str(workdir / CONFIG_NAME), *args]
    return cmd, env


def snakemake(workdir: Path, config: dict, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the workflow (see :func:`command`); returns the finished process, whatever its exit code."""
    cmd, env = command(workdir, config, *args)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def failure(proc: subprocess.CompletedProcess, workdir: Path) -> str:
    """Snakemake's output and the tails of the last rule logs, for an assertion message."""
    return log_tails(workdir, proc.stdout[-3000:], proc.stderr[-5000:])


def log_tails(workdir: Path, *output: str) -> str:
    logs = sorted(workdir.glob("results/**/*.log"))
    tails = [f"--- {p.relative_to(workdir)}\n{p.read_text()[-2000:]}" for p in logs[-3:]]
    return "\n".join([*output, *tails])


class Background:
    """``snakemake all`` on :func:`small_grid`, started in the background (tests/conftest.py
    starts it once the tests are collected, so that it trains while the in-process tests
    run); its output goes to ``<workdir>.log``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.config = small_grid()
        self.log = workdir.with_name(workdir.name + ".log")
        cmd, env = command(workdir, self.config, "--cores", "2", "all")
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait(self, timeout: float = 900) -> tuple[Path, dict]:
        """(working directory, config) once the run has finished; it must have succeeded."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        assert code == 0, log_tails(self.workdir, self.log.read_text()[-8000:])
        return self.workdir, self.config

    def stop(self) -> None:
        """End the run and the jobs it started (its own process group), if still running."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
