"""The trajectories figure and its long-form CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, figures
from benchmark.errors import UserError
from benchmark.reporting import build_figure
from tests.test_tables import run_dir, write_run

SAW = [40.0, 50.0, 45.0, 55.0, 60.0, 52.0, 58.0, 65.0]
SMOOTH = [40.0, 50.0, 55.0, 58.0, 60.0, 61.0, 62.0, 63.0]


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    paths = []
    for arch in ("resnet34", "resnet18"):
        for seed in range(2):
            paths.append(write_run(tmp_path, 63.0, SMOOTH, arch=arch, variant="ste", seed=seed))
            paths.append(write_run(tmp_path, 66.0, SAW, arch=arch, variant="stompp", seed=seed))
    paths.append(write_run(tmp_path, 66.0, SAW, variant="stompp", ordering="reverse"))
    paths.append(write_run(tmp_path, 66.0, SAW, variant="stompp", seed=7, finished=False))
    paths.append(run_dir(tmp_path, arch="resnet50") / "result.json")
    return paths


def test_build_figure_writes_pdf_png_and_trajectories(tmp_path: Path, runs: list[Path]) -> None:
    out = tmp_path / "results" / "fig_trajectories"
    figdir = tmp_path / "paper" / "figures"
    build_figure("trajectories", runs, out, figdir)
    pdf, png = out.with_suffix(".pdf"), out.with_suffix(".png")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000
    assert (figdir / "fig_trajectories.pdf").read_bytes() == pdf.read_bytes()
    assert (figdir / "fig_trajectories.png").read_bytes() == png.read_bytes()
    traj = pd.read_csv(out.parent / "trajectories.csv")
    assert list(traj.columns[:9]) == [
        "dataset",
        "arch",
        "regime",
        "variant",
        "ordering",
        "seed",
        "epoch",
        "test_acc",
        "test_acc_as_trained",
    ]
    # 9 finished runs x 8 epochs; the unfinished seed 7 is not there
    assert len(traj) == 9 * 8 and 7 not in set(traj["seed"])
    assert not list(out.parent.glob(".*tmp"))


def test_figure_has_a_panel_per_depth_with_mean_and_seed_lines(runs: list[Path]) -> None:
    traj = aggregate.read_trajectories(aggregate.read_runs(runs))
    fig = figures.trajectory_figure(traj, variants=["ste", "stompp"])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [
        "digits / resnet18 (bnn)",
        "digits / resnet34 (bnn)",
    ]
    ax = visible[0]
    assert ax.get_xlabel() == "epoch" and "as trained" in ax.get_ylabel()
    # 2 seeds + mean per variant; the reverse-ordered run is not drawn
    assert len(ax.lines) == 6
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ste (mean, min-max band, n=2)", "stompp (mean, min-max band, n=2)"]
    mean_stompp = [line for line in ax.lines if line.get_label().startswith("stompp")][0]
    assert list(mean_stompp.get_ydata()) == SAW


def test_figure_without_finished_runs_still_renders(tmp_path: Path) -> None:
    out = tmp_path / "fig"
    build_figure("trajectories", [run_dir(tmp_path) / "result.json"], out)
    assert out.with_suffix(".png").stat().st_size > 0
    traj = pd.read_csv(tmp_path / "trajectories.csv")
    assert traj.empty and "test_acc_as_trained" in traj.columns


def test_unknown_figure_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="trajectories"):
        build_figure("loss", [], tmp_path / "fig")
