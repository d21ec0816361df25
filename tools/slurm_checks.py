"""Checks for ``nox -s slurm``: a finished grid, equal runs, and the requeue test.

The pure parts (config merging, expected targets, timing-free comparison of two run
directories, SLURM job comments) are unit-tested in ``tests/test_slurm_profile.py``;
the requeue test needs a running cluster (``tools/local_slurm.py``)::

    python -m tools.slurm_checks grid WORKDIR CONFIG...          # targets exist, every run ok
    python -m tools.slurm_checks compare RUN_DIR REFERENCE_DIR   # equal except timings
    python -m tools.slurm_checks requeue --workdir W --reference R [--target T] -- snakemake ...

The requeue test starts the given Snakemake command (a grid through the SLURM
profile, checkpointing every step), waits until a ``train`` job is RUNNING and its run
directory has a ``checkpoint.pt``, requeues it with ``scontrol requeue``, measures the
seconds until that run trains again (its log says ``resumed from`` and the resumed process
has finished a step), lets the grid finish, and compares the run with the same run of
an uninterrupted grid.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark import configs, grid
from benchmark.identity import RunId

RESULT_TIMING_KEYS = frozenset({"wall_seconds", "steps_per_second", "provenance"})
RESUMED = re.compile(r"resumed from (\S+) at step (\d+)")
CHECKPOINTED = re.compile(r"checkpointed at step (\d+)")
CHECKPOINT = "checkpoint.pt"


# -- configs and targets ---------------------------------------------------------------


def check_grid(workdir: Path, config: Mapping[str, Any]) -> list[str]:
    """Problems of a finished ``all`` in ``workdir``: missing targets, runs not ``ok``, leftovers."""
    problems = [f"missing {t}" for t in configs.targets(config) if not (workdir / t).is_file()]
    for run in grid.all_runs(config):
        path = workdir / run.result
        if not path.is_file():
            problems.append(f"missing {run.result}")
            continue
        status = json.loads(path.read_text()).get("status")
        if status != "ok":
            problems.append(f"{run.result}: status {status!r}, expected 'ok'")
        if (workdir / run.directory / CHECKPOINT).exists():
            problems.append(f"{run.directory}/{CHECKPOINT} left behind after result.json")
    return problems


def check_target(workdir: Path, config: Mapping[str, Any], target: str) -> list[str]:
    """Problems of a grid that built one ``target``: it is missing, or a run it trained (those with
    a ``result.json``; Snakemake built the target from them) is not ``ok`` or left a checkpoint."""
    if not (workdir / target).is_file():
        return [f"missing {target}"]
    runs = [run for run in grid.all_runs(config) if (workdir / run.result).is_file()]
    print(f"{target}: {len(runs)} runs trained")
    problems = [] if runs else [f"no run of {target} was trained in {workdir}"]
    for run in runs:
        status = json.loads((workdir / run.result).read_text()).get("status")
        if status != "ok":
            problems.append(f"{run.result}: status {status!r}, expected 'ok'")
        if (workdir / run.directory / CHECKPOINT).exists():
            problems.append(f"{run.directory}/{CHECKPOINT} left behind after result.json")
    return problems


def check_arrays(workdir: Path) -> list[str]:
    """Problems of a grid run with ``--slurm-array-jobs train``: no train job ran as a task of a
    SLURM job array (the plugin names such logs ``<array id>_<task>.log``)."""
    logs = sorted((workdir / "results" / "logs" / "slurm" / "rule_train").rglob("*.log"))
    tasks = [p for p in logs if re.fullmatch(r"\d+_\d+\.log", p.name)]
    arrays = {p.name.split("_")[0] for p in tasks}
    print(f"{len(tasks)} train jobs ran as tasks of {len(arrays)} SLURM job arrays ({len(logs)} logs)")
    return [] if tasks else [f"no array task log under {workdir}/results/logs/slurm/rule_train"]


def check_shared(workdir: Path, n: int, runs: int) -> list[str]:
    """Problems of a grid whose ``runs`` train runs share GPUs ``n`` to a job
    (``resources.runs_per_gpu``): they did not run as Snakemake group jobs ``gpu_share_n`` of at
    most ``n`` runs (the plugin logs a group job as ``group_<group>_train/<SLURM id>.log``; its
    first command names the runs), or a job did not ask SLURM for one GPU (``scontrol``)."""
    logs = sorted((workdir / "results" / "logs" / "slurm" / f"group_gpu_share_{n}_train").glob("*.log"))
    members = {log.stem: _group_members(log) for log in logs}
    print(f"{sum(members.values())} train runs ran in {len(members)} SLURM jobs: {sorted(members.values())}")
    problems = [] if members else [f"no group job gpu_share_{n} ran in {workdir}"]
    if sum(members.values()) != runs:
        problems.append(f"{sum(members.values())} runs ran in group jobs, {runs} were trained")
    problems += [f"SLURM job {job} held {k} runs, more than {n}" for job, k in members.items() if k > n]
    if members and max(members.values()) < min(n, runs):
        problems.append(f"no SLURM job held {n} runs: {sorted(members.values())}")
    for job in members:
        shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stdout
        if not re.search(r"TresPerNode=\S*gpu:1\b", shown):
            problems.append(f"SLURM job {job} did not ask for one GPU: {shown.strip()[:200]!r}")
    return problems


def _group_members(log: Path) -> int:
    """The runs a group job's log names in its first snakemake command (``--target-jobs``)."""
    for line in log.read_text(errors="replace").splitlines():
        if "Command:" in line:
            return line.count(" train:")
    return 0


# -- comparing two runs ----------------------------------------------------------------


def is_timing_key(key: str) -> bool:
    """Whether a record key is a timing (differs between equal runs): wall time, rates, provenance."""
    k = key.lower()
    return k in RESULT_TIMING_KEYS or "second" in k or k.endswith("_time") or k.startswith("time")


def strip_timing(value: Any) -> Any:
    """``value`` with every timing key (:func:`is_timing_key`) removed, recursively."""
    if isinstance(value, Mapping):
        return {k: strip_timing(v) for k, v in value.items() if not is_timing_key(str(k))}
    if isinstance(value, list):
        return [strip_timing(v) for v in value]
    return value


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV file's columns and rows without its timing columns, cells as written."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return [], []
    keep = [i for i, name in enumerate(rows[0]) if not is_timing_key(name)]
    return [rows[0][i] for i in keep], [[row[i] for i in keep] for row in rows[1:]]


def compare_runs(run_dir: Path, reference_dir: Path) -> list[str]:
    """Differences between two run directories of the same identity, timings left out.

    ``metrics.csv`` and ``layers.csv`` must be equal cell for cell (as written, so bit for
    bit) in every column but ``seconds``; ``result.json`` equal in every key but
    ``wall_seconds``, ``steps_per_second``, ``provenance`` and other timings. An empty
    list means the runs are equal.
    """
    differences: list[str] = []
    for name in ("metrics.csv", "layers.csv"):
        mine, theirs = run_dir / name, reference_dir / name
        if not mine.exists() and not theirs.exists() and name == "layers.csv":
            continue
        if not mine.exists() or not theirs.exists():
            differences.append(f"{name}: present in only one of the runs")
            continue
        (cols_a, rows_a), (cols_b, rows_b) = read_rows(mine), read_rows(theirs)
        if cols_a != cols_b:
            differences.append(f"{name}: columns {cols_a} != {cols_b}")
            continue
        if len(rows_a) != len(rows_b):
            differences.append(f"{name}: {len(rows_a)} rows != {len(rows_b)}")
        for i, (a, b) in enumerate(zip(rows_a, rows_b, strict=False)):
            for col, x, y in zip(cols_a, a, b, strict=True):
                if x != y:
                    differences.append(f"{name} row {i + 1} {col}: {x} != {y}")
    mine, theirs = run_dir / "result.json", reference_dir / "result.json"
    if not mine.exists() or not theirs.exists():
        differences.append("result.json: present in only one of the runs")
    else:
        a = strip_timing(json.loads(mine.read_text()))
        b = strip_timing(json.loads(theirs.read_text()))
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                differences.append(f"result.json {key}: {a.get(key)!r} != {b.get(key)!r}")
    return differences


# -- SLURM jobs and runs ---------------------------------------------------------------


def job_comment(run: RunId) -> str:
    """The ``--comment`` the SLURM plugin gives the ``train`` job of ``run``.

    It joins the rule's wildcard values in the order of the output pattern (recipe,
    dataset, arch, regime, variant, ordering, seed), as ``sbatch --comment``.
    """
    values = [str(v) for v in run.as_dict().values()]
    return "rule_train_wildcards_" + "_".join(values).replace("/", "_")


def squeue(env: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Every job the cluster knows: (job id, state, comment)."""
    proc = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i|%T|%k"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    jobs = []
    for line in proc.stdout.splitlines():
        jobid, state, comment = (line.split("|", 2) + ["", ""])[:3]
        jobs.append((jobid.strip(), state.strip(), comment.strip()))
    return jobs


@dataclass
class RequeueReport:
    """What the requeue test saw; times are seconds after ``scontrol requeue``."""

    run: str
    jobid: str
    checkpointed_step: int | None = None
    resumed_step: int | None = None
    job_running_again: float | None = None
    resumed: float | None = None
    training_again: float | None = None
    snakemake_rc: int | None = None
    differences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.differences and self.training_again is not None

    def summary(self) -> str:
        def s(x: float | None) -> str:
            return "never" if x is None else f"{x:.1f} s"

        return (
            f"requeued SLURM job {self.jobid} ({self.run}) at step {self.checkpointed_step}: "
            f"job RUNNING again after {s(self.job_running_again)}, resumed from step "
            f"{self.resumed_step} after {s(self.resumed)}, training again (first step after "
            f"the resume written) after {s(self.training_again)}; records equal to the "
            f"uninterrupted run: {'yes' if not self.differences else 'NO'}"
        )


def requeue_test(
    command: Sequence[str],
    workdir: Path,
    reference: Path,
    env: Mapping[str, str],
    *,
    timeout: float = 3600.0,
    poll: float = 0.2,
    log: Callable[[str], None] = print,
) -> RequeueReport:
    """Run ``command`` (a Snakemake grid on SLURM in ``workdir``), requeue one running train job.

    ``reference`` is the working directory of an uninterrupted grid with the same runs.
    """
    deadline = time.monotonic() + timeout
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir.parent / f"{workdir.name}.snakemake.log"
    with output.open("w") as out:
        proc = subprocess.Popen(list(command), env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            report = _requeue_one(workdir, env, proc, deadline, poll, log)
            remaining = max(deadline - time.monotonic(), 1.0)
            report.snakemake_rc = proc.wait(timeout=remaining)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
    if report.snakemake_rc != 0:
        tail = output.read_text()[-4000:]
        report.problems.append(f"snakemake exited {report.snakemake_rc}; {output}:\n{tail}")
        return report
    run_dir = workdir / report.run
    text = (run_dir / "train.log").read_text()
    if not RESUMED.search(text):
        report.problems.append(f"{run_dir}/train.log never says 'resumed from': the run started over")
    report.differences = compare_runs(run_dir, reference / report.run)
    return report


def _requeue_one(
    workdir: Path,
    env: Mapping[str, str],
    proc: subprocess.Popen,
    deadline: float,
    poll: float,
    log: Callable[[str], None],
) -> RequeueReport:
    runs_dir = workdir / "results" / "runs"
    target: tuple[str, Path] | None = None
    while target is None:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("no train job was ever RUNNING with a checkpoint.pt (grid ended or timed out)")
        running = {comment: jobid for jobid, state, comment in squeue(env) if state == "RUNNING"}
        for ckpt in sorted(runs_dir.rglob(CHECKPOINT)) if runs_dir.exists() else []:
            jobid = running.get(job_comment(RunId.from_directory(ckpt.parent)))
            if jobid:
                target = (jobid, ckpt)
                break
        else:
            time.sleep(poll)
    jobid, ckpt = target
    run_dir = ckpt.parent
    train_log = run_dir / "train.log"
    report = RequeueReport(run=str(run_dir.relative_to(workdir)), jobid=jobid)
    log(f"requeueing SLURM job {jobid}: {report.run}")
    requeued_at = time.time()
    subprocess.run(["scontrol", "requeue", jobid], env=dict(env), check=True, timeout=30)

    left_running = False
    last_old_mtime = 0.0
    while report.training_again is None:
        now = time.time()
        if time.monotonic() > deadline or proc.poll() is not None:
            report.problems.append("the requeued run did not train again before the grid ended")
            break
        text = train_log.read_text() if train_log.exists() else ""
        done = CHECKPOINTED.findall(text)
        if done:
            report.checkpointed_step = int(done[-1])
        state = next((s for j, s, _ in squeue(env) if j == jobid), "")
        if state != "RUNNING":
            left_running = True
        elif left_running and report.job_running_again is None:
            report.job_running_again = now - requeued_at
        resumed = RESUMED.findall(text)
        try:
            mtime = ckpt.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if not resumed:
            last_old_mtime = max(last_old_mtime, mtime or 0.0)  # the old process's writes
        else:
            if report.resumed is None:
                report.resumed = now - requeued_at
                report.resumed_step = int(resumed[-1][1])
            if mtime is not None and mtime > last_old_mtime and mtime > requeued_at + report.resumed - 1:
                report.training_again = mtime - requeued_at
            elif mtime is None and (run_dir / "result.json").exists():  # finished between polls
                report.training_again = (run_dir / "result.json").stat().st_mtime - requeued_at
        time.sleep(poll)
    return report


# -- command line ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.slurm_checks grid|compare|requeue ...``; exit 1 on any problem."""
    parser = argparse.ArgumentParser(prog="python -m tools.slurm_checks", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grid", help="every target exists and every run finished ok")
    p.add_argument("workdir", type=Path)
    p.add_argument("configfiles", type=Path, nargs="+", help="the --configfile list the grid ran with")
    p.add_argument("--arrays", action="store_true", help="also: its train jobs ran as SLURM job arrays")
    p.add_argument("--reference", type=Path, default=None, help="also: its runs equal this grid's")
    p.add_argument("--target", default=None, help="only this target was built: it and its runs")
    p.add_argument("--shared", type=int, default=0, help="also: its runs shared GPUs, N to a SLURM job")
    p = sub.add_parser("compare", help="two run directories are equal except timings")
    p.add_argument("run_dir", type=Path)
    p.add_argument("reference_dir", type=Path)
    p = sub.add_parser("requeue", help="requeue one running train job of a grid; compare it")
    p.add_argument("--workdir", type=Path, required=True, help="working directory of the grid to run")
    p.add_argument("--reference", type=Path, required=True, help="an uninterrupted grid's working directory")
    p.add_argument("--configfiles", type=Path, nargs="+", required=True, help="the grid's --configfile list")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--target", default=None, help="the command builds only this target: it and its runs")
    p.add_argument("snakemake", nargs=argparse.REMAINDER, help="-- then the snakemake command")
    args = parser.parse_args(argv)

    if args.command == "grid":
        config = configs.load(*args.configfiles)
        problems = (
            check_target(args.workdir, config, args.target)
            if args.target
            else check_grid(args.workdir, config)
        )
        if args.arrays:
            problems += check_arrays(args.workdir)
        if args.shared:
            trained = sum((args.workdir / run.result).is_file() for run in grid.all_runs(config))
            problems += check_shared(args.workdir, args.shared, trained)
        if args.reference is not None:
            problems += _compare_all(args.workdir, args.reference, config)
        return _report(problems, f"grid OK in {args.workdir}")
    if args.command == "compare":
        return _report(compare_runs(args.run_dir, args.reference_dir), "runs equal except timings")
    command = args.snakemake[1:] if args.snakemake[:1] == ["--"] else args.snakemake
    report = requeue_test(command, args.workdir, args.reference, os.environ, timeout=args.timeout)
    print(report.summary(), flush=True)
    problems = report.problems + [f"differs from the uninterrupted run: {d}" for d in report.differences]
    if report.training_again is None and not problems:
        problems.append("the requeued run was never seen training again")
    config = configs.load(*args.configfiles)
    problems += (
        check_target(args.workdir, config, args.target) if args.target else check_grid(args.workdir, config)
    )
    problems += _compare_all(args.workdir, args.reference, config)
    return _report(
        problems, f"requeue OK: requeue-to-training {report.training_again:.1f} s" if report.ok else ""
    )


def _compare_all(workdir: Path, reference: Path, config: Mapping[str, Any]) -> list[str]:
    """Every run of the grid equals the reference grid's (checkpointing changes no number)."""
    problems = []
    for run in grid.all_runs(config):
        if (workdir / run.result).exists() and (reference / run.result).exists():
            problems += [
                f"{run.directory}: {d}"
                for d in compare_runs(workdir / run.directory, reference / run.directory)
            ]
    return problems


def _report(problems: Iterable[str], ok_message: str) -> int:
    problems = list(problems)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(ok_message, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
