"""The silent-weights figure (OvSW's Figure 1 in full: histogram, never-flipped share, flip ratio)
and its long-form CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, figures, histogram_panel
from benchmark.reporting import build_figure
from tests.test_tables import LAYERS, flip_curve, run_dir, write_run

EPOCHS = 6
BINS = 4
INITIAL = [1, 3, 4, 2]  # per bin, every layer and run


def write_histogram(result: Path, scale: float, never: list[int]) -> None:
    """A hand-made weight_histogram.csv beside ``result``: both layers of LAYERS with INITIAL
    counts over BINS bins of [-scale, scale], the last layer with ``never`` never flipped."""
    width = 2 * scale / BINS
    rows = [
        {
            "order": order,
            "name": name,
            "bin": k,
            "bin_low": -scale + k * width,
            "bin_high": -scale + (k + 1) * width,
            "initial_count": INITIAL[k],
            "never_flipped_count": never[k] if order == 1 else INITIAL[k],
        }
        for order, name in enumerate(LAYERS)
        for k in range(BINS)
    ]
    pd.DataFrame(rows).to_csv(result.parent / "weight_histogram.csv", index=False)


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    curve = [50.0 + e for e in range(EPOCHS)]
    paths = []
    for seed in range(2):
        kw = {"recipe": "ovsw_ablation", "seed": seed, "curve": curve}
        flips = (40.0 + seed, 54.0 + seed)
        paths.append(write_run(tmp_path, 60.0, variant="ovsw_vanilla", flips=flips, **kw))
        write_histogram(paths[-1], 0.4 + 0.2 * seed, [1, 2, 2, 1 + seed])
        paths.append(write_run(tmp_path, 66.0, variant="ovsw", flips=(3.0, 2.0 + seed), **kw))
        write_histogram(paths[-1], 0.5, [0, 0, 1, 0])
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


def test_read_weight_histograms_and_the_figure_data(runs: list[Path]) -> None:
    frame = aggregate.read_runs(runs)
    hist = aggregate.read_weight_histograms(frame)
    assert list(hist.columns) == aggregate.HISTOGRAM_COLUMNS
    assert len(hist) == 4 * len(LAYERS) * BINS  # the fp run and the unfinished ones have none
    assert set(hist.epoch) == {EPOCHS} and set(hist.layer) == set(LAYERS)
    data = aggregate.read_silent_figure(frame)
    assert list(data.columns) == aggregate.SILENT_FIGURE_COLUMNS
    curves = data[data.scope != aggregate.SCOPE_HISTOGRAM].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        curves[aggregate.SILENT_COLUMNS].astype({"seed": int, "epoch": int}),
        aggregate.read_silent_weights(frame),
    )
    bins = data[data.scope == aggregate.SCOPE_HISTOGRAM]
    assert len(bins) == 4 * BINS and set(bins.layer) == {"layer4.1.conv2"}  # the last binary layer
    vanilla = bins[(bins.variant == "ovsw_vanilla") & (bins.seed == 1)].sort_values("bin")
    assert vanilla.never_flipped_count.tolist() == [1, 2, 2, 2] and vanilla.initial_count.tolist() == INITIAL
    assert vanilla.bin_low.tolist() == pytest.approx([-0.6, -0.3, 0.0, 0.3])


def test_histogram_summary_averages_seeds_bin_by_bin_on_the_relative_axis(runs: list[Path]) -> None:
    data = aggregate.read_silent_figure(aggregate.read_runs(runs))
    summary = histogram_panel.histogram_summary(data)
    assert list(summary.columns) == histogram_panel.SUMMARY_COLUMNS
    vanilla = summary[summary.variant == "ovsw_vanilla"].sort_values("bin")
    assert vanilla.rel_low.tolist() == [-1.0, -0.5, 0.0, 0.5]
    assert vanilla.rel_high.tolist() == [-0.5, 0.0, 0.5, 1.0]
    assert vanilla.n.tolist() == [2] * BINS and vanilla.scale.tolist() == pytest.approx([0.5] * BINS)
    assert vanilla.initial_count.tolist() == INITIAL
    assert vanilla.never_flipped_count.tolist() == [1.0, 2.0, 2.0, 1.5]
    assert histogram_panel.never_share(vanilla) == pytest.approx(65.0)
    assert histogram_panel.never_share(summary[summary.variant == "ovsw"]) == pytest.approx(10.0)


def test_figure_has_histogram_never_flipped_and_flip_ratio_panels(runs: list[Path]) -> None:
    data = aggregate.read_silent_figure(aggregate.read_runs(runs))
    fig = figures.silent_weights_figure(data)
    hist, never, ratio = fig.axes
    for ax in fig.axes:
        assert "digits / resnet18 (bnn, ovsw_ablation)" in ax.get_title()
    assert "initial weights, layer4.1.conv2" in hist.get_title()
    assert "max |w₀| = 0.5" in hist.get_xlabel()
    assert [t.get_text() for t in hist.texts] == [
        "ovsw_vanilla: 65.0% never flipped",
        "ovsw: 10.0% never flipped",
    ]
    assert len(hist.patches) == 4  # per variant: the initial weights shaded, the never-flipped line
    assert "solid: last binary layer (layer4.1.conv2); dashed: all" in never.get_title()
    assert never.get_ylabel() == "weights never flipped (%)" and never.get_xlabel() == "epoch"
    assert ratio.get_ylabel() == "weights flipped per step (%)"
    (legend,) = fig.legends  # one legend for all panels
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [
        "ovsw_vanilla (mean over seeds, min-max band, n=2)",
        "ovsw (mean over seeds, min-max band, n=2)",
        "solid: last binary layer",
        "dashed: all binary layers",
        "histogram, grey: initial weights",
        "histogram, line: never flipped",
    ]
    solid = [line for line in never.lines if line.get_linestyle() == "-"]
    dashed = [line for line in never.lines if line.get_linestyle() == "--"]
    assert len(solid) == len(dashed) == 2
    expected = (pd.Series(flip_curve(54.0, EPOCHS)) + pd.Series(flip_curve(55.0, EPOCHS))) / 2
    assert list(solid[0].get_ydata()) == pytest.approx([100.0, *expected.to_list()])  # from epoch 0
    overall = (pd.Series(flip_curve(40.0, EPOCHS)) + pd.Series(flip_curve(41.0, EPOCHS))) / 2
    assert list(dashed[0].get_ydata()) == pytest.approx([100.0, *overall.to_list()])
    assert len(never.collections) == 4  # one min-max band per variant and scope
    assert [t.get_text() for t in never.texts] == ["54.5%", "2.5%"]  # final means, last layer
    assert len(ratio.lines) == 4 and list(ratio.lines[0].get_xdata()) == list(range(1, EPOCHS + 1))
    assert list(ratio.lines[0].get_ydata()) == [1.0] * EPOCHS  # no point before the first step


def test_runs_without_a_weight_histogram_are_named_in_the_panel(tmp_path: Path, runs: list[Path]) -> None:
    for path in runs:
        if "/ovsw/" in str(path):
            (path.parent / "weight_histogram.csv").unlink(missing_ok=True)
    fig = figures.silent_weights_figure(aggregate.read_silent_figure(aggregate.read_runs(runs)))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["ovsw_vanilla: 65.0% never flipped", "ovsw: no weight_histogram.csv"]
    curves_only = figures.silent_weights_figure(aggregate.read_silent_weights(aggregate.read_runs(runs)))
    assert "no weight histograms recorded" in curves_only.axes[0].texts[-1].get_text()


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
    assert list(data.columns) == aggregate.SILENT_FIGURE_COLUMNS
    assert len(data) == 4 * EPOCHS * 2 + 4 * BINS  # the curves, then the last layer's histograms
    drawn = pd.read_csv(out.parent / "silent_weights_summary.csv")  # the histogram panel as drawn
    assert list(drawn.columns) == histogram_panel.SUMMARY_COLUMNS and len(drawn) == 2 * BINS


def test_figure_without_flip_statistics_still_renders(tmp_path: Path) -> None:
    out = tmp_path / "fig"
    build_figure("silent_weights", [write_run(tmp_path, 90.0, variant="fp")], out)
    assert out.with_suffix(".png").stat().st_size > 0
    assert pd.read_csv(tmp_path / "silent_weights.csv").empty
