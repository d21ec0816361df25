"""The curves figures (benchmark.curves, figures.curves_figure) on hand-made run records: the
cells they read, the mean and band over seeds per epoch, the panels they draw, and the
trajectories figure, now a curves figure, still feeding the sawtooth claim (S6)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, curves, outputs
from benchmark import claims as cl
from benchmark.claims import HOLDS
from benchmark.curves import CurveSpec
from benchmark.errors import UserError
from benchmark.reporting import build_figure
from tests.test_claims import CLAIMS_YAML, verdicts
from tests.test_tables import run_dir, write_run

CURVE_NAMES = ["curves_bwn", "curves_hybrids", "curves_bireal", "curves_pabt"]
SAW = [40.0, 50.0, 45.0, 55.0, 60.0, 52.0, 58.0, 65.0]
SMOOTH = [40.0, 50.0, 55.0, 58.0, 60.0, 61.0, 62.0, 63.0]


def curve_run(root: Path, test: list[float], train_shift: float = 5.0, **identity) -> Path:
    """A finished run (tests/test_tables.py's format) whose train accuracy is its test curve
    shifted by ``train_shift``; ``ops_left`` falls from 9 to 1 for the pabt variants."""
    path = write_run(root, test[-1], list(test), **identity)
    metrics = pd.read_csv(path.parent / "metrics.csv")
    metrics["train_acc"] = [v + train_shift for v in test]
    if str(identity.get("variant", "")).startswith("pabt"):
        metrics["ops_left"] = [max(9.0 - 2 * e, 1.0) for e in range(len(test))]
    metrics.to_csv(path.parent / "metrics.csv", index=False)
    return path


@pytest.fixture
def bwn_runs(tmp_path: Path) -> list[Path]:
    """fp (regime fp), ste and stompp BWNs on ResNet-18/34, two seeds; a BNN run and an unfinished
    seed that must not be drawn or counted; a requested run nobody ran."""
    paths = []
    for arch in ("resnet18", "resnet34"):
        for seed, shift in ((0, 0.0), (1, 4.0)):
            for variant, regime, start in (("fp", "fp", 80.0), ("ste", "bwn", 50.0), ("stompp", "bwn", 60.0)):
                curve = [start + shift, start + 10 + shift]
                paths.append(curve_run(tmp_path, curve, arch=arch, variant=variant, regime=regime, seed=seed))
    paths.append(curve_run(tmp_path, [11.0, 12.0], variant="ste", regime="bnn"))
    paths.append(write_run(tmp_path, 99.0, [99.0, 99.0], variant="ste", regime="bwn", seed=7, finished=False))
    paths.append(run_dir(tmp_path, arch="resnet50", variant="ste", regime="bwn") / "result.json")
    return paths


# --------------------------------------------------------------------------- the summary


def seeds_frame(values: dict[int, list[float]], metric: str = "test_acc") -> pd.DataFrame:
    """Per-seed curves of one cell (ste, bnn, ResNet-18): ``values[seed]`` per epoch."""
    rows = [
        {"dataset": "digits", "arch": "resnet18", "regime": "bnn", "variant": "ste", "ordering": "none"}
        | {"recipe": "mini", "seed": seed, "epoch": epoch, metric: value}
        for seed, curve in values.items()
        for epoch, value in enumerate(curve, start=1)
    ]
    return pd.DataFrame(rows)


def test_summary_is_mean_std_interval_and_band_per_cell_epoch_and_metric() -> None:
    data = seeds_frame({0: [40.0, 60.0], 1: [50.0, 62.0], 2: [45.0, 64.0]})
    summary = curves.summarize(data, ["test_acc"])
    assert list(summary.columns) == curves.SUMMARY_COLUMNS
    first = summary[summary["epoch"] == 1].iloc[0]
    assert (first["metric"], first["n"], first["mean"], first["std"]) == ("test_acc", 3, 45.0, 5.0)
    half = 4.302652729911275 * 5.0 / math.sqrt(3)  # t_{0.975, 2} s / sqrt(n)
    assert first["ci_low"] == pytest.approx(45.0 - half) and first["ci_high"] == pytest.approx(45.0 + half)
    assert (first["band"], first["band_low"], first["band_high"]) == (curves.MIN_MAX, 40.0, 50.0)
    t_band = curves.summarize(data, ["test_acc"], band=curves.T_INTERVAL).iloc[0]
    assert (t_band["band_low"], t_band["band_high"]) == (first["ci_low"], first["ci_high"])


def test_a_seed_without_the_metric_is_not_counted_and_a_metric_nobody_recorded_has_no_rows() -> None:
    data = seeds_frame({0: [40.0, 60.0], 1: [50.0, float("nan")]})
    data["ops_left"] = float("nan")
    summary = curves.summarize(data, ["test_acc", "ops_left"])
    assert set(summary["metric"]) == {"test_acc"}
    assert summary.set_index("epoch")["n"].to_dict() == {1: 2, 2: 1}
    last = summary[summary["epoch"] == 2].iloc[0]
    assert (last["mean"], last["band_low"], last["band_high"]) == (60.0, 60.0, 60.0)
    assert math.isnan(last["std"]) and math.isnan(last["ci_low"])
    assert curves.summarize(data.iloc[0:0], ["test_acc"]).empty


def test_a_spec_refuses_unknown_metrics_bands_and_groups_that_miss_variants() -> None:
    with pytest.raises(UserError, match="unknown curve metric 'accuracy'"):
        CurveSpec(title="t", metrics=("accuracy",), variants=("ste",))
    with pytest.raises(ValueError, match="band"):
        CurveSpec(title="t", metrics=("test_acc",), variants=("ste",), band="std")
    with pytest.raises(ValueError, match="partition"):
        CurveSpec(title="t", metrics=("test_acc",), variants=("ste", "stompp"), groups=(("a", ("ste",)),))
    spec = CurveSpec(title="t", metrics=("train_acc", "ops_left"), variants=("ste",))
    assert spec.columns == ("test_acc", "train_acc", "ops_left")
    assert spec.required == ("test_acc", "train_acc")


# --------------------------------------------------------------------------- reading the runs


def test_read_curves_reads_the_finished_runs_and_leaves_unrecorded_metrics_nan(bwn_runs: list[Path]) -> None:
    runs = aggregate.read_runs(bwn_runs)
    data = aggregate.read_curves(runs, ["test_acc", "train_acc", "ops_left"], required=["test_acc"])
    assert list(data.columns) == aggregate.curve_columns(["test_acc", "train_acc", "ops_left"])
    assert len(data) == 13 * 2 and 7 not in set(data["seed"])  # 13 finished runs x 2 epochs
    assert data["ops_left"].isna().all()
    with pytest.raises(UserError, match="lacks the columns"):
        aggregate.read_curves(runs, ["ops_left"], required=["ops_left"])


# --------------------------------------------------------------------------- the figures


def test_curves_bwn_writes_per_seed_data_and_the_summary_it_draws(
    tmp_path: Path, bwn_runs: list[Path]
) -> None:
    out = tmp_path / "results" / "fig_curves_bwn"
    build_figure("curves_bwn", bwn_runs, out, tmp_path / "paper")
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "paper" / "fig_curves_bwn.pdf").is_file()
    data = pd.read_csv(out.parent / "curves_bwn.csv")
    assert {"seed", "epoch", "test_acc", "test_acc_as_trained", "train_acc"} <= set(data.columns)
    summary = pd.read_csv(out.parent / "curves_bwn_summary.csv", keep_default_na=False, na_values=[""])
    cells = set(summary[["arch", "regime", "variant", "ordering"]].itertuples(index=False, name=None))
    assert cells == {
        (arch, regime, variant, ordering)
        for arch in ("resnet18", "resnet34")
        for regime, variant, ordering in (
            ("fp", "fp", "none"),
            ("bwn", "ste", "none"),
            ("bwn", "stompp", "forward"),
        )
    } | {("resnet18", "bnn", "ste", "none")}
    assert set(summary["metric"]) == {"test_acc_as_trained", "train_acc"}
    one = summary[
        (summary["arch"] == "resnet34") & (summary["variant"] == "stompp") & (summary["epoch"] == 2)
    ].set_index("metric")
    assert one.loc["test_acc_as_trained", ["n", "mean", "band_low", "band_high"]].tolist() == [
        2,
        72.0,
        70.0,
        74.0,
    ]
    assert one.loc["train_acc", "mean"] == 77.0 and (one["recipe"] == "mini").all()


def test_curves_bwn_draws_a_row_per_arch_a_column_per_metric_and_the_fp_line(bwn_runs: list[Path]) -> None:
    definition = outputs.figure("curves_bwn")
    fig = definition.draw(definition.read(aggregate.read_runs(bwn_runs)), None)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["digits / resnet18 (bwn)"] * 2 + [
        "digits / resnet34 (bwn)"
    ] * 2
    assert [ax.get_ylabel() for ax in axes[:2]] == ["test accuracy as trained (%)", "train accuracy (%)"]
    assert all(ax.get_xlabel() == "epoch" for ax in axes)
    first = axes[0]
    means = {line.get_label(): line for line in first.lines}
    assert list(means) == [
        "fp (mean, min-max band, n=2)",
        "ste (mean, min-max band, n=2)",
        "stompp (mean, min-max band, n=2)",
    ]  # no bnn run, no unfinished seed, no per-seed lines
    fp = means["fp (mean, min-max band, n=2)"]
    assert (fp.get_color(), fp.get_linestyle(), list(fp.get_ydata())) == ("black", "--", [82.0, 92.0])
    # one legend per row, right of its last panel (outside the data)
    assert first.get_legend() is None
    legend = axes[1].get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > axes[1].get_window_extent().x1
    assert "min-max over seeds" in fig.get_suptitle() and "recipe mini" in fig.get_suptitle()


def test_curves_bireal_puts_from_scratch_and_fine_tuned_in_their_own_columns(tmp_path: Path) -> None:
    paths = [curve_run(tmp_path, [80.0, 90.0], arch="bireal18", variant="fp")]
    for variant in ("ste", "stompp", "ste_ft", "stompp_ft"):
        ordering = "forward" if variant.startswith("stompp") else "none"
        paths.append(curve_run(tmp_path, [50.0, 60.0], arch="bireal18", variant=variant, ordering=ordering))
    definition = outputs.figure("curves_bireal")
    fig = definition.draw(definition.read(aggregate.read_runs(paths)), None)
    axes = fig.axes
    assert [ax.get_title().split("\n")[1] for ax in axes] == ["from scratch"] * 2 + ["fine-tuned (FT)"] * 2
    drawn = [[line.get_label().split()[0] for line in ax.lines] for ax in axes]
    assert drawn == [["fp", "ste", "stompp"]] * 2 + [["fp", "ste_ft", "stompp_ft"]] * 2
    labels = [t.get_text().split()[0] for t in axes[-1].get_legend().get_texts()]
    assert labels == ["fp", "ste", "stompp", "ste_ft", "stompp_ft"]


def test_curves_pabt_plots_accuracy_and_operations_left(tmp_path: Path) -> None:
    paths = [
        curve_run(
            tmp_path, [30.0 + seed, 50.0, 60.0], arch="resnet20", variant=variant, recipe="pabt", seed=seed
        )
        for variant in ("pabt", "pabt_random", "pabt_1x1")
        for seed in (0, 1)
    ]
    definition = outputs.figure("curves_pabt")
    data = definition.read(aggregate.read_runs(paths))
    fig = definition.draw(data, None)
    assert [ax.get_ylabel() for ax in fig.axes][-1] == "binary convolutions left per layer"
    ops = fig.axes[-1].lines[0]
    assert list(ops.get_ydata()) == [9.0, 7.0, 5.0]
    summary = definition.summary(data)
    assert set(summary["metric"]) == {"test_acc_as_trained", "test_acc", "ops_left"}
    assert (summary["n"] == 2).all()


def test_every_curves_figure_renders_without_runs(tmp_path: Path) -> None:
    for name in CURVE_NAMES:
        build_figure(name, [run_dir(tmp_path, variant="ste") / "result.json"], tmp_path / f"fig_{name}")
        assert (tmp_path / f"fig_{name}.png").stat().st_size > 0
        assert pd.read_csv(tmp_path / f"{name}_summary.csv").empty


# --------------------------------------------------------------------------- trajectories and S6


def test_the_trajectories_figure_is_a_curves_figure_whose_data_feeds_the_sawtooth_claim(
    tmp_path: Path,
) -> None:
    paths = []
    for seed in (0, 1):
        paths.append(write_run(tmp_path, 63.0, SMOOTH, variant="ste", seed=seed))
        paths.append(write_run(tmp_path, 65.0, SAW, variant="stompp", seed=seed))
    out = tmp_path / "results" / "fig_trajectories"
    build_figure("trajectories", paths, out)
    traj = pd.read_csv(out.parent / "trajectories.csv")
    assert list(traj.columns) == aggregate.curve_columns(aggregate.TRAJECTORY_METRICS)
    summary = pd.read_csv(out.parent / "trajectories_summary.csv")
    assert set(summary["metric"]) == {"test_acc_as_trained"} and (summary["n"] == 2).all()
    parsed, _ = cl.load_claims(CLAIMS_YAML)
    s6 = next(c for c in parsed if c.id == "S6")
    assert verdicts(s6, cl.Tables(trajectories=traj)) == {"digits/resnet18": HOLDS}
