"""Where a run is, and how it is saved and restored: the position in the data order with the
epoch's running sums and the records so far (:class:`RunState`), the checkpoint of a whole
training session (:func:`snapshot`, :func:`restore`) and when to write it (:class:`Saver`;
``benchmark.checkpoint`` has the file format, the policy and the stop signals)."""

from __future__ import annotations

import dataclasses
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from benchmark import checkpoint, evals
from benchmark.distributed import Group

if TYPE_CHECKING:
    from benchmark.train import Session


@dataclasses.dataclass
class RunState:
    """Where a run is: the position in the data order, the running sums of the current epoch
    and the records so far. Together with the model, optimizers, schedulers, method and RNG
    states it is the checkpoint (``benchmark.checkpoint``)."""

    epoch: int = 1  # the epoch in progress (1-based)
    batch: int = 0  # the next batch of that epoch
    step: int = 0  # optimizer steps done
    loss_sum: torch.Tensor = dataclasses.field(default_factory=lambda: torch.zeros(()))
    correct: torch.Tensor = dataclasses.field(default_factory=lambda: torch.zeros((), dtype=torch.long))
    seen: int = 0
    epoch_gen_state: torch.Tensor | None = None  # the data generator at the start of the epoch
    epoch_seconds: float = 0.0  # time spent on this epoch before the last resume
    wall_seconds: float = 0.0  # time spent on the run before the last resume
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    layer_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    evals: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # evals.csv's rows

    @classmethod
    def start(cls, device: torch.device) -> RunState:
        """The state before the first step."""
        return cls(
            loss_sum=torch.zeros((), device=device), correct=torch.zeros((), device=device, dtype=torch.long)
        )

    def next_epoch(self) -> None:
        self.epoch, self.batch, self.seen, self.epoch_seconds = self.epoch + 1, 0, 0, 0.0
        self.loss_sum = torch.zeros_like(self.loss_sum)
        self.correct = torch.zeros_like(self.correct)
        self.epoch_gen_state = None


def consistent_state(s: Session) -> dict[str, Any]:
    """What every data-parallel rank must hold alike at an epoch's end."""
    return {
        "model": s.model.state_dict(),
        "optimizers": [opt.state_dict() for opt in s.optimizers],
        "method": s.method.state_dict(),
        "flips": s.flips.state_dict(),
    }


class Saver:
    """Writes a checkpoint when the policy says so, and on a stop signal (then raises); with
    several ranks, all agree on when, and rank 0 writes."""

    def __init__(
        self,
        path: Path,
        policy: checkpoint.Policy,
        payload: Callable[[], dict[str, Any]],
        group: Group | None = None,
    ) -> None:
        self.path, self.policy, self.payload = path, policy, payload
        self.group = group or Group()
        self.clock = checkpoint.Clock()
        self.stop: checkpoint.StopSignals | None = None

    def at_step_boundary(self, step: int, stepped: bool) -> None:
        """Called before each step (``stepped=False``) and after it (``stepped=True``)."""
        if stepped:
            self.clock.steps += 1
        signum = self.stop.signum if self.stop is not None else None
        due = stepped and self.policy.due(self.clock.steps, self.clock.seconds())
        stopping, due = self.group.agree(signum is not None, due)
        if stopping:
            if self.group.leader:
                checkpoint.save(self.path, self.payload())
            self.group.barrier()  # no rank leaves before the checkpoint is on disk
            raise checkpoint.Preempted(step, self.path, signum or signal.SIGTERM)
        if due:
            if self.group.leader:
                checkpoint.save(self.path, self.payload())
            self.clock.reset()


def snapshot(s: Session, run: RunState, config_hash: str) -> dict[str, Any]:
    return {
        "config_hash": config_hash,
        "runtime": s.spec.runtime.numerics(),
        "identity": s.spec.identity(),
        "model": s.model.state_dict(),
        "optimizers": [opt.state_dict() for opt in s.optimizers],
        "schedulers": [sched.state_dict() for sched in s.schedulers],
        "method": s.method.state_dict(),
        "flips": s.flips.state_dict(),
        "rng": checkpoint.rng_states(s.device),
        "evals": s.eval_plan.record(),
        "run": {
            **{f.name: getattr(run, f.name) for f in dataclasses.fields(run)},
            "epoch_seconds": time.monotonic() - s.epoch_start,
            "wall_seconds": run.wall_seconds + time.monotonic() - s.run_start,
        },
    }


def restore(s: Session, payload: dict[str, Any]) -> RunState:
    """Load a checkpoint into a freshly built session; returns the run's position."""
    s.model.load_state_dict(payload["model"])
    for opt, state in zip(s.optimizers, payload["optimizers"], strict=True):
        opt.load_state_dict(state)
    for sched, state in zip(s.schedulers, payload["schedulers"], strict=True):
        sched.load_state_dict(state)
    s.method.load_state_dict(payload["method"])
    s.flips.load_state_dict(payload["flips"])
    checkpoint.set_rng_states(payload["rng"], s.device)
    evals.check_resume(payload.get("evals"), s.eval_plan)
    run = RunState(**payload["run"])
    run.loss_sum, run.correct = run.loss_sum.to(s.device), run.correct.to(s.device)
    return run
