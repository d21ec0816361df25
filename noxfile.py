"""Developer sessions: ``nox -s tests``, ``lint``, ``smoke``, ``bench``, ``paper``.

Every session runs in the environment nox itself runs in (``venv_backend="none"``): torch
and friends are installed once, by the README's install command, not once per session.
Each session first checks that ``bnnbench`` is installed there and says how to install
it if not.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).parent
INSTALL = 'python3 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e ".[dev]"'
SMOKE_CONFIG = ROOT / "workflows" / "config" / "smoke.yaml"
SMOKE_TARGETS = (
    "results/table_depth_scaling.csv",
    "results/table_ordering.csv",
    "results/fig_trajectories.pdf",
    "results/fig_trajectories.png",
    "results/regression_report.csv",
    "results/regression_report.md",
)

nox.options.sessions = ["lint", "tests"]


def _require_bnnbench(session: nox.Session) -> None:
    """Stop with the install command unless bnnbench is installed where nox runs.

    The environment's scripts (python, bnnbench, snakemake) go first on PATH, so that the
    shells Snakemake starts find them even when nox was called by path without activating
    the environment.
    """
    bindir = _environment_bin()
    if bindir is None:
        session.error(
            "bnnbench is not installed in the environment nox runs in. From the repository "
            f"root, run first:\n    {INSTALL}\nthen run nox from that environment"
        )
    path = os.pathsep.join([str(bindir), os.environ.get("PATH", "")])
    os.environ["PATH"] = path  # where nox looks up programs
    session.env["PATH"] = path  # what the programs (and Snakemake's shells) see


def _environment_bin() -> Path | None:
    """The scripts directory of the active virtualenv or of nox's own, if it has bnnbench."""
    candidates = [Path(sys.executable).parent]
    if os.environ.get("VIRTUAL_ENV"):
        candidates.insert(0, Path(os.environ["VIRTUAL_ENV"]) / "bin")
    return next((c for c in candidates if (c / "bnnbench").is_file()), None)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The default test suite (slow tests excluded); extra arguments go to pytest."""
    _require_bnnbench(session)
    session.run("python", "-m", "pytest", "-m", "not slow", *session.posargs)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff (check and format), snakefmt and ``snakemake --lint``."""
    _require_bnnbench(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("snakefmt", "--check", "Snakefile", "workflows")
    session.run("snakemake", "--lint")


@nox.session(venv_backend="none")
def smoke(session: nox.Session) -> None:
    """The whole workflow on the smoke config, in a temporary directory (results/ untouched)."""
    _require_bnnbench(session)
    keep = "--keep" in session.posargs
    workdir = Path(tempfile.mkdtemp(prefix="bnnbench-smoke-"))
    try:
        session.run(*_snakemake(workdir, SMOKE_CONFIG), "--cores", "2", "all")
        missing = [t for t in SMOKE_TARGETS if not (workdir / t).is_file()]
        if missing:
            session.error(f"the smoke workflow did not produce {missing} in {workdir}")
        session.log(f"smoke OK: {len(SMOKE_TARGETS)} targets in {workdir}")
    finally:
        if keep:
            session.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Median training-step time of each method relative to ste (``bnnbench bench``)."""
    _require_bnnbench(session)
    session.run("bnnbench", "bench", *session.posargs)


@nox.session(venv_backend="none")
def paper(session: nox.Session) -> None:
    """Regenerate every target of the default config (tables, figure, regression report)."""
    _require_bnnbench(session)
    session.run("snakemake", "--cores", str(os.cpu_count() or 1), "all", *session.posargs)


def _snakemake(workdir: Path, configfile: Path) -> tuple[str, ...]:
    """A snakemake command that runs the repository's workflow with ``workdir`` as its root."""
    return (
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
    )
