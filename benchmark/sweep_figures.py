"""Drawing a sweep (``benchmark.sweeps``) and rendering its table.

One row of panels per (dataset, arch, regime) of the data, one panel column per line panel and
one per (heatmap panel, series):

- a line panel plots the mean final top-1 of each series against its axis with ±1 sample std
  error bars over seeds (OvSW Fig. 3's "mean ± std"), categorical values evenly spaced, numbers
  at their values; a reference series is a dashed horizontal line with its ±std band;
- a heatmap panel shows the mean over seeds of every (x, y) point, written in its square with
  its std and n (StoMPP Fig. 2a and Fig. 14), one colour scale per figure row so squares compare.

Drawn on the Agg canvas; saving is left to the caller.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmark import render
from benchmark.sweeps import CELL, Panel, SweepSpec

PANEL_SIZE = (4.6, 3.6)


def columns(spec: SweepSpec) -> list[tuple[Panel, str | None]]:
    """The panel columns: (panel, None) for a line panel, (panel, series) per heatmap series."""
    out: list[tuple[Panel, str | None]] = []
    for panel in spec.panels:
        out += [(panel, s.label) for s in panel.series] if panel.y is not None else [(panel, None)]
    return out


def sweep_figure(summary: pd.DataFrame, spec: SweepSpec) -> Figure:
    """The figure of a sweep's table (``sweeps.summarize``); a panel without runs says so."""
    cells = summary[CELL].drop_duplicates().itertuples(index=False) if not summary.empty else []
    rows = [tuple(c) for c in cells] or [("", "", "")]
    cols = columns(spec)
    fig = Figure(figsize=(PANEL_SIZE[0] * len(cols), PANEL_SIZE[1] * len(rows) + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(len(rows), len(cols), squeeze=False))
    for i, cell in enumerate(rows):
        in_cell = summary[(summary[CELL] == pd.Series(cell, index=CELL)).all(axis=1)] if cells else summary
        scale = _color_scale(in_cell)
        for j, (panel, series) in enumerate(cols):
            ax = axes[i][j]
            part = in_cell[in_cell["panel"] == panel.title] if not in_cell.empty else in_cell
            where = "/".join(str(c) for c in cell if c)
            title = panel.title + (f": {series}" if series else "") + (f"\n{where}" if where else "")
            ax.set_title(title, fontsize=10)
            if part.empty:
                ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
            elif series is None:
                draw_lines(ax, part, panel)
            else:
                draw_heatmap(ax, part[part["series"] == series], panel, scale)
    fig.suptitle(spec.title, fontsize=12)
    return fig


def draw_lines(ax: Axes, part: pd.DataFrame, panel: Panel) -> None:
    """Each series as mean ± std against ``panel.x``; references as dashed lines with a band."""
    xs = panel.x.sort(part.loc[~part["reference"].astype(bool), "x"].to_list() or part["x"].to_list())
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
    position = (lambda x: float(x)) if numeric else (lambda x: float(xs.index(x)))
    for k, series in enumerate(panel.series):
        rows = part[(part["series"] == series.label) & ~part["reference"].astype(bool)]
        rows = rows.assign(pos=[position(x) for x in rows["x"]]).sort_values("pos")
        ax.errorbar(
            rows["pos"],
            rows["mean"],
            yerr=rows["std"].fillna(0.0),
            marker="o",
            capsize=3,
            color=f"C{k}",
            label=f"{series.label} (mean ± std, {seeds_label(rows['n'])})",
        )
    for k, series in enumerate(panel.references, start=len(panel.series)):
        rows = part[(part["series"] == series.label) & part["reference"].astype(bool)]
        if rows.empty:
            continue
        mean, std, n = (
            float(rows["mean"].iloc[0]),
            float(rows["std"].fillna(0.0).iloc[0]),
            int(rows["n"].iloc[0]),
        )
        ax.axhline(mean, color=f"C{k}", linestyle="--", label=f"{series.label} (mean ± std, n={n})")
        ax.axhspan(mean - std, mean + std, color=f"C{k}", alpha=0.12, linewidth=0)
    if not numeric:
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_xlabel(panel.x.label)
    ax.set_ylabel("final top-1 test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def draw_heatmap(ax: Axes, part: pd.DataFrame, panel: Panel, scale: tuple[float, float]) -> None:
    """The (x, y) grid of one series: the mean in colour and as text with its std and n."""
    assert panel.y is not None
    xs, ys = panel.x.sort(part["x"].to_list()), panel.y.sort(part["y"].to_list())
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in part.itertuples(index=False):
        i, j = ys.index(row.y), xs.index(row.x)
        grid[i, j] = row.mean
        std = "" if not _finite(row.std) else f"\n± {row.std:.1f}"
        dark = _finite(row.mean) and (row.mean - scale[0]) < 0.55 * (scale[1] - scale[0])
        ax.text(
            j,
            i,
            f"{row.mean:.1f}{std}\nn={row.n}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )
    image = ax.imshow(grid, cmap="viridis", vmin=scale[0], vmax=scale[1], aspect="auto", origin="lower")
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set_xlabel(panel.x.label)
    ax.set_ylabel(panel.y.label)
    ax.figure.colorbar(image, ax=ax, label="final top-1 (%), mean over seeds", shrink=0.85)


def seeds_label(n: pd.Series) -> str:
    """``n=3``, or ``n=2-5`` where the points have different numbers of seeds."""
    low, high = (int(n.min()), int(n.max())) if not n.empty else (0, 0)
    return f"n={low}" if low == high else f"n={low}-{high}"


def _color_scale(summary: pd.DataFrame) -> tuple[float, float]:
    values = summary["mean"].astype(float).dropna() if not summary.empty else pd.Series(dtype=float)
    if values.empty:
        return (0.0, 100.0)
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low - 1.0, high + 1.0)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def display(summary: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """The sweep's table as strings: panel, cell, series, the point ("axis = value"), top-1 mean ±
    std with its 95% t-interval, n and the recipes the point's runs trained with."""
    axes = {p.title: p for p in spec.panels}
    rows = []
    for row in summary.itertuples(index=False):
        panel = axes[row.panel]
        point = f"{panel.x.label} = {row.x}" + (f", {panel.y.label} = {row.y}" if panel.y else "")
        series = f"{row.series} (reference)" if row.reference else row.series
        top1 = render.fmt_mean_std(pd.Series({"n": row.n, "mean": row.mean, "std": row.std}))
        rows.append(
            [
                row.panel,
                row.dataset,
                row.arch,
                row.regime,
                series,
                point,
                top1,
                render.fmt_interval(row.ci_low, row.ci_high),
                str(row.n),
                row.recipes,
            ]
        )
    headers = ["Panel", "Dataset", "Arch", "Regime", "Series", "Point", "Top-1 (%)", "95% CI", "n", "Recipe"]
    return pd.DataFrame(rows, columns=headers)
