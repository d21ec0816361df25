"""The cost planner (``benchmark.plan``, ``bnnbench plan``; issue 12): GPU-hours from a
throughput table, checked against hand computation, and SLURM runtimes derived from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark import cluster, configs, grid, plan
from benchmark.cli import main
from benchmark.errors import UserError
from benchmark.identity import RunId

CIFAR_PER_EPOCH = 50_000 + 10_000 / 3  # training images + a third of the test images


def run(arch: str = "resnet18", variant: str = "ste", dataset: str = "cifar10") -> RunId:
    return RunId("paper", dataset, arch, "bnn", variant, "none", 0)


def table(measured: dict | None = None, tflops: dict | None = None) -> plan.Throughput:
    return plan.Throughput("test", measured or {}, tflops or {})


def costs(runs: list[RunId], t: plan.Throughput, root: Path, precision: str = "fp32") -> list[plan.RunCost]:
    methods = {"ste": "ste", "stompp": "stompp"}
    widths = {"resnet18": 1.0, "resnet34": 1.0}
    return plan.plan_runs(runs, {"paper": 200}, methods, widths, precision, t, root)


def test_a_measured_rate_gives_the_hand_computed_hours(tmp_path: Path) -> None:
    (cost,) = costs([run()], table({"resnet18": {"ste": {"fp32": 1000.0}}}), tmp_path)
    assert cost.basis == "measured" and cost.images_per_second == 1000.0
    assert cost.gpu_hours == pytest.approx(200 * CIFAR_PER_EPOCH / 1000 / 3600)  # 2.963 h


def test_fallbacks_use_ste_then_scale_by_macs_then_estimate(tmp_path: Path) -> None:
    measured = table({"resnet18": {"ste": {"fp32": 1000.0}}})
    stompp, deeper = costs([run(variant="stompp"), run(arch="resnet34")], measured, tmp_path)
    assert (stompp.basis, stompp.images_per_second) == ("measured (ste)", 1000.0)
    macs18, macs34 = plan.count_macs("resnet18", "cifar10", 1.0), plan.count_macs("resnet34", "cifar10", 1.0)
    assert deeper.basis == "scaled"
    assert deeper.images_per_second == pytest.approx(1000.0 * macs18 / macs34)
    (estimated,) = costs([run()], table(tflops={"fp32": 10.0}), tmp_path)
    assert estimated.basis == "estimate"
    assert estimated.images_per_second == pytest.approx(10e12 / (6 * macs18))
    assert 5e8 < macs18 < 6e8  # CIFAR ResNet-18: 0.56 GMACs (He et al. 2016 scaled to 32x32)


def test_a_precision_with_no_figure_is_refused_with_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no bf16 figure for resnet18.*nox -s gpu"):
        costs([run()], table(tflops={"fp32": 10.0}), tmp_path, precision="bf16")


def test_job_minutes_apply_the_margin_and_the_minimum() -> None:
    cost = plan.RunCost(run(), 200, 1000.0, "measured", 2.0)
    assert plan.job_minutes(cost, 1.5, 30) == 180
    assert plan.job_minutes(cost, 1.0, 500) == 500
    assert plan.job_minutes(cost, 1.5, 30, gpus=4) == 45  # 180 GPU-minutes over 4 data-parallel GPUs


def write_table(path: Path, rate: float) -> Path:
    body = {"schema": 1, "source": "measured", "images_per_second": {"resnet18": {"ste": {"fp32": rate}}}}
    path.write_text(json.dumps(body))
    return path


def test_plan_prints_each_section_and_the_distinct_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the MACs cache goes here
    smoke = configs.CONFIG_DIR / "smoke.yaml"
    out = tmp_path / "plan.json"
    argv = ["plan", "--configfile", str(smoke), "--throughput", str(write_table(tmp_path / "t.json", 1000.0))]
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    config = configs.load(smoke)
    runs = grid.all_runs(config)
    epochs = {name: recipe["epochs"] for name, recipe in config["recipes"].items()}
    # no smoke run has CIFAR inputs at width 1: each rate is the table's resnet18 figure
    # scaled by the ratio of MACs per example
    macs_ref = plan.count_macs("resnet18", "cifar10", 1.0)

    def hours(r: RunId) -> float:
        shape = plan.DATASETS[r.dataset]
        rate = 1000.0 * macs_ref / plan.count_macs(r.arch, r.dataset, grid.width_for(config, r.arch))
        return epochs[r.recipe] * (shape.train + shape.test / 3) / rate / 3600

    expected = sum(hours(r) for r in runs)
    body = json.loads(out.read_text())
    assert body["total"]["runs"] == len(runs)
    assert body["total"]["gpu_hours"] == pytest.approx(expected)
    assert f"| **all (distinct runs)** | {len(runs)} | {plan.hours(expected)} |" in printed
    depth = body["sections"]["table depth_scaling"]
    assert depth["runs"] == len(grid.section_runs(config, "tables", "depth_scaling"))
    assert printed.startswith("throughput: measured (no device measured); precision fp32")


def test_from_plan_derives_each_jobs_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = configs.load(configs.CONFIG_DIR / "paper.yaml")
    settings = {"margin": 2.0, "minimum": 1, "throughput": str(write_table(tmp_path / "t.json", 1000.0))}
    config["resources"]["from_plan"] = settings
    r18 = next(
        r for r in grid.all_runs(config) if (r.dataset, r.arch, r.variant) == ("cifar10", "resnet18", "ste")
    )
    hours = config["recipes"][r18.recipe]["epochs"] * CIFAR_PER_EPOCH / 1000 / 3600
    minutes = -(-hours * 60 * 2.0 // 1)
    assert cluster.train_resources(config, r18, 1)["runtime"] == minutes
    assert cluster.train_resources(config, r18, 2)["runtime"] == 2 * minutes  # runtime_growth 2
    assert callable(cluster.train_resource(config, "runtime"))
    cost = plan.RunCost(r18, 200, 1000.0, "measured", hours)
    assert plan.requested(config, cost) == (minutes, 1)  # what `bnnbench plan` prints


def test_macs_answered_once_are_not_looked_up_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Snakemake asks for every train job's runtime: the code is hashed once a process, not per job."""
    hashed = []
    monkeypatch.setattr(plan, "code_key", lambda: hashed.append(1) or "k")
    monkeypatch.setattr(plan, "_MACS", {})
    monkeypatch.setattr(plan, "_ANSWERED", {})
    file = tmp_path / plan.STAMP_DIR / "macs-k.json"
    file.parent.mkdir(parents=True)
    file.write_text(json.dumps({"resnet18@cifar10@1": 556, "resnet20@cifar10@1": 41}))
    one, other = ("resnet18", "cifar10", 1.0), ("resnet20", "cifar10", 1.0)
    for _ in range(100):
        assert plan.macs_table([one], tmp_path) == {one: 556}
    assert len(hashed) == 1
    assert plan.macs_table([one, other], tmp_path) == {one: 556, other: 41}  # a new key: the file
    assert len(hashed) == 2
