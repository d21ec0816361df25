"""Warm starts (``benchmark.warm``): a ``bnnbench train`` forked from a server that imported torch
once writes the records of the same run in a process of its own, passes its exit status, output
and signals through, and is refused where a forked child would differ from a new process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmark import checkpoint, warm
from tests.test_resume import assert_same_records, wait_for

ARGS = ["train", "--dataset", "synthetic", "--arch", "resnet18", "--width", "0.0625", "--method", "stompp"]
ARGS += ["--seed", "3", "--epochs", "2", "--threads", "1", "--no-progress", "--checkpoint-seconds", "0"]


def start_server(owner: int, idle: float = 120.0) -> tuple[str, subprocess.Popen[bytes]]:
    name = f"bnnbench-warm-test-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "benchmark.warm", name, "--owner", str(owner), "--idle", str(idle)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    assert warm._ready(server, timeout=120), "the server did not say ready"
    return name, server


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    name, proc = start_server(os.getpid())
    yield name
    proc.terminate()
    assert proc.wait(timeout=60) == 0


def bnnbench(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def started(run: Path) -> str:
    return json.loads((run / "result.json").read_text())["provenance"]["started"]


def test_a_forked_run_writes_the_records_of_a_run_in_its_own_process(tmp_path: Path, server: str) -> None:
    cold = bnnbench(*ARGS, "--out", str(tmp_path / "cold"))
    forked = bnnbench(*ARGS, "--out", str(tmp_path / "warm"), env={warm.ENV: server})
    for proc in (cold, forked):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "ok: test_acc=" in out  # the child writes to the client's standard output
    assert (started(tmp_path / "cold"), started(tmp_path / "warm")) == ("cold", "warm")
    assert_same_records(tmp_path / "cold", tmp_path / "warm")


def test_the_exit_status_and_the_error_come_back_to_the_client(tmp_path: Path, server: str) -> None:
    proc = bnnbench(*ARGS[:2], "nope", *ARGS[3:], "--out", str(tmp_path / "r"), env={warm.ENV: server})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "bnnbench train: error:" in err and "nope" in err


def test_sigterm_to_the_client_reaches_the_forked_run_which_checkpoints(tmp_path: Path, server: str) -> None:
    out = tmp_path / "stopped"
    args = [*ARGS[: ARGS.index("--epochs")], "--epochs", "30", *ARGS[ARGS.index("--epochs") + 2 :]]
    proc = bnnbench(*args, "--out", str(out), env={warm.ENV: server})
    wait_for(out / "metrics.csv", proc)  # (launched through the server: the client has no run of its own)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == checkpoint.EXIT_PREEMPTED, err
    assert (out / checkpoint.CHECKPOINT_NAME).exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ATEN_CPU_CAPABILITY": "default"}, "ATEN_CPU_CAPABILITY"),  # read when torch loads
        ({"OMP_NUM_THREADS": "7"}, "OMP_NUM_THREADS"),
    ],
)
def test_a_job_whose_load_time_environment_differs_is_refused(change: dict[str, str], reason: str) -> None:
    own = {**warm.identity(), "env": {"HOME": "/x"}}
    request = {"identity": warm.identity(), "env": {"HOME": "/y", **change}}
    assert reason in (warm.refusal(request, own) or "")
    same = {"identity": warm.identity(), "env": {"HOME": "/y"}}  # HOME is not read when torch loads
    assert warm.refusal(same, own) is None


def test_other_code_than_the_servers_is_refused() -> None:
    own = {**warm.identity(), "env": {}}
    edited = {**warm.identity(), "code": [["benchmark/train.py", 1, 2]]}
    assert "code" in (warm.refusal({"identity": edited, "env": {}}, own) or "")


def test_a_refused_job_trains_in_its_own_process(tmp_path: Path, server: str) -> None:
    proc = bnnbench(*ARGS, "--out", str(tmp_path / "r"), env={warm.ENV: server, "TORCH_BNNBENCH_TEST": "1"})
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert started(tmp_path / "r") == "cold"


def test_without_a_server_the_client_trains_itself(tmp_path: Path) -> None:
    proc = bnnbench(*ARGS, "--out", str(tmp_path / "r"), env={warm.ENV: "bnnbench-warm-nobody"})
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert started(tmp_path / "r") == "cold"


def test_the_server_exits_when_its_owner_is_gone() -> None:
    owner = subprocess.Popen(["sleep", "600"])
    _, server = start_server(owner.pid)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 30
    while server.poll() is None:
        assert time.monotonic() < deadline, "the server outlived its owner by 30 s"
        time.sleep(0.1)
    assert server.returncode == 0


def workflow(*, main: bool = True, local: bool = True, rules: tuple[str, ...] = ("train", "table")) -> Any:
    jobs = [SimpleNamespace(rule=SimpleNamespace(name=name)) for name in rules]
    dag = SimpleNamespace(needrun_jobs=lambda: iter(jobs))
    return SimpleNamespace(is_main_process=main, non_local_exec=not local, dag=dag)


def test_a_server_starts_for_local_runs_that_train_only() -> None:
    assert warm.wanted({}, workflow())  # on by default
    assert not warm.wanted({"warm_start": False}, workflow())
    assert not warm.wanted({}, workflow(local=False))  # a cluster executor
    assert not warm.wanted({}, workflow(main=False))  # a group job's own Snakemake
    assert not warm.wanted({}, workflow(rules=("table", "figure")))  # nothing to train
