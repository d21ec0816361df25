"""The silent-weights figure (OvSW's Figure 1 idea) and its long-form CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, figures
from benchmark.reporting import build_figure
from tests.test_tables import flip_curve, run_dir, write_run

EPOCHS = 6


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    curve = [50.0 + e for e in range(EPOCHS)]
    paths = []
    for seed in range(2):
        kw = {"recipe": "ovsw_ablation", "seed": seed, "curve": curve}
        flips = (40.0 + seed, 54.0 + seed)
        paths.append(write_run(tmp_path, 60.0, variant="ovsw_vanilla", flips=flips, **kw))
        paths.append(write_run(tmp_path, 66.0, variant="ovsw", flips=(3.0, 2.0 + seed), **kw))
    paths.append(write_run(tmp_path, 90.0, variant="fp", recipe="ovsw_ablation", curve=curve))  # no flips
    paths.append(write_run(tmp_path, 66.0, variant="ovsw", recipe="ovsw_ablation", seed=5, finished=False))
    paths.append(run_dir(tmp_path, variant="ovsw_vanilla", recipe="ovsw_ablation", seed=9) / "result.json")
    return paths


def test_read_silent_weights_long_form(runs: list[Path]) -> None:
    data = aggregate.read_silent_weights(aggregate.read_runs(runs))
    assert list(data.columns) == aggregate.SILENT_COLUMNS
    # 4 finished runs with flips x 6 epochs x (all, last layer); fp and unfinished runs are absent
    assert len(data) == 4 * EPOCHS * 2
    assert set(data.variant) == {"ovsw_vanilla", "ovsw"} and set(data.seed) == {0, 1}
    last = data[(data.scope == aggregate.SCOPE_LAST) & (data.variant == "ovsw_vanilla") & (data.seed == 1)]
    assert set(last.layer) == {"layer4.1.conv2"}
    assert last.sort_values("epoch").never_flipped.to_list() == pytest.approx(flip_curve(55.0, EPOCHS))


def test_figure_has_all_and_last_layer_panels_with_mean_and_band(runs: list[Path]) -> None:
    data = aggregate.read_silent_weights(aggregate.read_runs(runs))
    fig = figures.silent_weights_figure(data)
    left, right = fig.axes
    assert (
        "all binary layers" in left.get_title()
        and "digits / resnet18 (bnn, ovsw_ablation)" in left.get_title()
    )
    assert "last binary layer (layer4.1.conv2)" in right.get_title()
    assert left.get_ylabel() == "weights never flipped (%)" and left.get_xlabel() == "epoch"
    (legend,) = fig.legends  # one legend for all panels
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [
        "ovsw_vanilla (mean over seeds, min-max band, n=2)",
        "ovsw (mean over seeds, min-max band, n=2)",
    ]
    mean_vanilla = [line for line in right.lines if line.get_label().startswith("ovsw_vanilla")][0]
    expected = (pd.Series(flip_curve(54.0, EPOCHS)) + pd.Series(flip_curve(55.0, EPOCHS))) / 2
    assert list(mean_vanilla.get_ydata()) == pytest.approx([100.0, *expected.to_list()])  # from epoch 0
    assert len(right.collections) == 2  # one min-max band per variant
    assert [t.get_text() for t in right.texts] == ["54.5%", "2.5%"]  # final means


def test_end_labels_keep_apart() -> None:
    assert figures.spread_labels([95.7, 93.9]) == pytest.approx([100.0, 93.0])
    assert figures.spread_labels([54.0, 2.0]) == [54.0, 2.0]
    assert figures.spread_labels([10.0, 11.0, 12.0]) == pytest.approx([10.0, 17.0, 24.0])


def test_build_figure_writes_pdf_png_csv_and_paper_copies(tmp_path: Path, runs: list[Path]) -> None:
    out = tmp_path / "results" / "fig_silent_weights"
    figdir = tmp_path / "paper" / "figures"
    build_figure("silent_weights", runs, out, figdir)
    for suffix, magic in ((".pdf", b"%PDF"), (".png", b"\x89PNG")):
        made = out.with_suffix(suffix)
        assert made.read_bytes().startswith(magic) and made.stat().st_size > 1000
        assert (figdir / made.name).read_bytes() == made.read_bytes()
    data = pd.read_csv(out.parent / "silent_weights.csv")
    assert len(data) == 4 * EPOCHS * 2


def test_figure_without_flip_statistics_still_renders(tmp_path: Path) -> None:
    out = tmp_path / "fig"
    build_figure("silent_weights", [write_run(tmp_path, 90.0, variant="fp")], out)
    assert out.with_suffix(".png").stat().st_size > 0
    assert pd.read_csv(tmp_path / "silent_weights.csv").empty
