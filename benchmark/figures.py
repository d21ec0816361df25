"""Figures from long-form trajectories (``aggregate.read_trajectories``).

``trajectory_figure``: test accuracy as trained per epoch, one panel per dataset x arch
(depth), one colour per variant: the mean over seeds as a solid line, the min-max band
over seeds shaded, each seed as a faint line. Drawn on the Agg canvas (no display needed);
saving is left to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmark.tables import ARCH_ORDER, sort_cells

DEFAULT_VARIANTS = ("ste", "stompp")
VALUE = "test_acc_as_trained"
PANEL_SIZE = (4.6, 3.4)


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
    ncols = min(len(cells), max(len(ARCH_ORDER), 1))
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
