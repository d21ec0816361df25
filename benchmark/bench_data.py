"""The share of a training step spent assembling its batch, with the images on the host or on
the device (``bnnbench bench --data-share``; issue 12).

CIFAR-shaped data: ``steps x batch`` random uint8 images, 3x32x32, CIFAR's augmentation (pad-4
random crop, horizontal flip) and normalisation. Assembling a batch is what the trainer does
before a step: gather the images of the batch, crop and flip them, normalise, and (host path)
copy the result to the device; on the device path the images were moved there once and all
of it runs there. Both draw the epoch's order and augmentation from the same CPU generator,
so they give the same batches; the timings say what the placement costs or saves. Times are
medians over the steps, synchronised on CUDA.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from benchmark.bench import make_contender
from benchmark.data import Augmentation, Dataset, Split
from benchmark.train import to_device
from methods.step import training_step

CIFAR_MEAN = (125.3, 123.0, 113.9)  # raw pixel units (CIFAR-10's train statistics, rounded)
CIFAR_STD = (63.0, 62.1, 66.7)


def cifar_shaped(n: int, seed: int = 0) -> Dataset:
    """``n`` random uint8 CIFAR-shaped images with CIFAR's augmentation and normalisation."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    split = Split(images, torch.randint(0, 10, (n,), generator=g))
    return Dataset("cifar_shaped", 10, split, split, CIFAR_MEAN, CIFAR_STD, Augmentation(pad=4, flip=True))


def assembly_share(
    arch: str,
    method: str,
    width: float,
    batch_size: int,
    steps: int,
    device: torch.device,
    placement: str,
) -> dict[str, Any]:
    """Median milliseconds of assembling a batch and of the training step after it, and the
    assembly's share of the two, with the images on the ``host`` or the ``device``."""
    data = cifar_shaped(batch_size * (steps + 1))
    data = data.to(device) if placement == "device" else data
    contender = make_contender(method, arch, width, data, steps + 1, device)
    gen = torch.Generator().manual_seed(0)
    batches = data.batches("train", batch_size, generator=gen, augment=True, drop_last=True)
    assemble, step_times = [], []
    for step in range(steps + 1):
        start = time.perf_counter()
        x, y = next(batches)
        x, y = to_device(x, device, contender.layout), y.to(device)
        sync(device)
        middle = time.perf_counter()
        training_step(contender.model, contender.method, contender.optimizers, x, y, step)
        sync(device)
        if step > 0:  # the first step warms up
            assemble.append(middle - start)
            step_times.append(time.perf_counter() - middle)
    a, s = statistics.median(assemble), statistics.median(step_times)
    return {"placement": placement, "assemble_ms": 1000 * a, "step_ms": 1000 * s, "share": a / (a + s)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def format_shares(rows: list[dict[str, Any]]) -> str:
    """One line per placement: assembly ms, step ms, the assembly's share in percent."""
    lines = [f"{'data':<8}{'assemble (ms)':>15}{'step (ms)':>12}{'share':>9}"]
    for r in rows:
        lines.append(
            f"{r['placement']:<8}{r['assemble_ms']:>15.2f}{r['step_ms']:>12.2f}{100 * r['share']:>8.1f}%"
        )
    return "\n".join(lines)
