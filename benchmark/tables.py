"""Table builders: pure functions from a tidy runs frame (``aggregate.read_runs``) to the
paper's tables. Accuracies are the fully binary network's test top-1, in percent.

- ``depth_scaling``: one row per dataset x arch x regime x variant (x ordering), with the
  gain over the ``ste`` cell of the same dataset/arch/regime (Welch interval) and the
  paper's reported number where one exists.
- ``ordering``: the variants that have an ordering, per ordering, with the difference to
  the ``forward`` cell of the same dataset/arch/regime/variant (Welch interval); a variant
  without one (the ``random_features`` control) once, without a difference.
- ``hybrids``: the StoMPP paper's BNN hybrids (appendix B.2: ``hybrid``, StoMPP masks on
  activations with STE weights; ``reverse_hybrid``, StoMPP masks on weights with STE
  activations) next to ``stompp`` and ``ste`` per depth: the depth-scaling cells and gain over
  ``ste``, plus the difference to the ``stompp`` cell of the same dataset/arch/regime/ordering.
- ``peers``: every method under one matched recipe, with the difference to ``ste`` (Welch
  interval), the mean training speed (steps per second, from ``result.json``) and the share
  of binary weights that never flipped sign.
- ``peer_table`` (``ovsw``, ``bop``, ``pabt``): the peers' own tables under their own recipes;
  cells are keyed by recipe too (a table may join a main table and an ablation under different
  recipes), with the difference to the paper's baseline of the same recipe/dataset/arch/regime
  (``ovsw_vanilla`` for OvSW's vanilla BNN, ``ste`` for Bop's latent-weight Adam, the directly
  trained 1/1 network ``pabt_1x1`` for PaBT) and the papers' reported top-1 and never-flipped share.

Every table ends with the same columns (EXTRA_COLUMNS, from ``aggregate.cell_summary``): the
best epoch's test accuracy (``best_mean``, ``best_std``, ``best_ci_low``, ``best_ci_high``: mean,
sample std and 95% t-interval over seeds of each run's highest per-epoch test accuracy;
optimistic, never used by a verdict) and the cell's accounting (``bops``, ``flops``, ``ops`` =
FLOPs + BOPs/64, ``size_bits``; ``benchmark.accounting``), NaN where a cell has no finished run or
its runs were recorded before the accounting existed.

Which builder makes which table, with which baseline, is each table's definition
(``benchmark.outputs``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark import stats
from benchmark.aggregate import (
    CELL_KEYS,
    EXTRA_CELL_COLUMNS,
    cell_summary,
    check_recipe_per_dataset,
    check_single_recipe,
)

BASELINE = "ste"
ARCH_ORDER = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet18_imagenet",
    "resnet34_imagenet",
    "resnet50_imagenet",
    "resnet18_clip",
    "resnet20",
    "vgg_small",
    "binarynet",
    "mobilenetv2",
    "bireal18",
    "bireal34",
    "bert_tiny",
    "bert_base",
)
REGIME_ORDER = ("fp", "bnn", "bwn")
VARIANT_ORDER = (
    "fp",
    "ste",
    "stompp",
    "stompp_ste",
    "ste_ft",
    "stompp_ft",
    "hybrid",
    "reverse_hybrid",
    "ovsw_vanilla",
    "ovsw_ags",
    "ovsw_sad",
    "ovsw",
    "bop",
    "pabt_3x3",  # PaBT Table 2's order: the unpruned 3/3 network, the 1/1 rows, then PaBT
    "mbn_alpha_beta_adam",
    "mbn_gamma_adam",
    "pabt_1x1",
    "pabt_random",
    "pabt",
)
ORDERING_ORDER = ("forward", "reverse", "global", "random", "none")
# metric of paper/reported -> the (estimate, interval low, interval high) columns reproducing it
TOP1 = ("mean", "ci_low", "ci_high")
DEPTH_METRICS = {"top1": TOP1, "gain_over_ste_pp": ("gain_over_ste", "gain_ci_low", "gain_ci_high")}
PEER_METRICS = {
    "top1": TOP1,
    "never_flipped_last_pct": (
        "never_flipped_last",
        "never_flipped_last_ci_low",
        "never_flipped_last_ci_high",
    ),
}
FLIP_STATS = ("never_flipped", "never_flipped_last")
PEER_KEYS = ["recipe", *CELL_KEYS]
# the last columns of every table: best-epoch accuracy (optimistic) and accounting
EXTRA_COLUMNS = list(EXTRA_CELL_COLUMNS)
PEER_COLUMNS = [
    *PEER_KEYS,
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "baseline",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "steps_per_second",
    "never_flipped",
    "never_flipped_ci_low",
    "never_flipped_ci_high",
    "never_flipped_last",
    "never_flipped_last_ci_low",
    "never_flipped_last_ci_high",
    "last_layer",
    "reported",
    "reported_never_flipped_last",
    "n_diverged",
    "n_missing",
    "chance_acc",
    *EXTRA_COLUMNS,
]
# metric of paper/reported -> the peer-table column it reproduces
PEER_REPORTED = {"top1": "reported", "never_flipped_last_pct": "reported_never_flipped_last"}
STAT_COLUMNS = ["recipe", "n", "mean", "std", "ci_low", "ci_high"]
DEPTH_COLUMNS = [
    *CELL_KEYS,
    *STAT_COLUMNS,
    "gain_over_ste",
    "gain_ci_low",
    "gain_ci_high",
    "reported",
    "reported_metric",
    "n_diverged",
    "n_missing",
    "chance_acc",
    *EXTRA_COLUMNS,
]
# the hybrids table (StoMPP appendix B.2): the depth-scaling cells, gain over STE and Δ vs StoMPP
HYBRID_REFERENCE = "stompp"
HYBRIDS_COLUMNS = [
    *CELL_KEYS,
    *STAT_COLUMNS,
    "gain_over_ste",
    "gain_ci_low",
    "gain_ci_high",
    "diff_vs_stompp",
    "diff_ci_low",
    "diff_ci_high",
    "n_diverged",
    "n_missing",
    "chance_acc",
    *EXTRA_COLUMNS,
]
ORDERING_COLUMNS = [
    *CELL_KEYS,
    *STAT_COLUMNS,
    "chance_acc",
    "diff_vs_forward",
    "diff_ci_low",
    "diff_ci_high",
    "n_diverged",
    "n_missing",
    *EXTRA_COLUMNS,
]


def _rank(order: tuple[str, ...]):
    """Sort key for a column: the listed names first, in order, then the rest alphabetically."""
    position = {name: i for i, name in enumerate(order)}

    def key(column: pd.Series) -> pd.Series:
        return column.map(lambda v: (position.get(v, len(order)), str(v)))

    return key


def sort_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by recipe (where present), dataset, arch, regime, variant, ordering (orders above)."""
    ranks = {
        "recipe": _rank(()),
        "dataset": _rank(()),
        "arch": _rank(ARCH_ORDER),
        "regime": _rank(REGIME_ORDER),
        "variant": _rank(VARIANT_ORDER),
        "ordering": _rank(ORDERING_ORDER),
    }
    if table.empty:
        return table.reset_index(drop=True)
    ranks = {c: f for c, f in ranks.items() if c in table.columns}
    keyed = table.assign(**{f"_k_{c}": f(table[c]) for c, f in ranks.items()})
    order = [f"_k_{c}" for c in ranks]
    return keyed.sort_values(order, kind="stable").drop(columns=order).reset_index(drop=True)


def _difference_to(cells: pd.DataFrame, reference: pd.DataFrame, on: list[str], prefix: str) -> pd.DataFrame:
    """Welch difference of each cell to its reference cell (matched on ``on``)."""
    ref = reference[[*on, "n", "mean", "std"]].rename(
        columns={"n": "ref_n", "mean": "ref_mean", "std": "ref_std"}
    )
    merged = cells.merge(ref, on=on, how="left")
    diffs = [
        stats.welch(r.mean, r.std, int(r.n), r.ref_mean, r.ref_std, _int(r.ref_n))
        for r in merged.itertuples(index=False)
    ]
    out = cells.copy()
    out[prefix] = [d.estimate for d in diffs]
    short = prefix.split("_", 1)[0]
    out[f"{short}_ci_low"] = [d.ci_low for d in diffs]
    out[f"{short}_ci_high"] = [d.ci_high for d in diffs]
    return out


def _int(value: float) -> int:
    return 0 if value != value else int(value)  # NaN: no reference cell


def reported_lookup(reported: pd.DataFrame | None) -> pd.DataFrame:
    """The reported numbers a depth-scaling cell can carry: (dataset, arch, regime, variant)
    -> value, metric; only the metrics the table reproduces (top-1 and gain over STE)."""
    columns = ["dataset", "arch", "regime", "variant", "reported", "reported_metric"]
    if reported is None or reported.empty:
        return pd.DataFrame(columns=columns)
    if "variant" not in reported:
        reported = reported.assign(variant=reported["method"])
    usable = reported[reported["metric"].isin(list(DEPTH_METRICS))]
    usable = usable.rename(columns={"value": "reported", "metric": "reported_metric"})
    usable = usable.drop_duplicates(subset=columns[:4], keep="first")
    return usable[columns].astype({"reported": float})


def depth_scaling(runs: pd.DataFrame, reported: pd.DataFrame | None = None) -> pd.DataFrame:
    """The depth-scaling table (columns DEPTH_COLUMNS); reported numbers are attached to
    the forward-ordering (or ordering-free) cell their metric describes."""
    check_recipe_per_dataset(runs, "depth_scaling")
    cells = cell_summary(runs)
    ste = cells[cells["variant"] == BASELINE]
    out = _difference_to(cells, ste, ["dataset", "arch", "regime"], "gain_over_ste")
    no_gain = out["variant"].isin([BASELINE, "fp"]) | (out["regime"] == "fp")
    out.loc[no_gain, ["gain_over_ste", "gain_ci_low", "gain_ci_high"]] = np.nan
    lookup = reported_lookup(reported)
    out = out.merge(lookup, on=["dataset", "arch", "regime", "variant"], how="left")
    out.loc[~out["ordering"].isin(["forward", "none"]), ["reported", "reported_metric"]] = None
    out["reported"] = out["reported"].astype(float)
    return sort_cells(out[DEPTH_COLUMNS])


def hybrids(runs: pd.DataFrame) -> pd.DataFrame:
    """The hybrids table (columns HYBRIDS_COLUMNS) of the StoMPP paper's appendix B.2 ("StoMPP
    BNN Hybrids"): each cell of ``depth_scaling`` (top-1 and the Welch gain over the ``ste`` cell
    of the same dataset/arch/regime), plus ``diff_vs_stompp``, the Welch difference to the
    ``stompp`` cell of the same dataset/arch/regime/ordering (NaN for ``stompp`` itself and for
    cells without an ordering: ``ste``, ``fp``). The paper reports no number for the hybrids, so
    the table carries none."""
    check_recipe_per_dataset(runs, "hybrids")
    cells = depth_scaling(runs)
    reference = cells[cells["variant"] == HYBRID_REFERENCE]
    on = ["dataset", "arch", "regime", "ordering"]
    out = _difference_to(cells, reference, on, "diff_vs_stompp")
    out.loc[out["variant"] == HYBRID_REFERENCE, ["diff_vs_stompp", "diff_ci_low", "diff_ci_high"]] = np.nan
    return sort_cells(out[HYBRIDS_COLUMNS])


def ordering(runs: pd.DataFrame) -> pd.DataFrame:
    """The ordering table (columns ORDERING_COLUMNS): the variants that have an ordering, per
    ordering, and the variants without one once (ordering ``none``: a control such as
    ``random_features``, which claim S2's laptop form reads), whose Δ vs forward is NaN."""
    check_recipe_per_dataset(runs, "ordering")
    cells = cell_summary(runs)
    forward = cells[cells["ordering"] == "forward"]
    out = _difference_to(cells, forward, ["dataset", "arch", "regime", "variant"], "diff_vs_forward")
    out.loc[out["ordering"] == "forward", ["diff_vs_forward", "diff_ci_low", "diff_ci_high"]] = np.nan
    return sort_cells(out[ORDERING_COLUMNS])


def flip_summary(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per cell: mean and t-interval of the final never-flipped shares (all binary weights,
    last binary layer) over the runs that finished ``ok``, the last layer's name, and the
    mean steps per second over every finished run."""
    done = runs[runs["complete"]]
    rows = []
    for key, cell in done.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key, strict=True))
        row["steps_per_second"] = float(cell["steps_per_second"].mean())
        ok = cell[cell["status"] == "ok"]
        for column in FLIP_STATS:
            values = ok[column].dropna() if column in ok else pd.Series(dtype=float)
            summary = stats.summarize(values.to_list())
            row |= {column: summary.mean, f"{column}_ci_low": summary.ci_low}
            row[f"{column}_ci_high"] = summary.ci_high
        names = ok["last_layer"].dropna() if "last_layer" in ok else pd.Series(dtype=str)
        row["last_layer"] = str(names.iloc[0]) if len(names) else None
        rows.append(row)
    columns = [*keys, "steps_per_second"]
    columns += [f"{c}{suffix}" for c in FLIP_STATS for suffix in ("", "_ci_low", "_ci_high")]
    return pd.DataFrame(rows, columns=[*columns, "last_layer"])


def peer_reported(reported: pd.DataFrame | None) -> pd.DataFrame:
    """Reported values a peer-table cell carries: one row per (recipe, dataset, arch, regime,
    variant) with a column per PEER_REPORTED metric; ``recipe`` empty where the paper's row
    names no recipe (it then matches any recipe)."""
    keys = PEER_KEYS[:-1]
    columns = [*keys, *PEER_REPORTED.values()]
    if reported is None or reported.empty:
        return pd.DataFrame(columns=columns)
    reported = reported.assign(
        variant=reported["variant"] if "variant" in reported else reported["method"],
        recipe=reported["recipe"].fillna("") if "recipe" in reported else "",
    )
    usable = reported[reported["metric"].isin(list(PEER_REPORTED))].astype({"value": float})
    if usable.empty:
        return pd.DataFrame(columns=columns)
    wide = usable.pivot_table(index=keys, columns="metric", values="value", aggfunc="first")
    wide = wide.rename(columns=PEER_REPORTED).reset_index()
    for column in PEER_REPORTED.values():
        if column not in wide:
            wide[column] = np.nan
    return wide[columns]


def _attach_reported(cells: pd.DataFrame, reported: pd.DataFrame | None) -> pd.DataFrame:
    """Reported values matched on recipe (or any recipe) and dataset/arch/regime/variant."""
    lookup = peer_reported(reported)
    on = ["dataset", "arch", "regime", "variant"]
    exact = cells.merge(lookup[lookup["recipe"] != ""], on=["recipe", *on], how="left")
    loose = cells.merge(lookup[lookup["recipe"] == ""].drop(columns="recipe"), on=on, how="left")
    out = cells.copy()
    for column in PEER_REPORTED.values():
        out[column] = exact[column].astype(float).fillna(loose[column].astype(float)).to_numpy()
    ordered = out["ordering"].isin(["forward", "none"])
    out.loc[~ordered, list(PEER_REPORTED.values())] = np.nan
    return out


def peer_table(
    runs: pd.DataFrame, reported: pd.DataFrame | None = None, baseline: str = BASELINE
) -> pd.DataFrame:
    """A peer table (columns PEER_COLUMNS): cells keyed by recipe too, the Welch difference to
    the ``baseline`` cell of the same recipe/dataset/arch/regime, speed and flip statistics
    (needs the columns of ``aggregate.with_flip_metrics``), and reported values."""
    for column in ("steps_per_second", *FLIP_STATS, "last_layer"):
        if column not in runs:
            runs = runs.assign(**{column: np.nan})
    cells = cell_summary(runs, keys=PEER_KEYS)
    base = cells[cells["variant"] == baseline]
    out = _difference_to(cells, base, ["recipe", "dataset", "arch", "regime"], "diff")
    out.loc[out["variant"] == baseline, ["diff", "diff_ci_low", "diff_ci_high"]] = np.nan
    out["baseline"] = baseline
    out = out.merge(flip_summary(runs, PEER_KEYS), on=PEER_KEYS, how="left")
    out = _attach_reported(out, reported)
    return sort_cells(out[PEER_COLUMNS])


def peers(runs: pd.DataFrame, reported: pd.DataFrame | None = None, baseline: str = BASELINE) -> pd.DataFrame:
    """The peers table: every method under one matched recipe (refuses mixed recipes)."""
    check_single_recipe(runs, "peers")
    return peer_table(runs, reported, baseline)
