"""Evaluations every N steps (``bnnbench train --eval-every N --eval-subset K``,
``benchmark.evals``; issue 13): the rows of ``evals.csv``, a training bit for bit unchanged by
them, a resumed run's same file, the trajectories figure's finer curve, claim S6 on it, and the
workflow key ``evals``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from snakemake.exceptions import WorkflowError

from benchmark import aggregate, checkpoint, config_checks, configs, evals, grid, job_args
from benchmark import claims as cl
from benchmark import train as train_module
from benchmark.claims import FAILS, HOLDS
from benchmark.cli import main
from benchmark.errors import UserError
from benchmark.identity import RunId
from benchmark.reporting import build_figure
from methods.stompp import _mix
from tests.test_claims import CLAIMS_YAML
from tests.test_config_schema import check
from tests.test_resume import assert_same_records, spec_for, stop_at
from tests.test_tables import write_run

STEPS_PER_EPOCH = 8  # synthetic: 512 training images, batch 64, drop_last
TEST_SIZE = 256
ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- the plan
def test_a_plan_is_checked_and_says_when_to_evaluate() -> None:
    with pytest.raises(UserError, match="--eval-every"):
        evals.Plan(every=-1)
    with pytest.raises(UserError, match="--eval-subset"):
        evals.Plan(every=2, subset=-5)
    plan = evals.Plan(every=3, subset=100)
    assert [s for s in range(1, 13) if plan.due(s)] == [3, 6, 9, 12]
    assert not any(evals.Plan().due(s) for s in range(1, 13))
    assert plan.examples(360) == 100 and plan.examples(50) == 50 and evals.Plan(2).examples(360) == 360
    assert plan.record() == {"every": 3, "subset": 100}


def test_every_evaluation_has_its_own_key_never_an_epochs() -> None:
    """StoMPP seeds its as-trained masks from (seed, key): a step's key differs from every
    other step's, every epoch's and the training generator's salt."""
    steps = range(1, 5001)
    keys = [evals.key(s) for s in steps]
    assert len(set(keys)) == len(keys) and not set(keys) & set(range(0, 1001))
    for seed in (0, 1, 7):
        seeds = {_mix(seed, k) for k in keys}
        assert len(seeds) == len(keys)
        assert not seeds & ({_mix(seed, e) for e in range(1, 1001)} | {_mix(seed, 0x5707)})


def test_first_cuts_the_test_batches_at_k_examples_and_closes_them() -> None:
    closed = []

    def source():
        try:
            for i in range(5):
                yield {"ids": torch.arange(10) + 10 * i, "mask": torch.ones(10)}, torch.arange(10)
        finally:
            closed.append(True)

    batches = list(evals.first(source(), 25))
    assert [len(y) for _, y in batches] == [10, 10, 5]
    assert batches[-1][0]["ids"].tolist() == [20, 21, 22, 23, 24] and len(batches[-1][0]["mask"]) == 5
    assert closed == [True]


# --------------------------------------------------------------------------- training
def _records(out: Path) -> dict:
    return json.loads((out / "result.json").read_text())


@pytest.mark.parametrize("method", ["stompp", "pabt", "ovsw"])
def test_rows_at_every_nth_step_and_the_training_bit_for_bit_unchanged(tmp_path: Path, method: str) -> None:
    spec = spec_for(method)
    train_module.train(spec, tmp_path / "plain", show_progress=False)
    plan = evals.Plan(every=3, subset=100)
    result = train_module.train(spec, tmp_path / "evals", show_progress=False, eval_plan=plan)
    assert not (tmp_path / "plain" / evals.FILE).exists()
    rows = pd.read_csv(tmp_path / "evals" / evals.FILE)
    assert list(rows.columns) == list(evals.COLUMNS)
    assert rows["step"].tolist() == list(range(3, 2 * STEPS_PER_EPOCH + 1, 3))
    assert rows["epoch"].tolist() == pytest.approx([s / STEPS_PER_EPOCH for s in rows["step"]])
    assert (rows["n_examples"] == 100).all() and rows["test_acc_as_trained"].between(0, 100).all()
    assert result["evals"] == {"every": 3, "subset": 100}
    # the training: metrics (apart from seconds), layers, histogram, result and weights the same
    plain = _records(tmp_path / "plain")
    assert "evals" not in plain and plain["config_hash"] == result["config_hash"]
    (tmp_path / "evals" / "result.json").write_text(
        json.dumps({k: v for k, v in result.items() if k != "evals"})
    )
    assert_same_records(tmp_path / "plain", tmp_path / "evals")
    a, b = (
        torch.load(tmp_path / d / "model.pt", weights_only=True)["state_dict"] for d in ("plain", "evals")
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_evaluation_at_an_epochs_end_on_the_whole_split_is_the_epochs(tmp_path: Path) -> None:
    """STE draws nothing: its evaluation after an epoch's last step on all test examples (a
    subset larger than the split reads all of it) is that epoch's accuracy as trained."""
    plan = evals.Plan(every=STEPS_PER_EPOCH, subset=10_000)
    train_module.train(spec_for("ste"), tmp_path, show_progress=False, eval_plan=plan)
    rows = pd.read_csv(tmp_path / evals.FILE)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert rows["step"].tolist() == metrics["step"].tolist()
    assert rows["test_acc_as_trained"].tolist() == metrics["test_acc_as_trained"].tolist()
    assert (rows["n_examples"] == TEST_SIZE).all()


def test_a_resumed_run_writes_the_same_evals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, plan = spec_for("stompp"), evals.Plan(every=3, subset=50)
    train_module.train(spec, tmp_path / "whole", show_progress=False, eval_plan=plan)
    with monkeypatch.context() as patch:
        stop_at(patch, STEPS_PER_EPOCH + 3)  # mid-way through epoch 2, right after an evaluation
        with pytest.raises(checkpoint.Preempted):
            train_module.train(spec, tmp_path / "stopped", show_progress=False, eval_plan=plan)
    # resumed under another plan: refused (its evals.csv would mix the two)
    with pytest.raises(UserError, match="--eval-every 3 --eval-subset 50"):
        train_module.train(spec, tmp_path / "stopped", show_progress=False, eval_plan=evals.Plan(2))
    torch.manual_seed(12345)
    train_module.train(spec, tmp_path / "stopped", show_progress=False, eval_plan=plan)
    assert_same_records(tmp_path / "whole", tmp_path / "stopped")
    assert (tmp_path / "whole" / evals.FILE).read_bytes() == (tmp_path / "stopped" / evals.FILE).read_bytes()


def test_the_cli_flags_leave_the_config_and_its_hash_alone(tmp_path: Path) -> None:
    args = ["train", "--dataset", "synthetic", "--arch", "resnet18", "--width", "0.0625", "--method", "ste"]
    args += [
        "--epochs",
        "1",
        "--threads",
        "1",
        "--recipe",
        "tiny",
        "--set",
        "recipe.batch_size=64",
        "--no-progress",
    ]
    assert main([*args, "--eval-every", "4", "--eval-subset", "32", "--out", str(tmp_path / "on")]) == 0
    assert main([*args, "--out", str(tmp_path / "off")]) == 0
    on, off = _records(tmp_path / "on"), _records(tmp_path / "off")
    assert on["evals"] == {"every": 4, "subset": 32} and "evals" not in off
    assert on["config_hash"] == off["config_hash"]
    assert (tmp_path / "on" / "config.json").read_text() == (tmp_path / "off" / "config.json").read_text()
    assert pd.read_csv(tmp_path / "on" / evals.FILE)["step"].tolist() == [4, 8]
    assert main([*args, "--eval-every", "-1", "--out", str(tmp_path / "bad")]) == 2


# --------------------------------------------------------------------------- the trajectories and S6
SMOOTH_EPOCHS = [40.0, 50.0, 55.0, 58.0, 60.0, 61.0, 62.0, 63.0, 64.0, 64.0]
# every 2 steps of 10 epochs of 10 steps: 50 evaluations, 45 of them in the freezing phase
SAW_FINE = [30.0 + i - (6.0 if i % 5 == 4 else 0.0) for i in range(50)]  # a drop every 5th, recovered
SMOOTH_FINE = [30.0 + 0.6 * i for i in range(50)]


def fine_run(
    root: Path,
    fine: list[float] | None,
    variant: str,
    seed: int,
    n_examples: int = 64,
    dataset: str = "cifar10",
) -> Path:
    """A finished 10-epoch run with a smooth per-epoch curve and, with ``fine``, an
    ``evals.csv`` of one evaluation every 2 steps (10 steps an epoch); on a paper dataset by
    default (S6's paper form judges it; its laptop form: tests/test_laptop_claims.py)."""
    path = write_run(root, SMOOTH_EPOCHS[-1], SMOOTH_EPOCHS, variant=variant, seed=seed, dataset=dataset)
    if fine is not None:
        steps = [2 * (i + 1) for i in range(len(fine))]
        rows = {"step": steps, "epoch": [s / 10 for s in steps], evals.METRIC: fine, "n_examples": n_examples}
        pd.DataFrame(rows).to_csv(path.parent / evals.FILE, index=False)
    return path


def s6(traj: pd.DataFrame) -> tuple[str, str]:
    parsed, _ = cl.load_claims(CLAIMS_YAML)
    claim = next(c for c in parsed if c.id == "S6")
    (outcome,) = claim.evaluate(cl.Tables(trajectories=traj))
    return outcome.verdict, " ".join(part.text for part in outcome.parts)


def trajectories(tmp_path: Path, paths: list[Path]) -> pd.DataFrame:
    out = tmp_path / "results" / "fig_trajectories"
    build_figure("trajectories", paths, out)
    assert (out.parent / "fig_trajectories.png").stat().st_size > 0
    return pd.read_csv(out.parent / "trajectories.csv")


def test_s6_judges_the_finer_curve_where_every_run_has_one(tmp_path: Path) -> None:
    paths = [fine_run(tmp_path, SAW_FINE, "stompp", s) for s in (0, 1)]
    paths += [fine_run(tmp_path, SMOOTH_FINE, "ste", s) for s in (0, 1)]
    traj = trajectories(tmp_path, paths)
    fine = traj[traj[evals.CURVE] == evals.FINE]
    assert len(fine) == 4 * 50 and set(fine["every"]) == {2} and set(fine["n_examples"]) == {64}
    assert fine["test_acc"].isna().all() and fine["step"].tolist()[:3] == [2, 4, 6]
    assert len(traj[traj[evals.CURVE] == evals.PER_EPOCH]) == 4 * 10
    # the summary (what the figure's bands show) is the per-epoch one
    summary = pd.read_csv(tmp_path / "results" / "trajectories_summary.csv")
    assert len(summary) == 2 * 10 and (summary["n"] == 2).all()
    verdict, detail = s6(traj)
    assert verdict == HOLDS, detail
    assert "evaluated every 2 steps on 64 test images" in detail and "stompp {0: 9, 1: 9}" in detail


def test_s6_fails_on_smooth_finer_curves_and_says_so(tmp_path: Path) -> None:
    paths = [fine_run(tmp_path, SMOOTH_FINE, v, s) for v in ("stompp", "ste") for s in (0, 1)]
    verdict, detail = s6(trajectories(tmp_path, paths))
    assert verdict == FAILS and "every 2 steps" in detail


def test_s6_judges_per_epoch_without_evals_or_when_some_runs_lack_them(tmp_path: Path) -> None:
    plain = [fine_run(tmp_path / "a", None, v, s) for v in ("stompp", "ste") for s in (0, 1)]
    traj = trajectories(tmp_path / "a", plain)
    assert list(traj.columns) == aggregate.curve_columns(aggregate.TRAJECTORY_METRICS)
    verdict, detail = s6(traj)
    assert verdict == FAILS and "on the curve per epoch:" in detail
    some = [fine_run(tmp_path / "b", SAW_FINE if s == 0 else None, "stompp", s) for s in (0, 1)]
    some += [fine_run(tmp_path / "b", SMOOTH_FINE, "ste", s) for s in (0, 1)]
    verdict, detail = s6(trajectories(tmp_path / "b", some))
    assert verdict == FAILS and "per epoch (only 3 of 4 runs have evals.csv)" in detail


def test_s6_counts_no_drop_after_the_freezing_phase(tmp_path: Path) -> None:
    late = [30.0 + i - (6.0 if i % 5 == 4 and i >= 46 else 0.0) for i in range(60)]  # epochs 9.4-12
    paths = [fine_run(tmp_path, late, "stompp", s) for s in (0, 1)]
    paths += [fine_run(tmp_path, SMOOTH_FINE, "ste", s) for s in (0, 1)]
    verdict, detail = s6(trajectories(tmp_path, paths))
    assert verdict == FAILS and "stompp {0: 0, 1: 0}" in detail


# --------------------------------------------------------------------------- the workflow
def test_the_default_evaluates_the_trajectories_runs_only() -> None:
    config = configs.shipped("default")
    traj = set(grid.section_runs(config, "figures", "trajectories"))
    assert len(traj) == 3 * 2 * 5  # ResNet-18/34/50 x (ste, stompp) x 5 seeds (S6's cells)
    for run in grid.all_runs(config):
        flags = job_args.train_args(config, run.as_dict())
        assert ("--eval-every 2 --eval-subset 128" in flags) == (run in traj), run
    # the trajectories runs are the depth table's: the same run directories
    assert traj <= set(grid.section_runs(config, "tables", "depth_scaling"))
    smoke = configs.shipped("smoke")
    run = grid.section_runs(smoke, "figures", "trajectories")[0]
    assert job_args.eval_args(smoke, run.as_dict()) == "--eval-every 5 --eval-subset 64"
    paper = configs.shipped("paper")
    assert not any(
        job_args.eval_args(paper, r.as_dict()) for r in grid.section_runs(paper, "figures", "trajectories")
    )


def test_the_evals_key_is_checked() -> None:
    config = configs.shipped("default")
    config["evals"]["trajectories"]["every"] = -1
    with pytest.raises(WorkflowError, match="every"):
        check(config)
    config = configs.shipped("default")
    config["evals"]["nonesuch"] = {"every": 2}
    with pytest.raises(grid.ConfigError, match="evals.nonesuch"):
        config_checks.check_evals(config)
    config = configs.shipped("default")
    config["evals"]["curves_hybrids"] = {"every": 4}  # shares its ResNet-18 BNN runs with trajectories
    with pytest.raises(grid.ConfigError, match="other settings"):
        config_checks.check_evals(config)
    config["evals"]["curves_hybrids"] = {"every": 2, "subset": 128}
    config_checks.check_evals(config)


def test_a_dry_run_passes_the_flags_to_the_trajectories_runs(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-n", "-p"]
    cmd += ["--cores", "2", "results/fig_trajectories.png"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    commands = [line for line in proc.stdout.splitlines() if "bnnbench train" in line]
    assert len(commands) == 3 * 2 * 5
    for line in commands:
        assert "--eval-every 2 --eval-subset 128" in line
        out = line.split('--out "$(dirname ', 1)[1].split(')"', 1)[0]
        assert RunId.from_result(out).variant in ("ste", "stompp")
