"""One training run, read top to bottom: load data, build the model (from ``--init-from``'s
weights if given) and convert it, train one epoch at a time, evaluate the fully binary network
and the network as trained, write records and, once finished, the weights (``model.pt``).

The loop calls only the method protocol's hooks (``methods.protocol``), one training step at a
time (``methods.step``); it names no method. It keeps what every method shares: the recipe's
optimizer over the parameters the method's own optimizers leave (``methods.routing``) and the
sign-flip statistics of the binary weights (``methods.flips``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import methods
from benchmark import accounting, checkpoint, evals, records, runtime, weights
from benchmark.data import Dataset, DataSource, load_dataset
from benchmark.distributed import Group
from benchmark.errors import UserError
from benchmark.models import binarizable, build_model
from benchmark.progress import Progress
from benchmark.spec import RunSpec
from methods.flips import HISTOGRAM_FILE, FlipTracker, epoch_records
from methods.inputs import forward
from methods.protocol import EvalMode, Method
from methods.routing import optimizers_for
from methods.step import training_step

DIVERGENCE_CHECK_EVERY = 20


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


@dataclasses.dataclass
class Session:
    """Everything a run trains with; built identically by a fresh start and a resume."""

    spec: RunSpec
    data: DataSource
    model: nn.Module
    method: Method
    optimizers: list[torch.optim.Optimizer]
    schedulers: list[Any]
    flips: FlipTracker
    device: torch.device
    layout: torch.memory_format
    data_gen: torch.Generator
    progress: Progress
    steps_per_epoch: int
    run_start: float = 0.0  # monotonic clock at this process's start of training
    epoch_start: float = 0.0  # monotonic clock at the epoch's start, minus time spent before a resume
    eval_plan: evals.Plan = evals.Plan()  # evaluations every N steps (benchmark.evals)
    amp: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext  # bf16 autocast
    group: Group = dataclasses.field(default_factory=Group)  # data-parallel ranks (benchmark.distributed)
    trainer: nn.Module | None = None  # what trains: ``model``, or DDP over it

    def __post_init__(self) -> None:
        self.trainer = self.group.wrap(self.model, self.device)


def train(
    spec: RunSpec,
    out_dir: Path,
    show_progress: bool = True,
    policy: checkpoint.Policy | None = None,
    restart: bool = False,
    eval_plan: evals.Plan | None = None,
) -> dict[str, Any]:
    """Run ``spec`` and write its records into ``out_dir``; returns the ``result.json`` dict.

    Resumes from ``out_dir/checkpoint.pt`` when one is there (unless ``restart``); writes
    checkpoints by ``policy`` and on SIGTERM/SIGUSR1, after which it raises
    :class:`benchmark.checkpoint.Preempted`. ``eval_plan``: evaluations every N steps into
    ``evals.csv`` (``benchmark.evals``; none by default). Started by ``torchrun`` with several
    processes, it trains data-parallel (``benchmark.distributed``); rank 0 writes the files.
    """
    group = Group.from_environment()
    if group.enabled:  # the number of ranks decides the numbers (BatchNorm sees B / N examples)
        spec = dataclasses.replace(spec, runtime=dataclasses.replace(spec.runtime, processes=group.world))
    device = group.device(resolve_device(spec.device))
    group.start(device, spec.recipe.batch_size)
    try:
        return _train(spec, Path(out_dir), group, device, show_progress, policy, restart, eval_plan)
    finally:
        group.stop()


def _train(
    spec: RunSpec,
    out_dir: Path,
    group: Group,
    device: torch.device,
    show_progress: bool,
    policy: checkpoint.Policy | None,
    restart: bool,
    eval_plan: evals.Plan | None,
) -> dict[str, Any]:
    policy = policy or checkpoint.Policy()
    out_dir = prepare_out_dir(Path(out_dir))
    ckpt_path = out_dir / checkpoint.CHECKPOINT_NAME
    if restart and group.leader:
        ckpt_path.unlink(missing_ok=True)
    group.barrier()
    configure_torch(spec, device)
    data = load_dataset(spec.dataset, spec.data_root, spec.data_options)
    on_device = spec.runtime.data_on_device(device, isinstance(data, Dataset))
    if on_device:
        data = data.to(device)
    method = make_method(spec)
    init = initial_weights(spec, data, device)
    model, method = build(spec, data, method, device)
    optimizers = optimizers_for(method, model, spec.recipe.build_optimizer)  # the recipe's first
    steps_per_epoch = data.num_batches("train", spec.recipe.batch_size, drop_last=True)
    total_steps = spec.recipe.epochs * steps_per_epoch
    schedulers = [
        lr_scheduler(opt, spec, total_steps, scheduled=spec.recipe.schedules(own=i > 0))
        for i, opt in enumerate(optimizers)
    ]
    method.setup(total_steps, device)
    config = spec.to_dict()
    config_hash = records.config_hash(config)

    s = Session(
        spec,
        data,
        model,
        method,
        optimizers,
        schedulers,
        FlipTracker.observe(method),
        device,
        memory_format(model),
        torch.Generator().manual_seed(spec.seed),
        Progress(total_steps, spec.run_id.label, enabled=show_progress and group.leader),
        steps_per_epoch,
        eval_plan=eval_plan or evals.Plan(),
        amp=runtime.autocast(spec.runtime, device),
        group=group,
    )
    run = RunState.start(device)
    if ckpt_path.exists():
        run = restore(s, checkpoint.load(ckpt_path, config_hash, spec.runtime.numerics()))
        s.progress.advance_to(run.step)
        s.progress.log(f"resumed from {ckpt_path} at step {run.step}")
    # written once a checkpoint (if any) was accepted: a refused resume leaves the old config
    if group.leader:
        records.write_json(out_dir / "config.json", {**config, "config_hash": config_hash})
    saver = Saver(ckpt_path, policy, lambda: snapshot(s, run, config_hash), group)

    status, s.run_start = "ok", time.monotonic()
    with checkpoint.StopSignals() as stop:
        saver.stop = stop
        while run.epoch <= spec.recipe.epochs:
            s.epoch_start = time.monotonic() - run.epoch_seconds
            if run.epoch_gen_state is None:  # a new epoch (not one resumed at its first batch)
                run.epoch_gen_state = s.data_gen.get_state()
                method.start_epoch(run.epoch)
                s.flips.new_epoch()
            stats = train_epoch(s, run, saver)
            if not math.isfinite(stats["train_loss"]):
                status = "diverged"
                break
            finish_epoch(s, run, stats, time.monotonic() - s.epoch_start, out_dir)
            run.next_epoch()
    s.progress.close()
    if not group.leader:
        return {}
    wall = run.wall_seconds + time.monotonic() - s.run_start
    result = make_result(spec, data, run.history, status, run.step, wall, config, device)
    result["provenance"]["runtime"] = spec.runtime.record(device, on_device)
    example = to_device(data.example_input(1), device, s.layout)
    result["accounting"] = accounting.final(model, method, example, len(run.history))
    if init is not None:
        result["init"] = init
    if s.eval_plan.every:
        result["evals"] = s.eval_plan.record()
    if run.evals:  # a diverged run's last rows too
        records.write_csv(out_dir / evals.FILE, run.evals)
    if histogram := s.flips.histogram_rows():  # initial weights, and those never flipped
        records.write_csv(out_dir / HISTOGRAM_FILE, histogram)
    weights.save(out_dir / weights.WEIGHTS_NAME, model, spec.arch, spec.width, spec.identity())
    records.write_json(out_dir / "result.json", result)
    ckpt_path.unlink(missing_ok=True)
    return result


def finish_epoch(s: Session, run: RunState, stats: dict[str, float], seconds: float, out_dir: Path) -> None:
    """Evaluate, collect the epoch's metrics and write the records."""
    row = {"epoch": run.epoch, "step": run.step, "lr": current_lr(s.optimizers), **stats}
    s.group.share_buffers(s.model)
    row["test_acc"] = evaluate(s, "binary", run.epoch)
    row["test_acc_as_trained"] = (
        evaluate(s, "as_trained", run.epoch) if s.method.as_trained_differs else row["test_acc"]
    )
    metrics, layer_rows = epoch_records(s.method, s.flips)
    row.update(metrics)
    row["seconds"] = seconds
    run.history.append(row)
    run.layer_rows += [{"epoch": run.epoch, **r} for r in layer_rows]
    s.group.check_same("model, optimizer and method state", consistent_state(s))
    if s.group.leader:
        write_epoch_records(out_dir, run.history, run.layer_rows)
        if run.evals:
            records.write_csv(out_dir / evals.FILE, run.evals)
    s.progress.epoch_done(
        run.epoch,
        s.spec.recipe.epochs,
        loss=stats["train_loss"],
        test_acc=row["test_acc"],
        as_trained=row["test_acc_as_trained"],
    )


def consistent_state(s: Session) -> dict[str, Any]:
    """What every data-parallel rank must hold alike at an epoch's end."""
    return {
        "model": s.model.state_dict(),
        "optimizers": [opt.state_dict() for opt in s.optimizers],
        "method": s.method.state_dict(),
        "flips": s.flips.state_dict(),
    }


# -- checkpoints -------------------------------------------------------------------------
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


# -- setup -------------------------------------------------------------------------------
def prepare_out_dir(out_dir: Path) -> Path:
    """Create the run directory; refuse one that cannot be written, before any work."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"cannot create the run directory {out_dir}: {err.strerror}; choose a writable --out"
        ) from None
    if not os.access(out_dir, os.W_OK):
        raise UserError(
            f"the run directory {out_dir} is not writable; choose a writable --out or fix its permissions"
        )
    (out_dir / "result.json").unlink(missing_ok=True)
    (out_dir / weights.WEIGHTS_NAME).unlink(missing_ok=True)
    (out_dir / evals.FILE).unlink(missing_ok=True)  # a resumed run's rows are in its checkpoint
    return out_dir


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device '{name}' requested but CUDA is not available; use --device cpu")
    return torch.device(name)


def configure_torch(spec: RunSpec, device: torch.device) -> None:
    """Seed every RNG and set the runtime's flags (``benchmark.runtime``: on CUDA only; CPU
    kernels are deterministic for a fixed thread count already)."""
    if spec.threads:
        torch.set_num_threads(spec.threads)
    runtime.configure(spec.runtime, device)
    random.seed(spec.seed)
    np.random.seed(spec.seed % 2**32)
    torch.manual_seed(spec.seed)


def make_method(spec: RunSpec) -> Method:
    """The run's method with the config its spec resolved."""
    return methods.get_method(spec.method)(spec.method_config, spec.regime, spec.seed)


def build(spec: RunSpec, data: DataSource, method: Method, device: torch.device) -> tuple[nn.Module, Method]:
    """The float model, started from ``--init-from``'s weights if given, converted by the method."""
    model = build_model(spec.arch, data.inputs, data.num_classes, spec.width).to(device)
    if spec.init_from is not None:
        weights.load_into(model, weights.resolve(spec.init_from), spec.arch)
    example = to_device(data.example_input(), device, torch.contiguous_format)
    model = method.convert(model, example, binarizable(spec.arch))
    model = model.to(memory_format=memory_format(model))
    return runtime.prepare_model(model, spec.runtime), method


def initial_weights(spec: RunSpec, data: DataSource, device: torch.device) -> dict[str, Any] | None:
    """What ``--init-from`` started the run from: the source run, the file's SHA-256, and the
    test accuracy of the loaded float network before any conversion or step (None without it)."""
    if spec.init_from is None:
        return None
    path = weights.resolve(spec.init_from)
    model = build_model(spec.arch, data.inputs, data.num_classes, spec.width).to(device)
    source = weights.load_into(model, path, spec.arch)
    layout = memory_format(model)
    model = model.to(memory_format=layout)
    acc = accuracy(model, data, contextlib.nullcontext, device, layout, spec.recipe.batch_size)
    return {"source": source, "sha256": spec.init_digest, "test_acc": acc}


def memory_format(model: nn.Module) -> torch.memory_format:
    """Channels-last where safe: it lets oneDNN/cuDNN skip layout reorders (15-25% faster
    steps on CPU here); the default layout otherwise (see :func:`channels_last_is_safe`)."""
    return torch.channels_last if channels_last_is_safe(model) else torch.contiguous_format


def channels_last_is_safe(model: nn.Module) -> bool:
    """False when a strided convolution has fewer than 8 input channels per group.

    With torch 2.14.1's oneDNN (v3.12) on AVX2 CPUs, the backward pass of a channels-last 1x1
    stride-2 convolution with 2, 4 or 6 input channels corrupts the heap (glibc aborts with
    "double free or corruption"); 8 and more are fine. Such tiny widths (``--width 0.0625``)
    stay in the default layout.
    """
    return all(
        m.in_channels // m.groups >= 8
        for m in model.modules()
        if isinstance(m, nn.Conv2d) and max(m.stride) > 1
    )


def to_device(inputs: Any, device: torch.device, layout: torch.memory_format) -> Any:
    """An input batch on ``device``: a tensor (images in the model's memory layout) or a mapping
    of tensors (token ids and attention mask, say)."""
    if isinstance(inputs, Mapping):
        return {key: to_device(value, device, layout) for key, value in inputs.items()}
    moved = inputs.to(device, non_blocking=True)
    return moved.contiguous(memory_format=layout) if moved.dim() == 4 else moved


def lr_scheduler(
    opt: torch.optim.Optimizer, spec: RunSpec, total_steps: int, scheduled: bool = True
) -> torch.optim.lr_scheduler.LambdaLR:
    """The recipe's schedule over ``opt`` (a constant factor 1 when not ``scheduled``)."""
    if not scheduled:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: spec.recipe.lr_factor(s, total_steps))


# -- one epoch ---------------------------------------------------------------------------
def train_epoch(s: Session, run: RunState, saver: Saver) -> dict[str, float]:
    """The rest of epoch ``run.epoch`` from batch ``run.batch``; returns mean loss and accuracy
    over the whole epoch (NaN loss if it diverged)."""
    s.model.train()
    s.data_gen.set_state(run.epoch_gen_state)  # the epoch's order and augmentation, redrawn
    batches = s.data.batches(
        "train",
        s.spec.recipe.batch_size,
        generator=s.data_gen,
        augment=s.spec.recipe.augment,
        drop_last=True,
        start_batch=run.batch,
        shard=(s.group.rank, s.group.world),  # this rank's share of each batch
    )
    with contextlib.closing(batches):  # a loader's workers stop as soon as an epoch is left
        return _train_batches(s, run, saver, batches)


def _train_batches(s: Session, run: RunState, saver: Saver, batches: Iterator[Any]) -> dict[str, float]:
    for inputs, y in batches:
        saver.at_step_boundary(run.step, stepped=False)
        inputs, y = to_device(inputs, s.device, s.layout), y.to(s.device, non_blocking=True)
        loss, logits = training_step(
            s.trainer,
            s.method,
            s.optimizers,
            inputs,
            y,
            run.step,
            flips=s.flips,
            schedulers=s.schedulers,
            autocast=s.amp,
        )
        loss_sum, correct = loss.detach() * len(y), (logits.detach().argmax(1) == y).sum()
        run.loss_sum += s.group.sum(loss_sum)  # over the ranks: the global batch's
        run.correct += s.group.sum(correct)
        run.seen += len(y) * s.group.world
        run.batch += 1
        run.step += 1
        s.progress.update()
        if run.batch % DIVERGENCE_CHECK_EVERY == 0 and not torch.isfinite(run.loss_sum):
            return {"train_loss": math.nan, "train_acc": math.nan}
        if s.eval_plan.due(run.step):
            evaluate_step(s, run)
        saver.at_step_boundary(run.step, stepped=True)
    return {"train_loss": float(run.loss_sum) / run.seen, "train_acc": 100.0 * float(run.correct) / run.seen}


def evaluate(s: Session, mode: EvalMode, epoch: int) -> float:
    """Top-1 test accuracy in percent, with the network in ``mode``."""
    within = lambda: s.method.evaluating(mode, epoch)  # noqa: E731
    return accuracy(s.model, s.data, within, s.device, s.layout, s.spec.recipe.batch_size, amp=s.amp)


def evaluate_step(s: Session, run: RunState) -> None:
    """The network as trained after step ``run.step`` on the plan's test examples: a row of
    ``evals.csv`` (``benchmark.evals``); its time is not the epoch's."""
    start, plan = time.monotonic(), s.eval_plan
    within = lambda: s.method.evaluating("as_trained", evals.key(run.step))  # noqa: E731
    batch = s.spec.recipe.batch_size
    acc = accuracy(s.model, s.data, within, s.device, s.layout, batch, plan.subset, amp=s.amp)
    run.evals.append(evals.row(run.step, s.steps_per_epoch, acc, plan.examples(s.data.test_size)))
    s.epoch_start += time.monotonic() - start


@torch.no_grad()
def accuracy(
    model: nn.Module,
    data: DataSource,
    within: Callable[[], contextlib.AbstractContextManager[Any]],
    device: torch.device,
    layout: torch.memory_format,
    batch_size: int,
    limit: int = 0,
    amp: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> float:
    """Top-1 test accuracy in percent of ``model`` in eval mode, inside the context ``within()``,
    on the first ``limit`` test examples (0: all); the forward pass inside ``amp()``."""
    model.eval()
    correct, seen = 0, 0
    with within():
        batches = data.batches("test", max(batch_size, 256))
        for inputs, y in evals.first(batches, limit) if limit else batches:
            with amp():
                logits = forward(model, to_device(inputs, device, layout))
            correct += int((logits.argmax(1) == y.to(device)).sum())
            seen += len(y)
    model.train()
    return 100.0 * correct / seen


def current_lr(optimizers: list[torch.optim.Optimizer]) -> float:
    return float(optimizers[0].param_groups[0]["lr"])


# -- records -----------------------------------------------------------------------------
def write_epoch_records(
    out_dir: Path, history: list[dict[str, Any]], layer_rows: list[dict[str, Any]]
) -> None:
    records.write_csv(out_dir / "metrics.csv", [order_metrics(row) for row in history])
    if layer_rows:
        records.write_csv(out_dir / "layers.csv", layer_rows)


def order_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """Column order of metrics.csv: fixed columns, method metrics, then seconds."""
    head = ["epoch", "step", "lr", "train_loss", "train_acc", "test_acc", "test_acc_as_trained"]
    rest = [k for k in row if k not in head and k != "seconds"]
    return {k: row[k] for k in [*head, *rest, "seconds"]}


def make_result(
    spec: RunSpec,
    data: DataSource,
    history: list[dict[str, Any]],
    status: str,
    steps: int,
    wall: float,
    config: dict[str, Any],
    device: torch.device,
) -> dict[str, Any]:
    chance = 100.0 / data.num_classes
    last = history[-1] if history and status == "ok" else {}
    train_seconds = sum(r["seconds"] for r in history) or wall
    return {
        "schema": 1,
        "identity": spec.identity(),
        "status": status,
        "num_classes": data.num_classes,
        "chance_acc": chance,
        "test_acc": last.get("test_acc", chance),
        "test_acc_as_trained": last.get("test_acc_as_trained", chance),
        "train_acc": last.get("train_acc", math.nan),
        "train_loss": last.get("train_loss", math.nan),
        "epochs": len(history),
        "steps": steps,
        "wall_seconds": wall,
        "steps_per_second": steps / train_seconds if train_seconds > 0 else math.nan,
        "config_hash": records.config_hash(config),
        "provenance": records.provenance(device),
    }
