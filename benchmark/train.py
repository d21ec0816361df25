"""One training run, read top to bottom: load data, build the model (from ``--init-from``'s
weights if given) and convert it, train one epoch at a time, evaluate the fully binary network
and the network as trained, write records and, once finished, the weights (``model.pt``).

The loop calls only the method protocol's hooks (``methods.protocol``), one training step at a
time (``methods.step``); it names no method. It keeps what every method shares: the recipe's
optimizer over the parameters the method's own optimizers leave (``methods.routing``) and the
sign-flip statistics of the binary weights (``methods.flips``). How the parts are set up is in
``benchmark.run_setup``; the run's position, checkpoints and resume in ``benchmark.run_state``;
data-parallel ranks in ``benchmark.distributed``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmark import accounting, checkpoint, evals, records, runtime, weights
from benchmark.data import Dataset, DataSource, load_dataset
from benchmark.distributed import Group
from benchmark.models import build_model
from benchmark.progress import Progress
from benchmark.run_setup import (
    build,
    configure_torch,
    lr_scheduler,
    make_method,
    memory_format,
    prepare_out_dir,
    resolve_device,
    to_device,
)
from benchmark.run_state import RunState, Saver, consistent_state, restore, snapshot
from benchmark.spec import RunSpec
from methods.flips import HISTOGRAM_FILE, FlipTracker, epoch_records
from methods.inputs import forward
from methods.protocol import EvalMode, Method
from methods.routing import optimizers_for
from methods.step import training_step

DIVERGENCE_CHECK_EVERY = 20


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


# -- setup -------------------------------------------------------------------------------
def initial_weights(spec: RunSpec, data: DataSource, device: torch.device) -> dict[str, Any] | None:
    """What ``--init-from`` started the run from: the source run, the file's SHA-256, and the
    test accuracy of the loaded float network before any conversion or step (None without it)."""
    if spec.init_from is None:
        return None
    path = weights.resolve(spec.init_from)
    model = build_model(spec.arch, data.inputs, data.num_classes, spec.width, spec.zero_init_residual)
    model = model.to(device)
    source = weights.load_into(model, path, spec.arch)
    layout = memory_format(model)
    model = model.to(memory_format=layout)
    acc = accuracy(model, data, contextlib.nullcontext, device, layout, spec.recipe.batch_size)
    return {"source": source, "sha256": spec.init_digest, "test_acc": acc}


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
