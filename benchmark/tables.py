"""Table builders: pure functions from a tidy runs frame (``aggregate.read_runs``) to the
paper's tables. Accuracies are the fully binary network's test top-1, in percent.

- ``depth_scaling``: one row per dataset x arch x regime x variant (x ordering), with the
  gain over the ``ste`` cell of the same dataset/arch/regime (Welch interval) and the
  paper's reported number where one exists.
- ``ordering``: the variants that have an ordering, per ordering, with the difference to
  the ``forward`` cell of the same dataset/arch/regime/variant (Welch interval).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark import stats
from benchmark.aggregate import CELL_KEYS, cell_summary, check_single_recipe

BASELINE = "ste"
ARCH_ORDER = ("resnet18", "resnet34", "resnet50")
REGIME_ORDER = ("fp", "bnn", "bwn")
VARIANT_ORDER = ("fp", "ste", "stompp", "stompp_ste")
ORDERING_ORDER = ("forward", "reverse", "global", "random", "none")
REPORTED_METRICS = {"gain_over_ste_pp": "gain_over_ste", "top1": "mean"}
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
]


def _rank(order: tuple[str, ...]):
    """Sort key for a column: the listed names first, in order, then the rest alphabetically."""
    position = {name: i for i, name in enumerate(order)}

    def key(column: pd.Series) -> pd.Series:
        return column.map(lambda v: (position.get(v, len(order)), str(v)))

    return key


def sort_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by dataset, arch depth, regime, variant, ordering (orders above)."""
    ranks = {
        "dataset": _rank(()),
        "arch": _rank(ARCH_ORDER),
        "regime": _rank(REGIME_ORDER),
        "variant": _rank(VARIANT_ORDER),
        "ordering": _rank(ORDERING_ORDER),
    }
    if table.empty:
        return table.reset_index(drop=True)
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
    usable = reported[reported["metric"].isin(list(REPORTED_METRICS))]
    usable = usable.rename(columns={"value": "reported", "metric": "reported_metric"})
    usable = usable.drop_duplicates(subset=columns[:4], keep="first")
    return usable[columns].astype({"reported": float})


def depth_scaling(runs: pd.DataFrame, reported: pd.DataFrame | None = None) -> pd.DataFrame:
    """The depth-scaling table (columns DEPTH_COLUMNS); reported numbers are attached to
    the forward-ordering (or ordering-free) cell their metric describes."""
    check_single_recipe(runs, "depth_scaling")
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


def ordering(runs: pd.DataFrame) -> pd.DataFrame:
    """The ordering table (columns ORDERING_COLUMNS) over the variants that have an ordering."""
    check_single_recipe(runs, "ordering")
    cells = cell_summary(runs[runs["ordering"] != "none"])
    forward = cells[cells["ordering"] == "forward"]
    out = _difference_to(cells, forward, ["dataset", "arch", "regime", "variant"], "diff_vs_forward")
    out.loc[out["ordering"] == "forward", ["diff_vs_forward", "diff_ci_low", "diff_ci_high"]] = np.nan
    return sort_cells(out[ORDERING_COLUMNS])


BUILDERS = {"depth_scaling": depth_scaling, "ordering": ordering}
