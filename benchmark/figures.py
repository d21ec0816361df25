"""Figures from long-form per-epoch data (``aggregate.read_trajectories``,
``aggregate.read_silent_weights``).

``trajectory_figure``: test accuracy as trained per epoch, one panel per dataset x arch
(depth), one colour per variant: the mean over seeds as a solid line, the min-max band
over seeds shaded, each seed as a faint line.

``silent_weights_figure`` (OvSW's Figure 1 idea): the share of binary weights whose sign has
never flipped since training began, per epoch, one row of panels per recipe x dataset x
arch: over all binary layers (left) and in the last binary layer (right, OvSW's
``layer4.conv2``); one colour per variant, the mean over seeds as a line with its min-max
band, the final mean written at the end of each line.

Both are drawn on the Agg canvas (no display needed); saving is left to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmark.aggregate import SCOPE_ALL, SCOPE_LAST
from benchmark.tables import sort_cells

DEFAULT_VARIANTS = ("ste", "stompp")
SILENT_VARIANTS = ("ovsw_vanilla", "ovsw")  # OvSW Fig. 1: vanilla (AGS and SAD off) vs OvSW
VALUE = "test_acc_as_trained"
PANEL_SIZE = (4.6, 3.4)
MAX_COLUMNS = 3


def select(
    traj: pd.DataFrame, variants: Sequence[str], regime: str, orderings: Sequence[str]
) -> pd.DataFrame:
    """The trajectories to draw: the given variants and regime, in the given orderings."""
    keep = (
        traj["variant"].isin(list(variants))
        & (traj["regime"] == regime)
        & traj["ordering"].isin(list(orderings))
    )
    return traj[keep]


def panels(traj: pd.DataFrame) -> list[tuple[str, str]]:
    """(dataset, arch) panels, datasets alphabetically, archs by depth."""
    cells = traj[["dataset", "arch"]].drop_duplicates()
    cells = cells.assign(regime="", variant="", ordering="")
    return [(d, a) for d, a in sort_cells(cells)[["dataset", "arch"]].itertuples(index=False)]


def draw_variant(ax, curves: pd.DataFrame, label: str, color: str) -> None:
    """Mean over seeds, min-max band, and faint per-seed lines of one variant on one panel."""
    wide = curves.pivot_table(index="epoch", columns="seed", values=VALUE, aggfunc="mean")
    for seed in wide.columns:
        ax.plot(wide.index, wide[seed], color=color, alpha=0.25, linewidth=0.8)
    ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=color, alpha=0.15)
    ax.plot(wide.index, wide.mean(axis=1), color=color, linewidth=1.8, label=label)


def _label(variant: str, n_seeds: int) -> str:
    return f"{variant} (mean, min-max band, n={n_seeds})"


def trajectory_figure(
    traj: pd.DataFrame,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    regime: str = "bnn",
    orderings: Sequence[str] = ("forward", "none"),
) -> Figure:
    """The trajectories figure (see the module docstring); a note when there is no data."""
    data = select(traj, variants, regime, orderings)
    cells = panels(data) or [("", "")]
    ncols = min(len(cells), MAX_COLUMNS)
    nrows = -(-len(cells) // ncols)
    fig = Figure(figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = {v: f"C{i}" for i, v in enumerate(variants)}
    for ax, (dataset, arch) in zip(axes, cells, strict=False):
        cell = data[(data["dataset"] == dataset) & (data["arch"] == arch)]
        for variant in variants:
            curves = cell[cell["variant"] == variant]
            if not curves.empty:
                label = _label(variant, curves["seed"].nunique())
                draw_variant(ax, curves, label, colors[variant])
        ax.set_title(f"{dataset} / {arch} ({regime})" if dataset else "no finished runs")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy as trained (%)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", loc="lower right")
        ax.grid(alpha=0.3)
    for ax in axes[len(cells) :]:
        ax.set_visible(False)
    return fig


def silent_panels(data: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(recipe, dataset, arch) rows of the silent-weights figure, in table order."""
    cells = data[["recipe", "dataset", "arch"]].drop_duplicates()
    cells = cells.assign(regime="", variant="", ordering="")
    return [tuple(r) for r in sort_cells(cells)[["recipe", "dataset", "arch"]].itertuples(index=False)]


END_LABEL_GAP = 7.0  # minimum vertical distance (percentage points) between end labels


def draw_share(ax, curves: pd.DataFrame, label: str, color: str) -> tuple[float, float]:
    """Mean over seeds with its min-max band; every curve starts at 100% before the first step
    (epoch 0: nothing has flipped yet). Returns the end point (last epoch, final mean)."""
    wide = curves.pivot_table(index="epoch", columns="seed", values="never_flipped", aggfunc="mean")
    if 0 not in wide.index:
        wide.loc[0] = 100.0
        wide = wide.sort_index()
    mean = wide.mean(axis=1)
    ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=color, alpha=0.2, linewidth=0)
    ax.plot(wide.index, mean, color=color, linewidth=2.0, label=label)
    return float(wide.index[-1]), float(mean.iloc[-1])


def spread_labels(values: Sequence[float], gap: float = END_LABEL_GAP, top: float = 100.0) -> list[float]:
    """Label heights near ``values`` (same order) at least ``gap`` apart and at most ``top``."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [0.0] * len(values)
    previous = -float("inf")
    for i in order:
        placed[i] = max(values[i], previous + gap)
        previous = placed[i]
    overflow = max(placed, default=0.0) - top
    return [y - max(overflow, 0.0) for y in placed]


def label_ends(ax, ends: Sequence[tuple[float, float, str]]) -> None:
    """The final mean of each curve, written just right of its end, without overlaps."""
    heights = spread_labels([y for _, y, _ in ends])
    for (x, y, color), height in zip(ends, heights, strict=True):
        ax.annotate(
            f"{y:.1f}%",
            (x, height),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            color=color,
            annotation_clip=False,
        )


def silent_weights_figure(
    data: pd.DataFrame, variants: Sequence[str] = SILENT_VARIANTS, regime: str = "bnn"
) -> Figure:
    """The silent-weights figure (see the module docstring); a note when there is no data.
    One legend for all panels, below them."""
    data = data[data["variant"].isin(list(variants)) & (data["regime"] == regime)]
    rows = silent_panels(data) or [("", "", "")]
    fig = Figure(figsize=(2 * PANEL_SIZE[0] + 0.6, PANEL_SIZE[1] * len(rows) + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 2, squeeze=False)
    colors = {v: f"C{i}" for i, v in enumerate(variants)}
    legend: dict[str, object] = {}
    for (recipe, dataset, arch), pair in zip(rows, axes, strict=True):
        cell = data[(data["recipe"] == recipe) & (data["dataset"] == dataset) & (data["arch"] == arch)]
        for ax, scope in zip(pair, (SCOPE_ALL, SCOPE_LAST), strict=True):
            part = cell[cell["scope"] == scope]
            ends = []
            for variant in variants:
                curves = part[part["variant"] == variant]
                if not curves.empty:
                    label = f"{variant} (mean over seeds, min-max band, n={curves['seed'].nunique()})"
                    ends.append((*draw_share(ax, curves, label, colors[variant]), colors[variant]))
            label_ends(ax, ends)
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                legend.setdefault(label, handle)
            layers = sorted(set(part["layer"].dropna().astype(str)) - {""})
            where = f"{scope} ({', '.join(layers)})" if layers else scope
            title = f"{dataset} / {arch} ({regime}, {recipe})\n{where}" if dataset else "no flip statistics"
            ax.set_title(title, fontsize="medium")
            ax.set_xlabel("epoch")
            ax.set_ylabel("weights never flipped (%)")
            ax.set_ylim(0, 105)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.margins(x=0.14)
            ax.grid(alpha=0.3)
    if legend:
        fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=2, fontsize="small")
    return fig
