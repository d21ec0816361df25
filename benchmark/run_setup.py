"""How a run's parts are set up before its first step: the run directory, the device, the seeds
and flags, the method, the converted model in its memory layout, the learning-rate schedules,
and batches moved to the device (``benchmark.train`` runs them)."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import methods
from benchmark import evals, runtime, weights
from benchmark.data import DataSource
from benchmark.errors import UserError
from benchmark.models import binarizable, build_model
from benchmark.spec import RunSpec
from methods.protocol import Method


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
    runtime.check_cpu_isa(spec.runtime)
    runtime.configure(spec.runtime, device)
    random.seed(spec.seed)
    np.random.seed(spec.seed % 2**32)
    torch.manual_seed(spec.seed)


def make_method(spec: RunSpec) -> Method:
    """The run's method with the config its spec resolved."""
    return methods.get_method(spec.method)(spec.method_config, spec.regime, spec.seed)


def build(spec: RunSpec, data: DataSource, method: Method, device: torch.device) -> tuple[nn.Module, Method]:
    """The float model, started from ``--init-from``'s weights if given, converted by the method."""
    model = build_model(spec.arch, data.inputs, data.num_classes, spec.width, spec.zero_init_residual)
    model = model.to(device)
    if spec.init_from is not None:
        weights.load_into(model, weights.resolve(spec.init_from), spec.arch)
    example = to_device(data.example_input(), device, torch.contiguous_format)
    model = method.convert(model, example, binarizable(spec.arch))
    model = model.to(memory_format=memory_format(model))
    return runtime.prepare_model(model, spec.runtime), method


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
