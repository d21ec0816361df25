"""Checkpoint and resume: a run stopped at any point and started again ends with the records
of an uninterrupted run, apart from timings (DESIGN 9; issue 4).

In-process tests stop every registered method mid-epoch with a real SIGUSR1; subprocess tests
kill ``bnnbench train`` with SIGKILL and SIGTERM as SLURM would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

import methods
from benchmark import checkpoint
from benchmark import train as train_module
from benchmark.cli import main
from benchmark.errors import UserError
from benchmark.recipe import Recipe
from benchmark.spec import RunSpec

TIMING_KEYS = ("wall_seconds", "steps_per_second", "provenance")
STEPS_PER_EPOCH = 4  # synthetic: 256 training images, batch 64, drop_last


def spec_for(method: str, epochs: int = 2, **overrides: Any) -> RunSpec:
    cls = methods.get_method(method)
    return RunSpec(
        dataset="synthetic",
        arch="resnet18",
        method=method,
        regime=cls.regimes[0],
        seed=5,
        recipe=Recipe(name="tiny", epochs=epochs, batch_size=64, augment=True),
        ordering="forward" if cls.has_ordering else "none",
        width=0.0625,
        method_overrides=overrides,
        threads=1,
        device="cpu",
    )


def assert_same_records(a: Path, b: Path) -> None:
    """metrics.csv, layers.csv, weight_histogram.csv and result.json equal apart from timings."""
    ma = pd.read_csv(a / "metrics.csv").drop(columns="seconds")
    mb = pd.read_csv(b / "metrics.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(ma, mb, check_exact=True)
    if (a / "layers.csv").exists() or (b / "layers.csv").exists():
        pd.testing.assert_frame_equal(
            pd.read_csv(a / "layers.csv"), pd.read_csv(b / "layers.csv"), check_exact=True
        )
    if (a / "weight_histogram.csv").exists() or (b / "weight_histogram.csv").exists():
        assert (a / "weight_histogram.csv").read_bytes() == (b / "weight_histogram.csv").read_bytes()
    ra, rb = (json.loads((d / "result.json").read_text()) for d in (a, b))
    for key in TIMING_KEYS:
        ra.pop(key), rb.pop(key)
    assert ra == rb
    assert not (b / checkpoint.CHECKPOINT_NAME).exists()


def stop_at(monkeypatch: pytest.MonkeyPatch, step: int, signum: int = signal.SIGUSR1) -> None:
    """Deliver a real ``signum`` to this process right after optimizer step ``step``."""
    original = train_module.Saver.at_step_boundary

    def boundary(self: train_module.Saver, at: int, stepped: bool) -> None:
        if stepped and at == step:
            signal.raise_signal(signum)
        original(self, at, stepped)

    monkeypatch.setattr(train_module.Saver, "at_step_boundary", boundary)


@pytest.mark.parametrize("method", methods.method_names())
def test_every_method_resumes_bit_for_bit_after_a_stop_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    spec = spec_for(method)
    train_module.train(spec, tmp_path / "whole", show_progress=False)
    stop_after = STEPS_PER_EPOCH + 2  # mid-way through the second epoch
    with monkeypatch.context() as patch:
        stop_at(patch, stop_after)
        with pytest.raises(checkpoint.Preempted) as stopped:
            train_module.train(spec, tmp_path / "stopped", show_progress=False)
    assert stopped.value.step == stop_after
    assert (tmp_path / "stopped" / checkpoint.CHECKPOINT_NAME).exists()
    assert not (tmp_path / "stopped" / "result.json").exists()
    # the global RNGs are disturbed in between, as a new process would have them
    torch.manual_seed(12345)
    random.seed(12345)
    train_module.train(spec, tmp_path / "stopped", show_progress=False)
    assert_same_records(tmp_path / "whole", tmp_path / "stopped")


@pytest.mark.parametrize("method", ["stompp_ste", "stompp"])  # stompp: its as-trained evaluation
def test_a_stop_between_epochs_resumes_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    spec = spec_for(method, epochs=3)
    train_module.train(spec, tmp_path / "whole", show_progress=False)
    with monkeypatch.context() as patch:
        stop_at(patch, STEPS_PER_EPOCH)  # the last step of epoch 1: stops before evaluating it
        with pytest.raises(checkpoint.Preempted):
            train_module.train(spec, tmp_path / "stopped", show_progress=False)
    train_module.train(spec, tmp_path / "stopped", show_progress=False)
    assert_same_records(tmp_path / "whole", tmp_path / "stopped")


def test_periodic_checkpoints_do_not_change_the_run(tmp_path: Path) -> None:
    spec = spec_for("stompp")
    train_module.train(spec, tmp_path / "plain", show_progress=False, policy=checkpoint.Policy(seconds=0))
    train_module.train(
        spec, tmp_path / "every", show_progress=False, policy=checkpoint.Policy(seconds=0, steps=1)
    )
    assert_same_records(tmp_path / "plain", tmp_path / "every")


def test_a_checkpoint_from_a_different_config_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        stop_at(patch, 2)
        with pytest.raises(checkpoint.Preempted):
            train_module.train(spec_for("stompp"), tmp_path, show_progress=False)
    with pytest.raises(UserError, match="different config"):
        train_module.train(spec_for("stompp", freeze_end=0.5), tmp_path, show_progress=False)
    # --restart throws the checkpoint away and starts over
    result = train_module.train(
        spec_for("stompp", freeze_end=0.5), tmp_path, show_progress=False, restart=True
    )
    assert result["status"] == "ok"


def test_a_damaged_checkpoint_is_reported_not_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / checkpoint.CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    args = ["train", "--dataset", "synthetic", "--arch", "resnet18", "--width", "0.0625"]
    code = main([*args, "--method", "ste", "--epochs", "1", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot read the checkpoint" in err and "--restart" in err and "Traceback" not in err


def test_checkpoints_load_with_weights_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        stop_at(patch, 3)
        with pytest.raises(checkpoint.Preempted):
            train_module.train(spec_for("stompp"), tmp_path, show_progress=False)
    payload = torch.load(tmp_path / checkpoint.CHECKPOINT_NAME, weights_only=True)
    assert payload["run"]["step"] == 3 and payload["identity"]["method"] == "stompp"


# -- a real process, killed from outside -------------------------------------------------
CLI_ARGS = [
    "train",
    "--dataset",
    "synthetic",
    "--arch",
    "resnet18",
    "--width",
    "0.0625",
    "--method",
    "stompp",
    "--seed",
    "2",
    "--epochs",
    "6",
    "--threads",
    "1",
    "--recipe",
    "tiny",
    "--set",
    "recipe.batch_size=64",
    "--no-progress",
]


def launch(out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", *CLI_ARGS, *extra, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended before {path.name} appeared: {proc.communicate()[0]}"
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run of CLI_ARGS, trained once for the tests below (read only)."""
    out = tmp_path_factory.mktemp("resume") / "whole"
    assert main([*CLI_ARGS, "--out", str(out)]) == 0
    return out


def test_sigkill_after_a_checkpoint_then_a_restart_ends_like_an_uninterrupted_run(
    tmp_path: Path, whole: Path
) -> None:
    proc = launch(tmp_path / "killed", "--checkpoint-steps", "2")
    wait_for(tmp_path / "killed" / checkpoint.CHECKPOINT_NAME, proc)
    time.sleep(random.Random(7).uniform(0.0, 0.5))  # a random point after the first checkpoint
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (tmp_path / "killed" / "result.json").exists()
    assert main([*CLI_ARGS, "--checkpoint-steps", "2", "--out", str(tmp_path / "killed")]) == 0
    assert_same_records(whole, tmp_path / "killed")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_sigterm_writes_a_checkpoint_at_that_moment_and_exits_for_a_restart(
    tmp_path: Path, whole: Path, signum: int
) -> None:
    out = tmp_path / "stopped"
    proc = launch(out, "--checkpoint-seconds", "0")  # no periodic checkpoints: only the signal's
    wait_for(out / "metrics.csv", proc)  # the first epoch is done: training is under way
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == checkpoint.EXIT_PREEMPTED, output
    assert "run the same command again to resume" in output
    saved = torch.load(out / checkpoint.CHECKPOINT_NAME, weights_only=True)
    assert saved["run"]["step"] >= STEPS_PER_EPOCH
    assert not (out / "result.json").exists()
    resumed = launch(out, "--checkpoint-seconds", "0")
    output, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, output
    assert f"resumed from {out / checkpoint.CHECKPOINT_NAME} at step {saved['run']['step']}" in output
    assert_same_records(whole, out)
