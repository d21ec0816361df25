"""Checkpoints: everything that decides the rest of a run, so that a run killed at any point
and started again ends exactly as if it had never stopped (DESIGN 9; bit for bit on CPU).

A checkpoint holds the model, every optimizer and scheduler, the method's own state (masks,
trackers, Bop momenta, pruning state), every RNG (torch, CUDA, numpy, python, the data-order
generator as of the start of the epoch) and the position in the data order (epoch, batch,
step) with the epoch's running sums and the records written so far. It is written through a
temporary file and a rename, so a crash never leaves half a checkpoint, and read with
``torch.load(weights_only=True)``: only tensors and plain containers, never code.

When it is written: every ``seconds`` of training and/or every ``steps`` steps
(:class:`Policy`), and at the next step boundary after SIGTERM or SIGUSR1, which is what SLURM
sends before preemption, requeue or the time limit (:class:`StopSignals`). The run then exits
with :data:`EXIT_PREEMPTED`; the same command started again resumes.
"""

from __future__ import annotations

import dataclasses
import random
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch

from benchmark.atomic import replacing
from benchmark.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = 2  # 2: the flip statistics are kept apart from the method state
EXIT_PREEMPTED = 75  # EX_TEMPFAIL: "try again later"; the next start resumes
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(Exception):
    """Raised after the checkpoint a stop signal asked for has been written."""

    def __init__(self, step: int, path: Path, signum: int) -> None:
        super().__init__(f"checkpointed at step {step}; run the same command again to resume")
        self.step, self.path, self.signum = step, path, signum


@dataclasses.dataclass(frozen=True)
class Policy:
    """When to checkpoint besides on a stop signal: every ``seconds`` of training (0: never)
    and every ``steps`` steps (0: never)."""

    seconds: float = 300.0
    steps: int = 0

    def __post_init__(self) -> None:
        if self.seconds < 0 or self.steps < 0:
            raise UserError("--checkpoint-seconds and --checkpoint-steps must be >= 0 (0 turns them off)")

    def due(self, steps_since: int, seconds_since: float) -> bool:
        return (self.steps > 0 and steps_since >= self.steps) or (
            self.seconds > 0 and seconds_since >= self.seconds
        )


class StopSignals:
    """Context manager: SIGTERM and SIGUSR1 set :attr:`signum` instead of killing the process.

    Handlers are installed only in the main thread (Python allows nothing else) and the
    previous handlers are restored on exit.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def rng_states(device: torch.device) -> dict[str, Any]:
    """The global RNG states (torch, the run's CUDA device, numpy, python) as weights-only-loadable
    data. Only the run's own device: a data-parallel rank uses one GPU, and every rank's GPU
    generator is where rank 0's is (same seed, same draws), so rank 0's restores every rank."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": [torch.cuda.get_rng_state(device)] if device.type == "cuda" else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": [version, list(internal), gauss_next],
    }


def set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    """Restore :func:`rng_states`; the CUDA state goes to ``device`` (the run's)."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"][0], device)
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (``benchmark.atomic``: temporary file, fsync, rename)."""
    with replacing(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)


def load(path: Path, config_hash: str, runtime: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a checkpoint written for the config with ``config_hash``; refuse any other, naming
    the runtime settings (precision, compile, determinism) that differ when ``runtime`` (this
    run's) and the checkpoint's say so."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged file: say which and what to do
        raise UserError(
            f"cannot read the checkpoint {path} ({type(err).__name__}); delete it (or pass --restart) "
            "to start the run over"
        ) from None
    if payload.get("format") != FORMAT:
        raise UserError(
            f"the checkpoint {path} has format {payload.get('format')}, this version writes {FORMAT}; "
            "delete it (or pass --restart) to start the run over"
        )
    written = payload.get("runtime")
    if payload.get("config_hash") != config_hash and runtime and written and written != runtime:
        changed = ", ".join(
            f"{key}={written.get(key)} (this run: {runtime.get(key)})"
            for key in sorted(runtime)
            if written.get(key) != runtime.get(key)
        )
        raise UserError(
            f"refusing to resume: the checkpoint {path} was written with {changed}; a run never "
            "continues in other numerics. Rerun with its settings, or delete it (or pass --restart) "
            "to start over"
        )
    if payload.get("config_hash") != config_hash:
        raise UserError(
            f"refusing to resume: the checkpoint {path} was written by a different config "
            f"(hash {payload.get('config_hash')}, this run {config_hash}); rerun with the settings "
            "it was written with, or delete it (or pass --restart) to start over"
        )
    return payload


class Clock:
    """Steps and seconds since the last checkpoint."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.steps, self.since = 0, time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self.since
