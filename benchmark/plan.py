r"""The cost planner (``bnnbench plan``; issue 12): per table and figure of a config, its runs,
the GPU-hours they need and what the SLURM profile requests for each job.

One run's GPU-hours, with ``E`` epochs of ``N_train`` training and ``N_test`` test examples at
``R`` training images per second on one GPU (an evaluation pass over an image costs about a
third of a training step: forward only, against forward and backward):

.. math::
    h = E \, (N_\text{train} + N_\text{test} / 3) / R / 3600

``R`` comes from a throughput table (``workflows/throughput.json``, written by ``nox -s gpu``
with ``--throughput``): images per second per architecture, method and precision, measured on
CIFAR-shaped inputs at one width and batch size. For a run, in this order:

- ``measured``: the table's value for its architecture, method and precision, when the run
  has the table's width and CIFAR-shaped inputs;
- ``measured (ste)``: the same for its architecture's ``ste`` (the methods' step times are
  within about 20% of ``ste``'s: README, "Command line");
- ``scaled``: a measured value (the architecture's own, else a measured architecture's
  ``ste``) times the ratio of multiply-accumulates per example, ``R = R_ref \, MACs_ref /
  MACs`` (the run's architecture at its width on its dataset's inputs, the reference at the
  table's width on CIFAR);
- ``estimate``: ``R = S / (6 \, MACs)`` from the table's assumed sustained throughput ``S`` per
  precision (FLOP/s; a training step is about 3 forward passes of 2 FLOPs per MAC).

MACs are counted by :mod:`benchmark.accounting` on the float network (imports torch; cached
per code version, as the method facts are). The example counts per dataset are
:data:`DATASETS`; a run on a subset (``data_options``) is planned at the full size.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmark.atomic import write_text
from benchmark.checkcache import STAMP_DIR, code_key
from benchmark.errors import UserError
from benchmark.identity import RunId

THROUGHPUT = Path(__file__).resolve().parent.parent / "workflows" / "throughput.json"
EVAL_COST = 1 / 3  # an evaluated example's cost, in training examples
REFERENCE_DATASET = "cifar10"  # what a measured table's inputs are
TEXT_TOKENS = 128  # tokens a sentence: the max_length default (an upper bound: batches pad to their longest)


@dataclasses.dataclass(frozen=True)
class DatasetShape:
    """What the planner needs of a dataset: its example counts and its inputs."""

    train: int
    test: int
    kind: str = "image"  # "image" or "text"
    channels: int = 3
    size: int = 32


# The full splits as the loaders read them (benchmark/data/<name>.py).
DATASETS: dict[str, DatasetShape] = {
    "cifar10": DatasetShape(50_000, 10_000),
    "cifar100": DatasetShape(50_000, 10_000),
    "imagenet": DatasetShape(1_281_167, 50_000, size=224),
    "sst2": DatasetShape(67_349, 872, kind="text"),
    "digits": DatasetShape(1_437, 360, channels=1, size=16),
    "digits8": DatasetShape(1_437, 360, channels=1, size=8),
    "mnist": DatasetShape(60_000, 10_000, channels=1, size=28),
    "fashion_mnist": DatasetShape(60_000, 10_000, channels=1, size=28),
    "synthetic": DatasetShape(512, 256, size=16),
}
NUM_CLASSES = {"cifar100": 100, "imagenet": 1000, "sst2": 2}  # else 10


@dataclasses.dataclass(frozen=True)
class Throughput:
    """A throughput table: measured images/s, or only the assumed sustained FLOP/s."""

    source: str
    images_per_second: Mapping[str, Mapping[str, Mapping[str, float]]]
    sustained_tflops: Mapping[str, float]
    width: float = 1.0
    device: str = ""
    date: str = ""

    @classmethod
    def read(cls, path: Path = THROUGHPUT) -> Throughput:
        try:
            body = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise UserError(f"cannot read the throughput table {path}: {err}") from None
        return cls(
            source=body["source"],
            images_per_second=body.get("images_per_second") or {},
            sustained_tflops=body.get("sustained_tflops") or {},
            width=float(body.get("width", 1.0)),
            device=body.get("device", ""),
            date=body.get("date", ""),
        )


@dataclasses.dataclass(frozen=True)
class RunCost:
    """One run's planned cost."""

    run: RunId
    epochs: int
    images_per_second: float
    basis: str  # measured, measured (ste), scaled, estimate
    gpu_hours: float


def run_rate(
    table: Throughput,
    arch: str,
    method: str,
    precision: str,
    macs: float,
    ref_macs: Mapping[str, float],
    as_measured: bool,
) -> tuple[float, str]:
    """Images/s of one run and how it was found (module docstring). ``macs``: the run's MACs per
    example; ``ref_macs``: the measured architectures' MACs at the table's width on CIFAR;
    ``as_measured``: whether the run has the table's width and CIFAR-shaped inputs (else a
    measured rate is scaled by MACs, the architecture's own first)."""
    row = table.images_per_second.get(arch, {})
    for source, basis in ((method, "measured"), ("ste", "measured (ste)")):
        rate = row.get(source, {}).get(precision)
        if rate is not None and as_measured:
            return float(rate), basis
        if rate is not None and arch in ref_macs and macs > 0:
            return float(rate) * ref_macs[arch] / macs, "scaled"
    for ref, by_method in table.images_per_second.items():
        rate = by_method.get("ste", {}).get(precision)
        if rate is not None and ref in ref_macs and macs > 0:
            return float(rate) * ref_macs[ref] / macs, "scaled"
    if precision not in table.sustained_tflops:
        raise UserError(
            f"the throughput table has no {precision} figure for {arch}, nor an assumed sustained "
            f"rate for {precision}; run nox -s gpu -- --throughput workflows/throughput.json"
        )
    return table.sustained_tflops[precision] * 1e12 / (6 * macs), "estimate"


def same_inputs(dataset: str, reference: str = REFERENCE_DATASET) -> bool:
    """Whether ``dataset``'s examples have the reference dataset's shape."""
    a, b = dataset_shape(dataset), dataset_shape(reference)
    return (a.kind, a.channels, a.size) == (b.kind, b.channels, b.size)


def gpu_hours(epochs: int, dataset: str, rate: float) -> float:
    """:math:`E (N_\\text{train} + N_\\text{test}/3) / R / 3600`."""
    shape = dataset_shape(dataset)
    return epochs * (shape.train + EVAL_COST * shape.test) / rate / 3600


def dataset_shape(dataset: str) -> DatasetShape:
    if dataset not in DATASETS:
        raise UserError(f"the planner knows no sizes for dataset '{dataset}'; known: {', '.join(DATASETS)}")
    return DATASETS[dataset]


# -- MACs ---------------------------------------------------------------------------------------
def count_macs(arch: str, dataset: str, width: float) -> int:
    """Multiply-accumulates per example of the float ``arch`` at ``width`` on ``dataset``'s inputs
    (``benchmark.accounting``; imports torch)."""
    import torch

    from benchmark.accounting import count
    from benchmark.data.inputs import Inputs
    from benchmark.models import build_model

    shape = dataset_shape(dataset)
    classes = NUM_CLASSES.get(dataset, 10)
    if shape.kind == "text":
        inputs = Inputs.text(30_522)  # BERT's WordPiece vocabulary
        ids = torch.zeros(1, TEXT_TOKENS, dtype=torch.long)
        example: Any = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    else:
        inputs = Inputs.image(shape.channels, shape.size)
        example = torch.zeros(1, shape.channels, shape.size, shape.size)
    torch.manual_seed(0)
    model = build_model(arch, inputs, classes, width).eval()
    with torch.no_grad():
        return count(model, example).flops


MacsKey = tuple[str, str, float]  # (arch, dataset, width)
_MACS: dict[Path, dict[str, int]] = {}  # the files read in this process
_ANSWERED: dict[tuple[Path, MacsKey], int] = {}  # what this process already answered, per root


def macs_table(keys: Iterable[MacsKey], root: Path = Path(".")) -> dict[MacsKey, int]:
    """MACs per ``(arch, dataset, width)``, from the file of this code version under ``root``
    (counted and added when missing).

    A key answered before in this process is answered from memory, without hashing the code
    again (:func:`code_key` reads every source file): the code a process counted with cannot
    change under it, and Snakemake asks once per ``train`` job (thousands for the paper grid).
    """
    keys = set(keys)
    if all((root, key) in _ANSWERED for key in keys):
        return {key: _ANSWERED[(root, key)] for key in keys}
    path = root / STAMP_DIR / f"macs-{code_key()}.json"
    known: dict[str, int] = _MACS.get(path) or (json.loads(path.read_text()) if path.exists() else {})
    _MACS[path] = known
    wanted = {key: f"{key[0]}@{key[1]}@{key[2]:g}" for key in keys}
    missing = [key for key, name in wanted.items() if name not in known]
    for key in missing:
        known[wanted[key]] = count_macs(*key)
    if missing:
        write_text(path, json.dumps(known, indent=1, sort_keys=True))
    answer = {key: known[name] for key, name in wanted.items()}
    _ANSWERED.update({(root, key): macs for key, macs in answer.items()})
    return answer


# -- the plan -----------------------------------------------------------------------------------
def plan_runs(
    runs: Iterable[RunId],
    epochs_of: Mapping[str, int],
    method_of: Mapping[str, str],
    width_of: Mapping[str, float],
    precision: str,
    table: Throughput,
    root: Path = Path("."),
) -> list[RunCost]:
    """The cost of each run. ``epochs_of``: per recipe; ``method_of``: per variant; ``width_of``:
    per architecture."""
    runs = list(runs)
    keys = {(r.arch, r.dataset, width_of[r.arch]) for r in runs}
    refs = {(arch, REFERENCE_DATASET, table.width) for arch in table.images_per_second}
    macs = macs_table(keys | refs, root)
    ref_macs = {arch: macs[(arch, REFERENCE_DATASET, table.width)] for arch in table.images_per_second}
    costs = []
    for r in runs:
        rate, basis = run_rate(
            table,
            r.arch,
            method_of[r.variant],
            precision,
            macs[(r.arch, r.dataset, width_of[r.arch])],
            ref_macs,
            as_measured=same_inputs(r.dataset) and width_of[r.arch] == table.width,
        )
        epochs = epochs_of[r.recipe]
        costs.append(RunCost(r, epochs, rate, basis, gpu_hours(epochs, r.dataset, rate)))
    return costs


def job_minutes(cost: RunCost, margin: float, minimum: int, gpus: int = 1) -> int:
    """The runtime a job asks for: the planned minutes times ``margin``, at least ``minimum``;
    on ``gpus`` > 1 data-parallel GPUs, the GPU-minutes spread over them (linear scaling
    assumed: the gradient all-reduce is not in the throughput table)."""
    return max(minimum, math.ceil(cost.gpu_hours * 60 * margin / max(gpus, 1)))


@functools.cache
def _table(path: str) -> Throughput:
    return Throughput.read(Path(path))


def planned_minutes(config: Mapping[str, Any], run: RunId, settings: Mapping[str, Any]) -> int:
    """The first attempt's runtime of ``run`` when the config's ``resources.from_plan`` is set:
    :func:`job_minutes` of its planned cost with the setting's ``margin`` and ``minimum``, at
    the throughput of its ``throughput`` file (default ``workflows/throughput.json``)."""
    from benchmark import cluster, grid

    table = _table(str(settings.get("throughput") or THROUGHPUT))
    precision = (config.get("runtime") or {}).get("precision", "fp32")
    (cost,) = plan_runs(
        [run],
        {run.recipe: int(config["recipes"][run.recipe]["epochs"])},
        {run.variant: grid.method_of(config, run.variant)},
        {run.arch: grid.width_for(config, run.arch)},
        precision,
        table,
    )
    gpus = cluster.resource_estimate(config, run.dataset, run.arch)["gpus"]
    return job_minutes(cost, float(settings.get("margin", 1.5)), int(settings.get("minimum", 15)), gpus)


def summarize(costs: list[RunCost]) -> dict[str, Any]:
    """Runs, GPU-hours and the bases used, for one group of runs."""
    bases: dict[str, int] = {}
    for c in costs:
        bases[c.basis] = bases.get(c.basis, 0) + 1
    return {"runs": len(costs), "gpu_hours": sum(c.gpu_hours for c in costs), "bases": bases}


def plan_config(config: Mapping[str, Any], table: Throughput, root: Path = Path(".")) -> dict[str, Any]:
    """Per table and figure of a workflow config: runs, GPU-hours, bases and the SLURM requests
    (``resources``' runtime and GPUs of its jobs); the total over the distinct runs."""
    from benchmark import grid

    precision = (config.get("runtime") or {}).get("precision", "fp32")
    runs = grid.all_runs(config)
    costs = plan_runs(
        runs,
        {name: int(recipe["epochs"]) for name, recipe in config["recipes"].items()},
        {variant: grid.method_of(config, variant) for variant in {r.variant for r in runs}},
        {arch: grid.width_for(config, arch) for arch in {r.arch for r in runs}},
        precision,
        table,
        root,
    )
    by_run = {c.run: c for c in costs}
    sections = {}
    for section in grid.SECTIONS:
        for name in config[section]:
            chosen = [by_run[r] for r in grid.section_runs(config, section, name)]
            requests = sorted({requested(config, c) for c in chosen})
            sections[f"{section[:-1]} {name}"] = {**summarize(chosen), "requests": requests}
    return {"precision": precision, "sections": sections, "total": summarize(costs), "costs": costs}


def requested(config: Mapping[str, Any], cost: RunCost) -> tuple[int, int]:
    """(runtime minutes, GPUs) the SLURM profile asks for the run's first attempt."""
    from benchmark import cluster

    asked = cluster.train_resources(config, cost.run)
    return asked["runtime"], asked["gpu"]


def format_plan(plan: Mapping[str, Any], table: Throughput) -> str:
    """The plan as a Markdown table, with the throughput table it used."""
    where = f"{table.device}, {table.date}" if table.device else "no device measured"
    lines = [
        f"throughput: {table.source} ({where}); precision {plan['precision']}",
        "",
        "| table or figure | runs | GPU-hours | basis | SLURM request per job (minutes x GPUs) |",
        "|---|---:|---:|---|---|",
    ]
    for name, row in plan["sections"].items():
        bases = ", ".join(f"{k} {v}" for k, v in sorted(row["bases"].items()))
        asks = ", ".join(f"{m} x {g}" for m, g in row["requests"])
        lines.append(f"| {name} | {row['runs']} | {hours(row['gpu_hours'])} | {bases} | {asks} |")
    total = plan["total"]
    bases = ", ".join(f"{k} {v}" for k, v in sorted(total["bases"].items()))
    lines.append(f"| **all (distinct runs)** | {total['runs']} | {hours(total['gpu_hours'])} | {bases} | |")
    return "\n".join(lines)


def hours(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:.3f}"
