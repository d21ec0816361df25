"""The small workflow grid that the end-to-end tests train once per session.

``tests/conftest.py`` runs ``snakemake all`` on :func:`tools.small_grid.small_grid` in a
temporary directory, in the background while the other tests run (fixture
``finished_workflow``); ``tests/test_workflow.py`` checks what it produced and
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

from tools.small_grid import SMOKE, small_grid, smoke  # noqa: F401  (the tests' names for them)

ROOT = Path(__file__).resolve().parents[1]
CONFIG_NAME = "config.yaml"  # written into the working directory
DEPTH_TABLE = "results/table_depth_scaling.csv"


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
