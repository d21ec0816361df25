"""Step-time benchmark: median training-step time of each method relative to ``ste`` on the
same architecture and the same batch, interleaved in one process so machine noise hits every
method alike (compare ratios, not seconds).

The batch is random and seeded (generator seed 0), so two runs time the same work, and is of
the kind the architecture takes (its registered ``takes``): ``[B, 3, S, S]`` images for an image
architecture, ``[B, L]`` token ids of a ``vocab_size`` vocabulary, every position attended, for
a text one.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

import methods
from benchmark.data import Augmentation, Dataset, DataSource, Inputs, Split
from benchmark.data.text import TextDataset, TextSplit
from benchmark.models import ARCHS, binarizable, build_model
from benchmark.train import memory_format, resolve_device, to_device
from methods.flips import FlipTracker
from methods.routing import optimizers_for
from methods.step import training_step

WARMUP_STEPS = 3
VOCAB_SIZE = 1000  # text batches' vocabulary: the embedding is float and costs every method alike
IMAGE_CLASSES = 10  # CIFAR-10
TEXT_CLASSES = 2  # SST-2


@dataclass
class Contender:
    """One method's model, optimizer and step timings."""

    name: str
    model: torch.nn.Module
    method: methods.Method
    optimizers: list[torch.optim.Optimizer]
    flips: FlipTracker
    layout: torch.memory_format
    times: list[float]


def bench_data(
    arch: str, batch_size: int, image_size: int = 32, seq_len: int = 64, vocab_size: int = VOCAB_SIZE
) -> DataSource:
    """One seeded random batch of the inputs ``arch`` takes, as a dataset whose splits are that
    batch: ``image_size`` matters for image architectures, ``seq_len`` and ``vocab_size`` for text."""
    g = torch.Generator().manual_seed(0)
    if ARCHS.get(arch).takes == "text":
        return text_data(batch_size, seq_len, vocab_size, g)
    return image_data(batch_size, image_size, g)


def image_data(batch_size: int, image_size: int, g: torch.Generator) -> Dataset:
    """CIFAR-shaped random images (3 channels, 10 classes), float32 [B, 3, S, S]."""
    images = torch.randn(batch_size, 3, image_size, image_size, generator=g)
    split = Split(images, torch.randint(0, IMAGE_CLASSES, (batch_size,), generator=g))
    return Dataset("bench", IMAGE_CLASSES, split, split, [0.0] * 3, [1.0] * 3, Augmentation())


def text_data(batch_size: int, seq_len: int, vocab_size: int, g: torch.Generator) -> TextDataset:
    """Random sentences of ``seq_len`` token ids each (all the same length, so the batch has no
    padding: int64 [B, L] ids, attention mask all ones, token types all zero), 2 classes."""
    ids = torch.randint(0, vocab_size, (batch_size, seq_len), generator=g)
    labels = torch.randint(0, TEXT_CLASSES, (batch_size,), generator=g)
    split = TextSplit(tuple(ids.unbind(0)), labels, tuple(torch.zeros_like(ids).unbind(0)))
    return TextDataset("bench", TEXT_CLASSES, split, split, Inputs.text(vocab_size), pad_id=0)


def describe_batch(
    arch: str, batch_size: int, image_size: int = 32, seq_len: int = 64, vocab_size: int = VOCAB_SIZE
) -> str:
    """What :func:`bench_data` gives ``arch``, in words (for the report's header)."""
    if ARCHS.get(arch).takes == "text":
        return f"{batch_size} x {seq_len} random token ids (vocabulary {vocab_size})"
    return f"{batch_size} random 3x{image_size}x{image_size} images"


def make_contender(
    name: str, arch: str, width: float, data: DataSource, total_steps: int, device: torch.device
) -> Contender:
    """Method ``name`` on a fresh ``arch`` (same seed for every method), converted, on ``device``."""
    cls = methods.get_method(name)
    torch.manual_seed(0)
    model = build_model(arch, data.inputs, data.num_classes, width).to(device)
    method = methods.build_method(name, {}, cls.regimes[0], 0)
    example = to_device(data.example_input(), device, torch.contiguous_format)
    model = method.convert(model, example, binarizable(arch))
    layout = memory_format(model)
    model = model.to(memory_format=layout)
    optimizers = optimizers_for(
        method, model, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=5e-4)
    )
    method.setup(total_steps, device)
    return Contender(name, model, method, optimizers, FlipTracker.observe(method), layout, [])


def train_step(c: Contender, step: int, x: Any, y: torch.Tensor, device: torch.device) -> float:
    """One full training step (hooks and flip statistics included, as in a run); returns its wall
    time in seconds."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    training_step(c.model, c.method, c.optimizers, to_device(x, device, c.layout), y, step, flips=c.flips)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def run_bench(
    arch: str = "resnet18",
    *,
    width: float = 0.25,
    batch_size: int = 64,
    image_size: int = 32,
    seq_len: int = 64,
    vocab_size: int = VOCAB_SIZE,
    steps: int = 30,
    names: list[str] | None = None,
    threads: int | None = None,
    device_name: str = "auto",
) -> dict[str, float]:
    """Median step seconds per method. StoMPP's schedule spans the timed steps, so its cost is
    averaged over the whole freezing phase rather than measured at one point of it. The batch is
    :func:`bench_data`'s for ``arch``."""
    names = names or ["ste", *(n for n in methods.method_names() if n != "ste")]
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device_name)
    data = bench_data(arch, batch_size, image_size, seq_len, vocab_size)
    x, y = next(data.batches("test", batch_size))
    x, y = to_device(x, device, torch.contiguous_format), y.to(device)
    total = steps + WARMUP_STEPS
    contenders = [make_contender(n, arch, width, data, total, device) for n in names]
    for step in range(total):
        for c in contenders:
            elapsed = train_step(c, step, x, y, device)
            if step >= WARMUP_STEPS:
                c.times.append(elapsed)
    return {c.name: statistics.median(c.times) for c in contenders} | {
        f"{c.name}@first_quarter": statistics.median(c.times[: max(1, len(c.times) // 4)]) for c in contenders
    }


def format_bench(medians: dict[str, float], baseline: str = "ste") -> str:
    """Two blocks: medians over the whole schedule, and over its first quarter (for StoMPP the
    most expensive part: few layers frozen yet, so backward still reaches every layer)."""
    lines = [f"{'method':<28}{'median step (ms)':>18}{'ratio to ' + baseline:>16}"]
    for suffix, title in (("", "whole schedule"), ("@first_quarter", "first quarter of the schedule")):
        base = medians.get(baseline + suffix)
        lines.append(f"-- {title}")
        for name, seconds in medians.items():
            if (suffix and not name.endswith(suffix)) or (not suffix and "@" in name):
                continue
            ratio = f"{seconds / base:.3f}" if base else "n/a"
            lines.append(f"{name.removesuffix(suffix):<28}{1000 * seconds:>18.2f}{ratio:>16}")
    return "\n".join(lines)
