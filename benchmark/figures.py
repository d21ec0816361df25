"""Figures from long-form per-epoch data (``aggregate.read_curves``,
``aggregate.read_silent_figure``).

``curves_figure`` draws any :class:`benchmark.curves.CurveSpec`: one row of panels per
(recipe, dataset, arch, regime) of the data, one panel column per metric (and per group of
variants, e.g. from scratch and fine-tuned); epoch on x, the metric on y; one colour per variant,
the mean over seeds as a solid line with its band shaded (min-max over seeds or the 95%
t-interval of the mean, named in the legend and the title), optionally every seed as a faint
line, and the full-precision run as a dashed black line. Each row's legend stands right of its
last panel, outside the data. Runs evaluated every N steps too (``benchmark.evals``: the fine
rows of the data) add each seed's finer curve of accuracy as trained as a thin line.
``trajectory_figure`` is the trajectories spec (StoMPP Fig. 2b-d): test accuracy as trained,
STE vs StoMPP, with the seeds' lines.

``silent_weights_figure`` (OvSW's Figure 1 in full; data ``aggregate.read_silent_figure``): one
row of three panels per recipe x dataset x arch, one colour per variant. Left (Fig. 1a-b):
the histogram of the last binary layer's (OvSW's ``layer4.conv2``) initial latent weights,
shaded grey, and of those whose sign never flipped, a step line per variant, with the
never-flipped share written in the panel (``benchmark.histogram_panel``). Middle: the share of
binary weights whose sign has never flipped since training began, per epoch; right (Fig. 1c's
dashed curves): the flip ratio, percent of weights flipped per step, per epoch; both in the last
binary layer (solid) and over all binary layers (dashed), the mean over seeds as a line with its
min-max band, the last layer's final never-flipped mean written at the end of its line.

All are drawn on the Agg canvas (no display needed); saving is left to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from benchmark import curves, evals, histogram_panel
from benchmark.aggregate import SCOPE_ALL, SCOPE_LAST
from benchmark.curves import CurveSpec
from benchmark.identity import FP_REGIME
from benchmark.tables import sort_cells

DEFAULT_VARIANTS = ("ste", "stompp")
SILENT_VARIANTS = ("ovsw_vanilla", "ovsw")  # OvSW Fig. 1: vanilla (AGS and SAD off) vs OvSW
PANEL_SIZE = (4.6, 3.4)
LEGEND_WIDTH = 2.8  # inches right of a row of curves panels for its legend
FP_STYLE = {"color": "black", "linestyle": "--"}
# one colour per variant in every curves figure (PaBT's as in its Fig. 2: importance blue,
# random red, direct 1/1 green); a variant not listed takes the next colour of the cycle
VARIANT_COLORS = {
    "ste": "C0",
    "stompp": "C1",
    "hybrid": "C2",
    "reverse_hybrid": "C3",
    "stompp_ste": "C4",
    "ste_ft": "C9",
    "stompp_ft": "C5",
    "pabt": "C0",
    "pabt_random": "C3",
    "pabt_1x1": "C2",
}
TRAJECTORIES = CurveSpec(
    title="Test accuracy as trained per epoch, STE vs StoMPP (StoMPP Fig. 2b-d)",
    metrics=("test_acc_as_trained",),
    variants=DEFAULT_VARIANTS,
    seed_lines=True,
)
Row = tuple[str, str, str, str]  # recipe, dataset, arch, regime


def select(data: pd.DataFrame, spec: CurveSpec, variants: Sequence[str]) -> pd.DataFrame:
    """The curves to draw: ``variants`` in the spec's regimes and orderings, and the spec's
    full-precision variant (regime ``fp``)."""
    binary = data["variant"].isin(list(variants)) & data["regime"].isin(list(spec.regimes))
    fp = (data["variant"] == spec.fp) & (data["regime"] == FP_REGIME)
    return data[(binary | fp) & data["ordering"].isin(list(spec.orderings))]


def panel_rows(data: pd.DataFrame) -> list[Row]:
    """(recipe, dataset, arch, regime) rows in table order; a full-precision run makes a row
    only where no binary run of its dataset and arch is drawn."""
    binary = data[data["regime"] != FP_REGIME]
    source = binary if not binary.empty else data
    keys = ["recipe", "dataset", "arch", "regime"]
    cells = source[keys].drop_duplicates().assign(variant="", ordering="")
    return [tuple(r) for r in sort_cells(cells)[keys].itertuples(index=False)]


def variant_colors(variants: Sequence[str]) -> dict[str, str]:
    """The colour of each variant: :data:`VARIANT_COLORS`, else an unused colour of the cycle."""
    colors = {v: VARIANT_COLORS[v] for v in variants if v in VARIANT_COLORS}
    free = [f"C{i}" for i in range(10) if f"C{i}" not in colors.values()] or ["C7"]
    for i, variant in enumerate(v for v in variants if v not in colors):
        colors[variant] = free[i % len(free)]
    return colors


def line_width(position: int) -> float:
    """Each line a little thinner than the one drawn before it, so that curves which coincide
    (e.g. the same pruning schedule) all stay visible."""
    return max(2.6 - 0.4 * position, 1.0)


def band_label(variant: str, n_seeds: int, band: str) -> str:
    short = "min-max band" if band == curves.MIN_MAX else "95% t-interval"
    return f"{variant} (mean, {short}, n={n_seeds})"


def draw_curve(
    ax: Axes, seeds: pd.DataFrame, summary: pd.DataFrame, label: str, style: dict, seed_lines: bool
) -> None:
    """One variant on one panel: its seeds' faint lines (if asked), its band, its mean."""
    if seed_lines:
        wide = seeds.pivot_table(index="epoch", columns="seed", values="value", aggfunc="mean")
        for seed in wide.columns:
            ax.plot(wide.index, wide[seed], color=style["color"], alpha=0.25, linewidth=0.8)
    summary = summary.sort_values("epoch")
    band = (summary["epoch"], summary["band_low"], summary["band_high"])
    ax.fill_between(*band, color=style["color"], alpha=0.15, linewidth=0)
    ax.plot(summary["epoch"], summary["mean"], label=label, **style)


def draw_panel(
    ax: Axes, seeds: pd.DataFrame, summary: pd.DataFrame, variants: Sequence[str], spec: CurveSpec
) -> None:
    """Every variant (and the full-precision line) of one panel; ``seeds``: the panel's per-seed
    values (column ``value``), ``summary``: their summary rows."""
    colors = variant_colors(spec.variants)
    drawn = [spec.fp] if spec.fp else []
    for i, variant in enumerate([*drawn, *variants]):
        rows = summary[summary["variant"] == variant]
        if rows.empty:
            continue
        style = FP_STYLE if variant == spec.fp else {"color": colors.get(variant, "C7")}
        style = style | {"linewidth": line_width(i)}
        label = band_label(variant, int(rows["n"].max()), spec.band)
        draw_curve(ax, seeds[seeds["variant"] == variant], rows, label, style, spec.seed_lines)


def draw_fine(ax: Axes, rows: pd.DataFrame, variants: Sequence[str], spec: CurveSpec) -> None:
    """Each seed's accuracy as trained evaluated every N steps (``benchmark.evals``): a thin
    line in its variant's colour."""
    colors = variant_colors(spec.variants)
    for variant in variants:
        part = rows[rows["variant"] == variant]
        for i, (_, run) in enumerate(part.sort_values("epoch").groupby("seed", sort=True)):
            label = f"{variant}, {evals.describe(part)}" if i == 0 else "_nolegend_"
            style = {"color": colors.get(variant, "C7"), "linewidth": 0.6, "alpha": 0.7}
            ax.plot(run["epoch"], run[evals.METRIC], label=label, **style)


def _cell(frame: pd.DataFrame, row: Row, metric: str) -> pd.DataFrame:
    """The rows of ``frame`` for panel row ``row`` and ``metric``: its regime's runs and the
    full-precision runs of the same recipe, dataset and arch."""
    recipe, dataset, arch, regime = row
    keep = (frame["recipe"] == recipe) & (frame["dataset"] == dataset) & (frame["arch"] == arch)
    keep &= frame["regime"].isin([regime, FP_REGIME]) & (frame["metric"] == metric)
    return frame[keep]


def curves_figure(data: pd.DataFrame, spec: CurveSpec, variants: Sequence[str] | None = None) -> Figure:
    """The curves figure of ``spec`` (see the module docstring) from per-seed curves ``data``
    (``aggregate.read_curves``); ``variants``: draw these instead of the spec's (one group).
    A note instead of panels when there is no data."""
    groups = spec.panel_groups(variants)
    finer = select(evals.fine(data), spec, [v for _, group in groups for v in group])
    drawn = select(evals.per_epoch(data), spec, [v for _, group in groups for v in group])
    summary = curves.summarize(drawn, spec.metrics, spec.band)
    ids = [*curves.CELL, "seed", "epoch"]
    seeds = drawn.melt(id_vars=ids, value_vars=list(spec.metrics), var_name="metric")
    rows = panel_rows(drawn) or [("", "", "", "")]
    columns = [(title, group, metric) for title, group in groups for metric in spec.metrics]
    size = (PANEL_SIZE[0] * len(columns) + LEGEND_WIDTH, PANEL_SIZE[1] * len(rows) + 0.6)
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for row, row_axes in zip(rows, axes, strict=True):
        for ax, (title, group, metric) in zip(row_axes, columns, strict=True):
            draw_panel(ax, _cell(seeds, row, metric), _cell(summary, row, metric), group, spec)
            if metric == evals.METRIC and not finer.empty:
                draw_fine(ax, _cell(finer.assign(metric=metric), row, metric), group, spec)
            label_panel(ax, row, title, metric)
        row_legend(row_axes)
    recipes = ", ".join(sorted({r[0] for r in rows} - {""})) or "none"
    note = f"recipe {recipes}; line: mean over seeds, shaded: {spec.band}"
    note += "; thin: each seed every N steps" if not finer.empty else ""
    fig.suptitle(f"{spec.title}\n{note}", fontsize="medium")
    return fig


def label_panel(ax: Axes, row: Row, group: str, metric: str) -> None:
    """Title (cell, and the group of variants if any), axis labels and grid of one panel."""
    _, dataset, arch, regime = row
    title = f"{dataset} / {arch} ({regime})" if dataset else "no finished runs"
    ax.set_title(f"{title}\n{group}" if group else title, fontsize="medium")
    ax.set_xlabel("epoch")
    ax.set_ylabel(curves.metric(metric).label)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)


def row_legend(row_axes: Sequence[Axes]) -> None:
    """One legend per row of panels, right of its last panel (outside the data), with every
    variant drawn in the row."""
    legend: dict[str, object] = {}
    for ax in row_axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    if legend:
        row_axes[-1].legend(
            list(legend.values()),
            list(legend),
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0.0,
            fontsize="small",
        )


def trajectory_figure(traj: pd.DataFrame, variants: Sequence[str] = DEFAULT_VARIANTS) -> Figure:
    """The trajectories figure: :data:`TRAJECTORIES` with ``variants``."""
    return curves_figure(traj, TRAJECTORIES, variants)


def silent_panels(data: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(recipe, dataset, arch) rows of the silent-weights figure, in table order."""
    cells = data[["recipe", "dataset", "arch"]].drop_duplicates()
    cells = cells.assign(regime="", variant="", ordering="")
    return [tuple(r) for r in sort_cells(cells)[["recipe", "dataset", "arch"]].itertuples(index=False)]


END_LABEL_GAP = 7.0  # minimum vertical distance (percentage points) between end labels


def draw_share(
    ax: Axes,
    curves: pd.DataFrame,
    label: str,
    color: str,
    value: str = "never_flipped",
    start: float | None = 100.0,
    linestyle: str = "-",
) -> tuple[float, float] | None:
    """Mean over seeds of ``value`` per epoch with its min-max band; with ``start``, every curve
    starts there before the first step (epoch 0: nothing has flipped yet, 100%). Returns the end
    point (last epoch, final mean); None when no run records ``value``."""
    wide = curves.astype({"epoch": int, "seed": int}).pivot_table(
        index="epoch", columns="seed", values=value, aggfunc="mean"
    )
    if wide.empty:
        return None
    if start is not None and 0 not in wide.index:
        wide.loc[0] = start
        wide = wide.sort_index()
    mean = wide.mean(axis=1)
    solid = linestyle == "-"
    band = {"color": color, "alpha": 0.2 if solid else 0.1, "linewidth": 0}
    ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), **band)
    ax.plot(wide.index, mean, color=color, linewidth=2.0 if solid else 1.3, linestyle=linestyle, label=label)
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


SILENT_SCOPES = ((SCOPE_LAST, "-"), (SCOPE_ALL, "--"))  # line style of each scope of the curves
SILENT_CURVES = (("never_flipped", 100.0), ("flip_ratio", None))  # the curve panels: value, start


def silent_weights_figure(
    data: pd.DataFrame, variants: Sequence[str] = SILENT_VARIANTS, regime: str = "bnn"
) -> Figure:
    """The silent-weights figure (see the module docstring) from ``aggregate.read_silent_figure``
    (or curves only, ``aggregate.read_silent_weights``: the histogram panels then say so); a note
    when there is no data. One legend for all panels, below them."""
    data = data[data["variant"].isin(list(variants)) & (data["regime"] == regime)]
    rows = silent_panels(data) or [("", "", "")]
    hist = histogram_panel.histogram_summary(data)
    fig = Figure(figsize=(3 * PANEL_SIZE[0] + 0.6, PANEL_SIZE[1] * len(rows) + 1.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 3, squeeze=False)
    colors = {v: f"C{i}" for i, v in enumerate(variants)}
    legend: dict[str, object] = {}
    for (recipe, dataset, arch), (ax_hist, *ax_curves) in zip(rows, axes, strict=True):
        cell = data[(data["recipe"] == recipe) & (data["dataset"] == dataset) & (data["arch"] == arch)]
        where = f"{dataset} / {arch} ({regime}, {recipe})" if dataset else "no flip statistics"
        cell_hist = hist[(hist["recipe"] == recipe) & (hist["dataset"] == dataset) & (hist["arch"] == arch)]
        flipped = cell[cell["scope"].isin([SCOPE_ALL, SCOPE_LAST])]
        missing = [
            v for v in variants if (flipped["variant"] == v).any() and not (cell_hist["variant"] == v).any()
        ]
        layer = histogram_panel.draw_histogram(ax_hist, cell_hist, variants, colors, missing)
        ax_hist.set_title(f"{where}\ninitial weights{f', {layer}' if layer else ''}", fontsize="medium")
        last = sorted(set(flipped.loc[flipped["scope"] == SCOPE_LAST, "layer"].dropna().astype(str)) - {""})
        for ax, (value, start) in zip(ax_curves, SILENT_CURVES, strict=True):
            ends = []
            for scope, linestyle in SILENT_SCOPES:
                for variant in variants:
                    part = flipped[(flipped["scope"] == scope) & (flipped["variant"] == variant)]
                    label = f"{variant} (mean over seeds, min-max band, n={part['seed'].nunique()})"
                    label = label if linestyle == "-" else "_nolegend_"
                    end = draw_share(ax, part, label, colors[variant], value, start, linestyle)
                    if end is not None and start is not None and linestyle == "-":
                        ends.append((*end, colors[variant]))
            label_ends(ax, ends)
            for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
                legend.setdefault(text, handle)
            solid = f"{SCOPE_LAST} ({', '.join(last)})" if last else SCOPE_LAST
            ax.set_title(f"{where}\nsolid: {solid}; dashed: all", fontsize="medium")
            ax.set_xlabel("epoch")
            ax.set_ylabel(curves.metric(value).label)
            ax.set_ylim(*((0, 105) if start is not None else (0, None)))
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.margins(x=0.14)
            ax.grid(alpha=0.3)
    legend |= silent_keys(bool(legend))
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=3, fontsize="small")
    return fig


def silent_keys(curves: bool) -> dict[str, object]:
    """The legend's keys to the line styles (if any curve is drawn) and the histograms' shading."""
    keys: dict[str, object] = {}
    if curves:
        keys[f"solid: {SCOPE_LAST}"] = Line2D([], [], color="black", linewidth=2.0)
        keys[f"dashed: {SCOPE_ALL}"] = Line2D([], [], color="black", linewidth=1.3, linestyle="--")
    keys["histogram, grey: initial weights"] = Patch(facecolor=histogram_panel.INITIAL_SHADE, alpha=0.45)
    keys["histogram, line: never flipped"] = Line2D([], [], color="black", linewidth=1.6)
    return keys
