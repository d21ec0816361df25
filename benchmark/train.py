"""One training run, read top to bottom: load data, build and convert the model, train one
epoch at a time, evaluate the fully binary network and the network as trained, write records.

The loop calls only the method protocol's hooks (``methods.protocol``); it names no method.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import methods
from benchmark import records
from benchmark.data import Dataset, load_dataset
from benchmark.errors import UserError
from benchmark.models import build_model
from benchmark.progress import Progress
from benchmark.spec import RunSpec
from methods.config import ConfigError
from methods.protocol import EvalMode, Method

DIVERGENCE_CHECK_EVERY = 20


def train(spec: RunSpec, out_dir: Path, show_progress: bool = True) -> dict[str, Any]:
    """Run ``spec`` and write its records into ``out_dir``; returns the ``result.json`` dict."""
    out_dir = prepare_out_dir(Path(out_dir))
    device = resolve_device(spec.device)
    configure_torch(spec, device)
    data = load_dataset(spec.dataset, spec.data_root)
    method = make_method(spec)
    model, method = build(spec, data, method, device)
    layout = memory_format(model)
    optimizers = method.configure_optimizers(model, spec.recipe.build_optimizer)
    steps_per_epoch = data.num_batches("train", spec.recipe.batch_size, drop_last=True)
    total_steps = spec.recipe.epochs * steps_per_epoch
    schedulers = [lr_scheduler(opt, spec, total_steps) for opt in optimizers]
    method.setup(total_steps, device)
    config = {**spec.to_dict(), "method_config": method.config.to_dict()}
    records.write_json(out_dir / "config.json", {**config, "config_hash": records.config_hash(config)})

    data_gen = torch.Generator().manual_seed(spec.seed)
    progress = Progress(total_steps, run_label(spec), enabled=show_progress)
    history: list[dict[str, Any]] = []
    layer_rows: list[dict[str, Any]] = []
    status, step, start = "ok", 0, time.monotonic()
    for epoch in range(1, spec.recipe.epochs + 1):
        epoch_start = time.monotonic()
        method.start_epoch(epoch)
        stats = train_epoch(
            model, method, data, optimizers, schedulers, spec, data_gen, step, device, layout, progress
        )
        step += steps_per_epoch
        if not math.isfinite(stats["train_loss"]):
            status = "diverged"
            break
        row = {"epoch": epoch, "step": step, "lr": current_lr(optimizers), **stats}
        row["test_acc"] = evaluate(model, method, data, "binary", epoch, spec, device, layout)
        row["test_acc_as_trained"] = (
            evaluate(model, method, data, "as_trained", epoch, spec, device, layout)
            if method.as_trained_differs
            else row["test_acc"]
        )
        row.update(method.epoch_metrics())
        row["seconds"] = time.monotonic() - epoch_start
        history.append(row)
        layer_rows += [{"epoch": epoch, **r} for r in method.layer_metrics()]
        write_epoch_records(out_dir, history, layer_rows)
        progress.epoch_done(
            epoch,
            spec.recipe.epochs,
            loss=stats["train_loss"],
            test_acc=row["test_acc"],
            as_trained=row["test_acc_as_trained"],
        )
    progress.close()
    result = make_result(spec, data, history, status, step, time.monotonic() - start, config, device)
    records.write_json(out_dir / "result.json", result)
    return result


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
    return out_dir


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device '{name}' requested but CUDA is not available; use --device cpu")
    return torch.device(name)


def configure_torch(spec: RunSpec, device: torch.device) -> None:
    """Seed every RNG and make CPU runs deterministic."""
    if spec.threads:
        torch.set_num_threads(spec.threads)
    if device.type == "cuda":
        # CPU kernels are deterministic for a fixed thread count already; enabling this flag on
        # CPU would only cost a ~2 s import of torch._dynamo per run.
        torch.use_deterministic_algorithms(True, warn_only=True)
    random.seed(spec.seed)
    np.random.seed(spec.seed % 2**32)
    torch.manual_seed(spec.seed)


def make_method(spec: RunSpec) -> Method:
    overrides = dict(spec.method_overrides)
    if methods.get_method(spec.method).has_ordering and spec.ordering != "none":
        overrides["ordering"] = spec.ordering
    try:
        return methods.build_method(spec.method, overrides, spec.regime, spec.seed)
    except (ConfigError, ValueError) as err:
        raise UserError(f"method '{spec.method}': {err}") from None


def build(spec: RunSpec, data: Dataset, method: Method, device: torch.device) -> tuple[nn.Module, Method]:
    model = build_model(spec.arch, data.in_channels, data.num_classes, spec.width).to(device)
    example = torch.zeros(2, data.in_channels, data.image_size, data.image_size, device=device)
    model = method.convert(model, example)
    return model.to(memory_format=memory_format(model)), method


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


def to_device(x: torch.Tensor, device: torch.device, layout: torch.memory_format) -> torch.Tensor:
    """An input batch on ``device`` in the model's memory layout."""
    return x.to(device, non_blocking=True).contiguous(memory_format=layout)


def lr_scheduler(
    opt: torch.optim.Optimizer, spec: RunSpec, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: spec.recipe.lr_factor(s, total_steps))


# -- one epoch ---------------------------------------------------------------------------
def train_epoch(
    model: nn.Module,
    method: Method,
    data: Dataset,
    optimizers: list[torch.optim.Optimizer],
    schedulers: list[Any],
    spec: RunSpec,
    data_gen: torch.Generator,
    step: int,
    device: torch.device,
    layout: torch.memory_format,
    progress: Progress,
) -> dict[str, float]:
    """One pass over the training set; returns mean loss and accuracy (NaN loss if it diverged)."""
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    batches = data.batches(
        "train",
        spec.recipe.batch_size,
        generator=data_gen,
        augment=spec.recipe.augment,
        drop_last=True,
    )
    for i, (x, y) in enumerate(batches):
        x, y = to_device(x, device, layout), y.to(device, non_blocking=True)
        method.before_forward(step + i)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        method.after_backward(step + i)
        for opt in optimizers:
            opt.step()
        method.after_step(step + i)
        for sched in schedulers:
            sched.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(y)
        progress.update()
        if (i + 1) % DIVERGENCE_CHECK_EVERY == 0 and not torch.isfinite(loss_sum):
            return {"train_loss": math.nan, "train_acc": math.nan}
    return {"train_loss": float(loss_sum) / seen, "train_acc": 100.0 * float(correct) / seen}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    method: Method,
    data: Dataset,
    mode: EvalMode,
    epoch: int,
    spec: RunSpec,
    device: torch.device,
    layout: torch.memory_format,
) -> float:
    """Top-1 test accuracy in percent, with the network in ``mode``."""
    model.eval()
    correct, seen = 0, 0
    with method.evaluating(mode, epoch):
        for x, y in data.batches("test", max(spec.recipe.batch_size, 256)):
            logits = model(to_device(x, device, layout))
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
    data: Dataset,
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


def run_label(spec: RunSpec) -> str:
    return f"{spec.dataset}/{spec.arch}/{spec.regime}/{spec.variant}/{spec.ordering}/seed{spec.seed}"
