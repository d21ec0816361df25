"""What a training job asks the cluster for (DESIGN 6): memory, runtime, GPUs and CPUs per run,
looked up per dataset and architecture (``resources`` in the config); how the run starts (one
process, or ``torchrun`` with one process per GPU; the CPU kernels' pins); and which runs share
one GPU in one job (``resources.runs_per_gpu``). The train rule and the SLURM profile read
these; ``benchmark.plan`` gives the runtimes under ``resources.from_plan``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from itertools import product
from typing import Any

from benchmark.grid import Config, ConfigError, run_of, wildcard
from benchmark.runtime import Runtime, isa_environment

RESOURCE_KEYS = ("mem_mb", "runtime", "gpus", "runs_per_gpu")
RESOURCE_DEFAULTS = {"mem_mb": 4096, "runtime": 60, "gpus": 0, "runs_per_gpu": 1, "runtime_growth": 2.0}
TRAIN_RESOURCES = ("mem_mb", "runtime", "gpu", "gres", "cpus_per_task", "cpus_per_gpu")
SHARE_GROUP = "gpu_share_{n}"  # the Snakemake group of N runs that share one GPU


def resource_estimate(config: Config, dataset: str, arch: str) -> dict[str, int]:
    """``mem_mb``, ``runtime`` (first attempt, minutes), ``gpus`` and ``runs_per_gpu`` of one
    training run.

    Each key is looked up in ``resources.estimates.<dataset>.<arch>``, then
    ``resources.estimates.<dataset>.default``, then the top-level ``resources`` value.
    """
    resources = config.get("resources") or {}
    per_dataset = (resources.get("estimates") or {}).get(dataset) or {}
    layers = [per_dataset.get(arch) or {}, per_dataset.get("default") or {}, resources, RESOURCE_DEFAULTS]
    return {key: int(next(layer[key] for layer in layers if key in layer)) for key in RESOURCE_KEYS}


def train_resources(config: Config, wildcards: Any, attempt: int = 1, planned: bool = True) -> dict[str, Any]:
    """The resources of one ``train`` job, as the SLURM executor plugin reads them.

    ``wildcards`` needs ``dataset`` and ``arch`` (Snakemake's wildcards, or any object
    with those attributes or keys). The runtime grows with the retry ``attempt`` (1, 2,
    ...): ``runtime * runtime_growth ** (attempt - 1)`` minutes, rounded up, so a run
    that hit its time limit (and checkpointed) asks for more the next time. With
    ``resources.from_plan`` the first attempt's runtime is the run's planned one
    (``benchmark.plan.planned_minutes``; ``wildcards`` then name the whole run), unless
    ``planned`` is False. CPUs are
    the config's ``threads`` plus the dataset's loader ``workers`` (``data_options``):
    ``cpus_per_gpu`` for a GPU job, ``cpus_per_task`` otherwise (the other one is 0, which
    the plugin ignores). A run that shares its GPU with ``runs_per_gpu`` = N - 1 others asks
    for no GPU of its own but for ``gres`` ``gpu:1``, a string the N runs of its group
    (:func:`share_group`) have in common, so their SLURM job asks for one GPU and the
    summed CPUs and memory; its runtime is N times its own (no gain assumed until measured).
    """
    dataset, arch = (wildcard(wildcards, name) for name in ("dataset", "arch"))
    estimate = resource_estimate(config, dataset, arch)
    from_plan = (config.get("resources") or {}).get("from_plan")
    if from_plan and planned:  # the runtime from the cost planner (benchmark.plan), per run
        from benchmark import plan

        estimate["runtime"] = plan.planned_minutes(config, run_of(wildcards), from_plan)
    growth = float((config.get("resources") or {}).get("runtime_growth", RESOURCE_DEFAULTS["runtime_growth"]))
    runtime = math.ceil(estimate["runtime"] * growth ** (max(int(attempt), 1) - 1))
    workers = ((config.get("data_options") or {}).get(dataset) or {}).get("workers") or 0
    cpus = int(config.get("threads", 1)) + int(workers)
    gpus, gres = estimate["gpus"], ""
    if shares_gpu(estimate):
        gpus, gres, runtime = 0, "gpu:1", runtime * estimate["runs_per_gpu"]
    return {
        "mem_mb": estimate["mem_mb"],
        "runtime": runtime,
        "gpu": gpus,
        "gres": gres,
        "cpus_per_task": 0 if gpus else cpus,
        "cpus_per_gpu": cpus if gpus else 0,
    }


def shares_gpu(estimate: Mapping[str, int]) -> bool:
    """Whether runs with these estimates share one GPU (``runs_per_gpu`` > 1 on one GPU)."""
    return estimate["gpus"] == 1 and estimate["runs_per_gpu"] > 1


def share_group(
    config: Config, components: Callable[[], Mapping[str, int] | bool] = lambda: False
) -> Callable[[Any], str | None]:
    """The train rule's Snakemake group: ``gpu_share_N`` for a run that shares its GPU with
    N - 1 others (``resources.runs_per_gpu``), none otherwise. Snakemake puts at most
    ``--group-components gpu_share_N=N`` such runs in one cluster job (:func:`share_components`):
    ``components()`` gives those of the cluster run (false when not on a cluster), checked by
    :func:`check_share_components` when the first shared run is grouped."""
    checked = []

    def group(wildcards: Any) -> str | None:
        estimate = resource_estimate(config, wildcard(wildcards, "dataset"), wildcard(wildcards, "arch"))
        if not shares_gpu(estimate):
            return None
        if not checked and (given := components()) is not False:
            check_share_components(config, given or {})
            checked.append(True)
        return SHARE_GROUP.format(n=estimate["runs_per_gpu"])

    return group


def share_components(config: Config) -> dict[str, int]:
    """``--group-components`` a cluster run of ``config`` needs: ``{gpu_share_N: N}`` for each
    N of its shared runs (empty when no run shares a GPU)."""
    found = {}
    for cell in estimate_cells(config):
        estimate = resource_estimate(config, cell["dataset"], cell["arch"])
        if shares_gpu(estimate):
            n = estimate["runs_per_gpu"]
            found[SHARE_GROUP.format(n=n)] = n
    return found


def check_share_components(config: Config, given: Mapping[str, int]) -> None:
    """Refuse a cluster run whose ``--group-components`` would not put N GPU-sharing runs in
    one job (Snakemake's default puts each in a job of its own, each asking for a GPU)."""
    wanted = share_components(config)
    if any(given.get(group) != n for group, n in wanted.items()):
        flags = " ".join(f"{group}={n}" for group, n in sorted(wanted.items()))
        raise ConfigError(
            f"resources.runs_per_gpu shares GPUs between runs: add --group-components {flags} "
            "to the snakemake command (or set runs_per_gpu: 1)"
        )


def train_resource(config: Config, name: str) -> Callable[[Any, int], Any] | int | str:
    """One value of :func:`train_resources` for the train rule: a plain number when it is the
    same for every dataset, arch and attempt of the config (so Snakemake has no callable to
    evaluate per job), else a resource callable of the wildcards and the attempt."""
    if name not in TRAIN_RESOURCES:
        raise ValueError(f"unknown train resource '{name}' (has {TRAIN_RESOURCES})")
    if name == "runtime" and (config.get("resources") or {}).get("from_plan"):
        return lambda wildcards, attempt: train_resources(config, wildcards, attempt)[name]
    values = {
        train_resources(config, cell, attempt, planned=False)[name]
        for cell in estimate_cells(config)
        for attempt in (1, 2)
    }
    if len(values) == 1:
        return values.pop()

    def resource(wildcards: Any, attempt: int) -> Any:
        return train_resources(config, wildcards, attempt)[name]

    return resource


LAUNCH = "bnnbench"
# one run on N GPUs: N data-parallel processes on this node (benchmark.distributed)
LAUNCH_PARALLEL = "torchrun --standalone --nproc-per-node {gpus} -m benchmark.cli"


def launcher(config: Config) -> Callable[[Any], str] | str:
    """What starts ``train``: ``bnnbench``, or ``torchrun`` with one process per GPU for a run
    whose ``resources`` ask for more than one GPU (per dataset and arch, like every estimate);
    behind ``env`` and the kernels' pins where ``runtime.cpu_isa`` pins them (they must be set
    before torch loads: :func:`benchmark.runtime.check_cpu_isa`). A plain string when every run
    of the config starts the same way."""
    pins = isa_environment(Runtime.from_dict(config.get("runtime")))
    prefix = "".join(f"{key}={value} " for key, value in pins.items())
    prefix = f"env {prefix}" if prefix else ""

    def launch(wildcards: Any) -> str:
        gpus = resource_estimate(config, wildcard(wildcards, "dataset"), wildcard(wildcards, "arch"))["gpus"]
        return prefix + (LAUNCH_PARALLEL.format(gpus=gpus) if gpus > 1 else LAUNCH)

    starts = {launch(cell) for cell in estimate_cells(config)}
    return starts.pop() if len(starts) == 1 else launch


def estimate_cells(config: Config) -> list[dict[str, str]]:
    """Every (dataset, arch) whose estimates may differ: the config's and the estimates' names,
    and "" for any other."""
    estimates = (config.get("resources") or {}).get("estimates") or {}
    datasets = {"", *(config.get("datasets") or []), *estimates, *(config.get("data_options") or {})}
    archs = {"", *(config.get("archs") or []), *(a for per in estimates.values() for a in per or {})}
    return [{"dataset": d, "arch": a} for d, a in product(sorted(datasets), sorted(archs))]
