r"""The histogram panel of the silent-weights figure (OvSW, Xiang et al., seed 001, Fig. 1a-b):
the initial latent weights of the last binary layer and, inside them, those whose sign never
flipped during training, one colour per variant.

Data: the figure's rows of scope ``aggregate.SCOPE_HISTOGRAM`` (each run's
``weight_histogram.csv``, last binary layer; ``methods.weight_histogram``). A run's bins split
:math:`[-m, m]` evenly, :math:`m = \max |w_0|` of that run's layer, so bin :math:`k` of
:math:`B` covers the same relative range :math:`[-1 + 2k/B, -1 + 2(k+1)/B)` of :math:`w_0/m` in
every run; :func:`histogram_summary` averages the counts over seeds bin by bin on that relative
axis (exact, no re-binning) and reports the mean :math:`m`. The never-flipped share written in
the panel is :math:`100 \sum_k \overline{\text{never}}_k / \sum_k \overline{\text{initial}}_k`
(OvSW's "54.07% ... the ratio of the orange area to the blue"), which for one seed equals the
last layer's final ``never_flipped`` of ``layers.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.axes import Axes

from benchmark.aggregate import SCOPE_HISTOGRAM

KEYS = ["recipe", "dataset", "arch", "regime", "variant", "layer"]
SUMMARY_COLUMNS = [*KEYS, "bin", "rel_low", "rel_high", "n", "scale", "initial_count", "never_flipped_count"]
HEADROOM = 1.45  # y limit over the tallest bar: room for the shares written at the top
NO_HISTOGRAM = "no weight_histogram.csv"
INITIAL_SHADE = "0.45"  # grey of the initial weights' histogram


def histogram_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The histogram rows of the figure's data (none when it has no bin columns)."""
    if "bin" not in data or "scope" not in data:
        return data.iloc[0:0].reindex(columns=[*KEYS, "seed", "bin", "bin_low", "bin_high"])
    return data[data["scope"] == SCOPE_HISTOGRAM]


def histogram_summary(data: pd.DataFrame) -> pd.DataFrame:
    """What the histogram panels draw (SUMMARY_COLUMNS): per (recipe, dataset, arch, regime,
    variant, layer) and bin, the bin's range in units of :math:`m` (``rel_low``, ``rel_high``),
    the number of seeds ``n``, the mean :math:`m` over them (``scale``) and the mean counts of
    initial and never-flipped weights."""
    rows = histogram_rows(data)
    if rows.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    rows = rows.astype({"bin": int, "initial_count": float, "never_flipped_count": float})
    run = [*KEYS, "seed"]
    n_bins = rows.groupby(run)["bin"].transform("max") + 1
    scale = rows.assign(edge=rows[["bin_low", "bin_high"]].abs().max(axis=1)).groupby(run)["edge"]
    rows = rows.assign(
        rel_low=-1.0 + 2.0 * rows["bin"] / n_bins,
        rel_high=-1.0 + 2.0 * (rows["bin"] + 1) / n_bins,
        scale=scale.transform("max"),
    )
    out = rows.groupby([*KEYS, "bin"], sort=True).agg(
        rel_low=("rel_low", "first"),
        rel_high=("rel_high", "first"),
        n=("seed", "nunique"),
        scale=("scale", "mean"),
        initial_count=("initial_count", "mean"),
        never_flipped_count=("never_flipped_count", "mean"),
    )
    return out.reset_index()[SUMMARY_COLUMNS]


def never_share(hist: pd.DataFrame) -> float:
    """Percent of the (mean) initial weights that never flipped: the orange over the blue area."""
    total = float(hist["initial_count"].sum())
    return 100.0 * float(hist["never_flipped_count"].sum()) / total if total > 0 else float("nan")


def draw_histogram(
    ax: Axes,
    summary: pd.DataFrame,
    variants: Sequence[str],
    colors: Mapping[str, str],
    missing: Sequence[str] = (),
) -> str:
    """One histogram panel: per variant the initial weights shaded grey (the variants' initial
    weights coincide when they share seeds and architecture: the shades then stack) and the
    never-flipped ones as a step line in the variant's colour, each line a little thinner than
    the one before so that coinciding lines stay visible; the share of each written at the top
    left, and a note naming the ``missing`` variants (runs without ``weight_histogram.csv``).
    Returns the layer drawn."""
    notes: list[tuple[str, str]] = []
    tallest, layers, scales = 0.0, [], []
    for i, variant in enumerate(variants):
        hist = summary[summary["variant"] == variant].sort_values("bin")
        if hist.empty:
            continue
        edges = [*hist["rel_low"], float(hist["rel_high"].iloc[-1])]
        color = colors[variant]
        ax.stairs(hist["initial_count"], edges, color=INITIAL_SHADE, fill=True, alpha=0.3, linewidth=0)
        ax.stairs(hist["never_flipped_count"], edges, color=color, linewidth=max(2.2 - 0.6 * i, 1.0))
        tallest = max(tallest, float(hist["initial_count"].max()))
        layers.append(str(hist["layer"].iloc[0]))
        scales.append(float(hist["scale"].mean()))
        notes.append((f"{variant}: {never_share(hist):.1f}% never flipped", color))
    notes += [(f"{v}: {NO_HISTOGRAM}", "dimgray") for v in missing]
    for j, (text, color) in enumerate(notes):
        ax.text(0.03, 0.97 - 0.09 * j, text, transform=ax.transAxes, va="top", fontsize="small", color=color)
    if tallest > 0:
        ax.set_ylim(0, tallest * HEADROOM)
    else:
        note = "no weight histograms recorded\n(runs from before weight_histogram.csv)"
        ax.text(
            0.5,
            0.45,
            note,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize="small",
            color="dimgray",
        )
    ax.set_xlim(-1.0, 1.0)
    scale = f" (max |w₀| = {sum(scales) / len(scales):.3g})" if scales else ""
    ax.set_xlabel(f"initial latent weight / max |w₀|{scale}")
    ax.set_ylabel("weights per bin (mean over seeds)")
    return layers[0] if layers else ""
