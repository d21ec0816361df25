"""Qualitative claims as checks over the aggregated tables, judged with the spread in mind.

Each entry of ``paper/claims.yaml`` names a *check* (one function below) and its
parameters; every threshold lives in the YAML, none in this file. A check is evaluated per
scope (a dataset, or a dataset/arch/variant) and returns comparisons ("parts") whose
verdicts come from 95% Welch intervals:

- ``a > b + margin``:  HOLDS when the interval of a - b lies above the margin, FAILS when
  it lies entirely below it, INCONCLUSIVE otherwise (also when an interval is undefined,
  i.e. a cell has a single seed);
- ``|a - b| <= k``:    HOLDS when the interval lies inside [-k, k], FAILS when it lies
  entirely outside, INCONCLUSIVE otherwise;
- a conjunction FAILS if any part fails, HOLDS if all hold, is NOT RUN if any part is
  not run (a cell missing or with n = 0), and INCONCLUSIVE otherwise.

- ``a / b >= r`` (a ratio of two cells' means, for "an order of magnitude"): the ratio's
  interval is bounded conservatively by the two cells' 95% t-intervals,
  [low_a / high_b, high_a / low_b]; HOLDS when its lower end is >= r, FAILS when its upper
  end is < r, INCONCLUSIVE otherwise.

Checks (``check:`` in the YAML):
``gain_grows_with_depth`` (S1), ``collapse`` (S2), ``order_insensitive`` (S3),
``global_freezing`` (S4), ``ranking`` (S5), ``sawtooth`` (S6) on the StoMPP tables;
``silent_weights`` (O1), ``components`` (O2), ``convergence`` (O3), ``at_least`` (B1) and
``beats`` (P1, P2) on the peers' own tables (``table`` names which), scoped per
recipe/dataset/arch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from benchmark import stats
from benchmark.errors import UserError

HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "HOLDS", "FAILS", "INCONCLUSIVE", "NOT RUN"
NAN = float("nan")


# --------------------------------------------------------------------------- verdicts


def greater(low: float, high: float, margin: float = 0.0) -> str:
    """Verdict on "a - b > margin" from the interval [low, high] of a - b."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if low > margin:
        return HOLDS
    return FAILS if high < margin else INCONCLUSIVE


def within(low: float, high: float, k: float) -> str:
    """Verdict on "|a - b| <= k" from the interval [low, high] of a - b."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if -k <= low and high <= k:
        return HOLDS
    return FAILS if high < -k or low > k else INCONCLUSIVE


def conjunction(verdicts: Iterable[str]) -> str:
    """FAILS if any part fails, HOLDS if all hold, NOT RUN if any is not run, else INCONCLUSIVE."""
    verdicts = list(verdicts)
    if FAILS in verdicts:
        return FAILS
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return NOT_RUN if NOT_RUN in verdicts or not verdicts else INCONCLUSIVE


# --------------------------------------------------------------------------- parts and results


@dataclass(frozen=True)
class Part:
    """One comparison inside a claim: its verdict, estimate and interval, and what it said."""

    verdict: str
    text: str
    estimate: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    n: int = 0


@dataclass(frozen=True)
class Outcome:
    """A claim judged in one scope (e.g. ``digits/resnet18``)."""

    scope: str
    parts: list[Part]

    @property
    def verdict(self) -> str:
        return conjunction(p.verdict for p in self.parts)


@dataclass(frozen=True)
class Tables:
    """The aggregated inputs a claim may read; None where the file was not produced."""

    depth_scaling: pd.DataFrame | None = None
    ordering: pd.DataFrame | None = None
    trajectories: pd.DataFrame | None = None
    peers: pd.DataFrame | None = None
    ovsw: pd.DataFrame | None = None
    bop: pd.DataFrame | None = None
    pabt: pd.DataFrame | None = None


TABLE_NAMES = tuple(f.name for f in dataclasses.fields(Tables))


def _label(row: pd.Series) -> str:
    ordering = "" if row["ordering"] == "none" else f"/{row['ordering']}"
    return f"{row['variant']}{ordering}"


def _cell_text(row: pd.Series) -> str:
    std = "" if not math.isfinite(row["std"]) else f" ± {row['std']:.2f}"
    return f"{_label(row)} {row['mean']:.2f}{std} (n={int(row['n'])})"


def _missing(what: str) -> Part:
    return Part(NOT_RUN, f"NOT RUN: no finished run for {what}")


def _interval_text(c: stats.Contrast) -> str:
    if not math.isfinite(c.ci_low):
        return f"{c.estimate:+.2f} [interval undefined: a cell has n<2]"
    return f"{c.estimate:+.2f} [{c.ci_low:.2f}, {c.ci_high:.2f}]"


def compare_greater(a: pd.Series | None, b: pd.Series | None, margin: float, what: str) -> Part:
    """Part for "a > b + margin" between two table cells (rows with n, mean, std)."""
    for row in (a, b):
        if row is None or row["n"] == 0:
            return _missing(what if row is None else f"{what} ({_label(row)})")
    c = stats.welch(a["mean"], a["std"], int(a["n"]), b["mean"], b["std"], int(b["n"]))
    verdict = greater(c.ci_low, c.ci_high, margin)
    text = f"{_cell_text(a)} - {_cell_text(b)} = {_interval_text(c)} vs > {margin:g}: {verdict}"
    n = min(int(a["n"]), int(b["n"]))
    return Part(verdict, text, c.estimate, c.ci_low, c.ci_high, n)


def compare_within(a: pd.Series | None, b: pd.Series | None, k: float, what: str) -> Part:
    """Part for "|a - b| <= k" between two table cells."""
    for row in (a, b):
        if row is None or row["n"] == 0:
            return _missing(what if row is None else f"{what} ({_label(row)})")
    c = stats.welch(a["mean"], a["std"], int(a["n"]), b["mean"], b["std"], int(b["n"]))
    verdict = within(c.ci_low, c.ci_high, k)
    text = f"{_cell_text(a)} - {_cell_text(b)} = {_interval_text(c)} vs within ±{k:g}: {verdict}"
    n = min(int(a["n"]), int(b["n"]))
    return Part(verdict, text, c.estimate, c.ci_low, c.ci_high, n)


def near_value(a: pd.Series | None, value: float, k: float, what: str) -> Part:
    """Part for "the mean of cell a lies within k of value" (one-sample t-interval)."""
    if a is None or a["n"] == 0 or not math.isfinite(value):
        return _missing(what)
    c = stats.Contrast(a["mean"] - value, a["ci_low"] - value, a["ci_high"] - value, NAN)
    verdict = within(c.ci_low, c.ci_high, k)
    text = f"{_cell_text(a)} - chance {value:.2f} = {_interval_text(c)} vs within ±{k:g}: {verdict}"
    return Part(verdict, text, c.estimate, c.ci_low, c.ci_high, int(a["n"]))


# --------------------------------------------------------------------------- table lookups


def find_cell(
    table: pd.DataFrame, dataset: str, arch: str, regime: str, variant: str, ordering: str
) -> pd.Series | None:
    """The table row of one cell; ``ordering`` also matches ``none`` (variants without one)."""
    match = table[
        (table["dataset"] == dataset)
        & (table["arch"] == arch)
        & (table["regime"] == regime)
        & (table["variant"] == variant)
        & table["ordering"].isin([ordering, "none"])
    ]
    return None if match.empty else match.iloc[0]


def scopes(table: pd.DataFrame, columns: list[str], **where: object) -> list[tuple]:
    """Distinct values of ``columns`` (in table order) among rows matching ``where``
    (a list value matches any of its items)."""
    mask = pd.Series(True, index=table.index)
    for column, value in where.items():
        values = value if isinstance(value, list | tuple) else [value]
        mask &= table[column].isin(list(values))
    rows = table.loc[mask, columns].drop_duplicates()
    return [tuple(r) for r in rows.itertuples(index=False)]


def _no_table(name: str) -> list[Outcome]:
    return [Outcome("all", [Part(NOT_RUN, f"NOT RUN: {name} was not produced")])]


def _no_cells(what: str) -> list[Outcome]:
    return [Outcome("all", [Part(NOT_RUN, f"NOT RUN: the table has no cells for {what}")])]


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class GainGrowsWithDepth:
    """S1: gain(variant over baseline) grows along ``archs`` (shallow to deep), per dataset."""

    regime: str
    variant: str
    ordering: str
    baseline: str
    archs: tuple[str, ...]
    margin_pp: float


def _gain_terms(table: pd.DataFrame, p: GainGrowsWithDepth, dataset: str, arch: str):
    v = find_cell(table, dataset, arch, p.regime, p.variant, p.ordering)
    b = find_cell(table, dataset, arch, p.regime, p.baseline, p.ordering)
    return v, b


def check_gain_grows_with_depth(p: GainGrowsWithDepth, t: Tables) -> list[Outcome]:
    if t.depth_scaling is None:
        return _no_table("table_depth_scaling.csv")
    table = t.depth_scaling
    datasets = scopes(table, ["dataset"], regime=p.regime, variant=[p.variant, p.baseline])
    if not datasets:
        return _no_cells(f"{p.variant} vs {p.baseline} ({p.regime})")
    outcomes = []
    for (dataset,) in datasets:
        parts = [
            _gain_step(table, p, dataset, shallow, deep)
            for shallow, deep in zip(p.archs, p.archs[1:], strict=False)
        ]
        outcomes.append(Outcome(dataset, parts))
    return outcomes


def _gain_step(table: pd.DataFrame, p: GainGrowsWithDepth, dataset: str, shallow: str, deep: str) -> Part:
    """gain(deep) - gain(shallow) > margin, with the four-cell Welch interval."""
    cells = [*_gain_terms(table, p, dataset, deep), *_gain_terms(table, p, dataset, shallow)]
    names = [f"{a}/{v}" for a in (deep, shallow) for v in (p.variant, p.baseline)]
    for cell, name in zip(cells, names, strict=True):
        if cell is None or cell["n"] == 0:
            return _missing(f"{dataset}/{name} ({p.regime})")
    c = stats.contrast(
        (1.0, -1.0, -1.0, 1.0),
        [x["mean"] for x in cells],
        [x["std"] for x in cells],
        [int(x["n"]) for x in cells],
    )
    verdict = greater(c.ci_low, c.ci_high, p.margin_pp)
    g_deep, g_shallow = cells[0]["mean"] - cells[1]["mean"], cells[2]["mean"] - cells[3]["mean"]
    text = (
        f"gain {deep} {g_deep:+.2f} - gain {shallow} {g_shallow:+.2f} = {_interval_text(c)} "
        f"vs > {p.margin_pp:g}: {verdict}"
    )
    return Part(verdict, text, c.estimate, c.ci_low, c.ci_high, min(int(x["n"]) for x in cells))


@dataclass(frozen=True)
class Collapse:
    """S2: ``ordering`` ends within chance_margin_pp of chance and > far_below_pp under
    ``reference``, per dataset/arch/variant."""

    regime: str
    variants: tuple[str, ...]
    ordering: str
    reference: str
    chance_margin_pp: float
    far_below_pp: float


def check_collapse(p: Collapse, t: Tables) -> list[Outcome]:
    if t.ordering is None:
        return _no_table("table_ordering.csv")
    table = t.ordering
    found = scopes(table, ["dataset", "arch", "variant"], regime=p.regime, variant=p.variants)
    if not found:
        return _no_cells(f"{'/'.join(p.variants)} ({p.regime})")
    outcomes = []
    for dataset, arch, variant in found:
        where = f"{dataset}/{arch}/{p.regime}/{variant}"
        bad = find_cell(table, dataset, arch, p.regime, variant, p.ordering)
        ref = find_cell(table, dataset, arch, p.regime, variant, p.reference)
        chance = NAN if bad is None else float(bad["chance_acc"])
        parts = [
            near_value(bad, chance, p.chance_margin_pp, f"{where}/{p.ordering}"),
            compare_greater(ref, bad, p.far_below_pp, f"{where}/{p.reference}"),
        ]
        outcomes.append(Outcome(f"{dataset}/{arch}/{variant}", parts))
    return outcomes


@dataclass(frozen=True)
class OrderInsensitive:
    """S3: ``ordering`` and ``reference`` end within order_tolerance_pp of each other,
    per dataset/arch/variant."""

    regime: str
    variants: tuple[str, ...]
    ordering: str
    reference: str
    order_tolerance_pp: float


def check_order_insensitive(p: OrderInsensitive, t: Tables) -> list[Outcome]:
    if t.ordering is None:
        return _no_table("table_ordering.csv")
    table = t.ordering
    found = scopes(table, ["dataset", "arch", "variant"], regime=p.regime, variant=p.variants)
    if not found:
        return _no_cells(f"{'/'.join(p.variants)} ({p.regime})")
    outcomes = []
    for dataset, arch, variant in found:
        where = f"{dataset}/{arch}/{p.regime}/{variant}"
        a = find_cell(table, dataset, arch, p.regime, variant, p.ordering)
        b = find_cell(table, dataset, arch, p.regime, variant, p.reference)
        what = f"{where} ({p.ordering} vs {p.reference})"
        part = compare_within(a, b, p.order_tolerance_pp, what)
        outcomes.append(Outcome(f"{dataset}/{arch}/{variant}", [part]))
    return outcomes


@dataclass(frozen=True)
class GlobalFreezing:
    """S4: ``ordering`` is > well_below_pp under ``reference`` for ``fails_regime`` and
    within order_tolerance_pp of it for ``works_regime``, per dataset/arch/variant."""

    variants: tuple[str, ...]
    ordering: str
    reference: str
    fails_regime: str
    works_regime: str
    well_below_pp: float
    order_tolerance_pp: float


def check_global_freezing(p: GlobalFreezing, t: Tables) -> list[Outcome]:
    if t.ordering is None:
        return _no_table("table_ordering.csv")
    table = t.ordering
    regimes = [p.fails_regime, p.works_regime]
    found = scopes(table, ["dataset", "arch", "variant"], regime=regimes, variant=p.variants)
    if not found:
        return _no_cells(f"{'/'.join(p.variants)} ({'/'.join(regimes)})")
    outcomes = []
    for dataset, arch, variant in found:

        def cell(regime: str, ordering: str, d=dataset, a=arch, v=variant) -> pd.Series | None:
            return find_cell(table, d, a, regime, v, ordering)

        where = f"{dataset}/{arch}/{{}}/{variant} ({p.ordering} vs {p.reference})"
        parts = [
            compare_greater(
                cell(p.fails_regime, p.reference),
                cell(p.fails_regime, p.ordering),
                p.well_below_pp,
                where.format(p.fails_regime),
            ),
            compare_within(
                cell(p.works_regime, p.ordering),
                cell(p.works_regime, p.reference),
                p.order_tolerance_pp,
                where.format(p.works_regime),
            ),
        ]
        outcomes.append(Outcome(f"{dataset}/{arch}/{variant}", parts))
    return outcomes


@dataclass(frozen=True)
class Ranking:
    """S5: ranking[0] > ranking[1] > ... (each by > margin_pp) on the deepest of ``archs``
    present in the depth-scaling table, per dataset."""

    regime: str
    ordering: str
    ranking: tuple[str, ...]
    archs: tuple[str, ...]
    margin_pp: float


def check_ranking(p: Ranking, t: Tables) -> list[Outcome]:
    if t.depth_scaling is None:
        return _no_table("table_depth_scaling.csv")
    table = t.depth_scaling
    found = scopes(table, ["dataset", "arch"], regime=p.regime, variant=p.ranking, arch=p.archs)
    if not found:
        return _no_cells(f"{'/'.join(p.ranking)} on {'/'.join(p.archs)} ({p.regime})")
    outcomes = []
    for dataset in dict.fromkeys(d for d, _ in found):
        present = {a for d, a in found if d == dataset}
        arch = [a for a in p.archs if a in present][-1]
        cells = [find_cell(table, dataset, arch, p.regime, v, p.ordering) for v in p.ranking]
        parts = [
            compare_greater(better, worse, p.margin_pp, f"{dataset}/{arch}/{p.regime}/{vb} vs {vw}")
            for better, worse, vb, vw in zip(cells, cells[1:], p.ranking, p.ranking[1:], strict=False)
        ]
        outcomes.append(Outcome(f"{dataset}/{arch}", parts))
    return outcomes


@dataclass(frozen=True)
class Sawtooth:
    """S6: during the freezing phase (epoch <= freeze_end x epochs) every ``variant`` seed shows
    >= min_drops recovered drops of > drop_pp in test accuracy as trained; no ``baseline``
    seed does."""

    regime: str
    variant: str
    ordering: str
    baseline: str
    freeze_end: float
    drop_pp: float
    min_drops: int


def count_recovered_drops(epochs: list[int], acc: list[float], last_epoch: float, drop_pp: float) -> int:
    """Number of drops in a per-epoch accuracy curve that start at an epoch <= last_epoch,
    fall by more than drop_pp, and are followed by recovery.

    A drop is a maximal run of consecutive decreasing epochs (so one long descent counts
    once); it falls by (value before the run) - (value at its end), and it recovers when a
    later epoch reaches the value before the run.
    """
    count, i = 0, 1
    while i < len(acc):
        if not (acc[i] < acc[i - 1] and epochs[i] <= last_epoch):
            i += 1
            continue
        j = i
        while j + 1 < len(acc) and acc[j + 1] < acc[j]:
            j += 1
        before = acc[i - 1]
        if before - acc[j] > drop_pp and any(a >= before for a in acc[j + 1 :]):
            count += 1
        i = j + 1
    return count


def drops_per_seed(curves: pd.DataFrame, freeze_end: float, drop_pp: float) -> dict[int, int]:
    """Recovered drops of ``test_acc_as_trained`` per seed of one cell's trajectories."""
    out = {}
    for seed, run in curves.sort_values("epoch").groupby("seed", sort=True):
        total = float(run["epochs"].max()) if "epochs" in run else float(run["epoch"].max())
        acc = run["test_acc_as_trained"].astype(float).to_list()
        out[int(seed)] = count_recovered_drops(run["epoch"].to_list(), acc, freeze_end * total, drop_pp)
    return out


def sawtooth_verdict(variant_drops: list[int], baseline_drops: list[int], min_drops: int) -> str:
    """HOLDS if every variant seed has >= min_drops and no baseline seed does; FAILS if no
    variant seed does or every baseline seed does; INCONCLUSIVE otherwise."""
    if not variant_drops or not baseline_drops:
        return NOT_RUN
    v = [d >= min_drops for d in variant_drops]
    b = [d >= min_drops for d in baseline_drops]
    if all(v) and not any(b):
        return HOLDS
    return FAILS if not any(v) or all(b) else INCONCLUSIVE


def check_sawtooth(p: Sawtooth, t: Tables) -> list[Outcome]:
    if t.trajectories is None:
        return _no_table("trajectories.csv")
    traj = t.trajectories
    found = scopes(traj, ["dataset", "arch"], regime=p.regime, variant=[p.variant, p.baseline])
    if not found:
        return _no_cells(f"{p.variant} vs {p.baseline} ({p.regime})")
    outcomes = []
    for dataset, arch in found:
        cell = traj[(traj["dataset"] == dataset) & (traj["arch"] == arch)]
        cell = cell[(cell["regime"] == p.regime) & cell["ordering"].isin([p.ordering, "none"])]
        v = drops_per_seed(cell[cell["variant"] == p.variant], p.freeze_end, p.drop_pp)
        b = drops_per_seed(cell[cell["variant"] == p.baseline], p.freeze_end, p.drop_pp)
        verdict = sawtooth_verdict(list(v.values()), list(b.values()), p.min_drops)
        text = (
            f"recovered drops > {p.drop_pp:g} pp in the first {p.freeze_end:g} of training "
            f"(need >= {p.min_drops}) per seed: {p.variant} {v or 'no runs'}, "
            f"{p.baseline} {b or 'no runs'}: {verdict}"
        )
        n = min(len(v), len(b))
        outcomes.append(Outcome(f"{dataset}/{arch}", [Part(verdict, text, n=n)]))
    return outcomes


# --------------------------------------------------------------------------- peer tables


def ratio_at_least(
    num: tuple[float, float], den: tuple[float, float], ratio: float
) -> tuple[str, float, float]:
    """Verdict on "a / b >= ratio" from the intervals ``num`` of a and ``den`` of b (both
    non-negative quantities), with the conservative bounds [low_a / high_b, high_a / low_b]."""
    values = (*num, *den)
    if not all(math.isfinite(v) for v in values):
        return INCONCLUSIVE, NAN, NAN
    (a_low, a_high), (b_low, b_high) = num, den
    low = a_low / b_high if b_high > 0 else (math.inf if a_low > 0 else 0.0)
    high = a_high / b_low if b_low > 0 else (math.inf if a_high > 0 else 0.0)
    if low >= ratio:
        return HOLDS, low, high
    return (FAILS if high < ratio else INCONCLUSIVE), low, high


def peer_cell(table: pd.DataFrame, recipe: str, dataset: str, arch: str, regime: str, variant: str):
    """The row of one cell of a peer table (ordering forward or none), or None."""
    match = table[
        (table["recipe"] == recipe)
        & (table["dataset"] == dataset)
        & (table["arch"] == arch)
        & (table["regime"] == regime)
        & (table["variant"] == variant)
        & table["ordering"].isin(["forward", "none"])
    ]
    return None if match.empty else match.iloc[0]


def peer_scopes(table: pd.DataFrame, regime: str, variants: Iterable[str]) -> list[tuple[str, str, str]]:
    """(recipe, dataset, arch) scopes of a peer table that have a row for every variant."""
    variants = list(variants)
    rows = table[(table["regime"] == regime) & table["variant"].isin(variants)]
    found = []
    for key, group in rows.groupby(["recipe", "dataset", "arch"], sort=False):
        if set(variants) <= set(group["variant"]):
            found.append(tuple(str(k) for k in key))
    return found


def _peer_table(t: Tables, name: str) -> pd.DataFrame | None:
    return getattr(t, name)


def _share_text(row: pd.Series, column: str) -> str:
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    interval = f" [{low:.2f}, {high:.2f}]" if math.isfinite(low) else " [interval undefined: n<2]"
    return f"{row['variant']} {row[column]:.2f}%{interval}"


def share_above(row: pd.Series | None, column: str, threshold: float, what: str) -> Part:
    """Part for "the cell's mean never-flipped share (``column``) exceeds threshold"."""
    if row is None or row["n"] == 0 or not math.isfinite(row[column]):
        return Part(NOT_RUN, f"NOT RUN: no flip statistics for {what}")
    verdict = greater(row[f"{column}_ci_low"], row[f"{column}_ci_high"], threshold)
    text = f"{what}: {_share_text(row, column)} vs > {threshold:g}%: {verdict}"
    return Part(verdict, text, row[column], row[f"{column}_ci_low"], row[f"{column}_ci_high"], int(row["n"]))


def share_ratio(a: pd.Series | None, b: pd.Series | None, column: str, ratio: float, what: str) -> Part:
    """Part for "mean share of a / mean share of b >= ratio" (see :func:`ratio_at_least`)."""
    for row in (a, b):
        if row is None or row["n"] == 0 or not math.isfinite(row[column]):
            return Part(NOT_RUN, f"NOT RUN: no flip statistics for {what}")
    num = (a[f"{column}_ci_low"], a[f"{column}_ci_high"])
    den = (b[f"{column}_ci_low"], b[f"{column}_ci_high"])
    verdict, low, high = ratio_at_least(num, den, ratio)
    estimate = a[column] / b[column] if b[column] > 0 else math.inf
    bounds = f"[{low:.2f}, {high:.2f}]" if math.isfinite(low) else "[interval undefined: n<2]"
    text = (
        f"{what}: {_share_text(a, column)} / {_share_text(b, column)} = {estimate:.2f}x "
        f"{bounds} vs >= {ratio:g}x: {verdict}"
    )
    return Part(verdict, text, estimate, low, high, min(int(a["n"]), int(b["n"])))


@dataclass(frozen=True)
class SilentWeights:
    """O1: under ``baseline`` the last binary layer's never-flipped share at the end of training
    exceeds large_share_pct, and ``variant`` cuts the share by at least ``ratio`` (baseline /
    variant), for the last binary layer and over all binary weights; per recipe/dataset/arch."""

    table: str
    regime: str
    variant: str
    baseline: str
    large_share_pct: float
    ratio: float


def check_silent_weights(p: SilentWeights, t: Tables) -> list[Outcome]:
    table = _peer_table(t, p.table)
    if table is None:
        return _no_table(f"table_{p.table}.csv")
    found = peer_scopes(table, p.regime, [p.variant, p.baseline])
    if not found:
        return _no_cells(f"{p.variant} and {p.baseline} ({p.regime})")
    outcomes = []
    for recipe, dataset, arch in found:
        base = peer_cell(table, recipe, dataset, arch, p.regime, p.baseline)
        var = peer_cell(table, recipe, dataset, arch, p.regime, p.variant)
        layer = base["last_layer"] if isinstance(base["last_layer"], str) else "last binary layer"
        parts = [
            share_above(
                base, "never_flipped_last", p.large_share_pct, f"{p.baseline} never flipped, {layer}"
            ),
            share_ratio(base, var, "never_flipped_last", p.ratio, f"never flipped, {layer}"),
            share_ratio(base, var, "never_flipped", p.ratio, "never flipped, all binary layers"),
        ]
        outcomes.append(Outcome(f"{recipe}/{dataset}/{arch}", parts))
    return outcomes


@dataclass(frozen=True)
class Components:
    """O2: each of ``components`` beats ``baseline`` by > margin_pp, and ``combined`` beats each
    component by > best_margin_pp; per recipe/dataset/arch with all of them."""

    table: str
    regime: str
    baseline: str
    components: tuple[str, ...]
    combined: str
    margin_pp: float
    best_margin_pp: float


def check_components(p: Components, t: Tables) -> list[Outcome]:
    table = _peer_table(t, p.table)
    if table is None:
        return _no_table(f"table_{p.table}.csv")
    variants = [p.baseline, *p.components, p.combined]
    found = peer_scopes(table, p.regime, variants)
    if not found:
        return _no_cells(f"{'/'.join(variants)} ({p.regime})")
    outcomes = []
    for recipe, dataset, arch in found:

        def cell(v: str, r=recipe, d=dataset, a=arch) -> pd.Series | None:
            return peer_cell(table, r, d, a, p.regime, v)

        where = f"{recipe}/{dataset}/{arch}/{p.regime}"
        parts = [
            compare_greater(cell(c), cell(p.baseline), p.margin_pp, f"{where}/{c} vs {p.baseline}")
            for c in p.components
        ]
        parts += [
            compare_greater(cell(p.combined), cell(c), p.best_margin_pp, f"{where}/{p.combined} vs {c}")
            for c in p.components
        ]
        outcomes.append(Outcome(f"{recipe}/{dataset}/{arch}", parts))
    return outcomes


@dataclass(frozen=True)
class Convergence:
    """O3: ``variant`` trained with the recipe ``<R><half_suffix>`` (half the epochs) beats
    ``baseline`` trained with recipe R by > margin_pp, for every such recipe pair, per
    dataset/arch."""

    table: str
    regime: str
    variant: str
    baseline: str
    half_suffix: str
    margin_pp: float


def check_convergence(p: Convergence, t: Tables) -> list[Outcome]:
    table = _peer_table(t, p.table)
    if table is None:
        return _no_table(f"table_{p.table}.csv")
    recipes = set(table["recipe"].astype(str))
    found = [
        (recipe, dataset, arch)
        for recipe, dataset, arch in peer_scopes(table, p.regime, [p.baseline])
        if f"{recipe}{p.half_suffix}" in recipes
    ]
    if not found:
        return _no_cells(f"{p.baseline} under a recipe R and {p.variant} under R{p.half_suffix}")
    outcomes = []
    for recipe, dataset, arch in found:
        half = f"{recipe}{p.half_suffix}"
        fast = peer_cell(table, half, dataset, arch, p.regime, p.variant)
        slow = peer_cell(table, recipe, dataset, arch, p.regime, p.baseline)
        what = f"{dataset}/{arch}/{p.regime}: {p.variant} ({half}) vs {p.baseline} ({recipe})"
        part = compare_greater(fast, slow, p.margin_pp, what)
        if part.verdict != NOT_RUN:
            part = dataclasses.replace(
                part, text=f"{p.variant} at {half} vs {p.baseline} at {recipe}: {part.text}"
            )
        outcomes.append(Outcome(f"{recipe}/{dataset}/{arch}", [part]))
    return outcomes


@dataclass(frozen=True)
class Beats:
    """P1, P2: ``variant`` beats ``baseline`` by > margin_pp, per recipe/dataset/arch."""

    table: str
    regime: str
    variant: str
    baseline: str
    margin_pp: float


def check_beats(p: Beats, t: Tables) -> list[Outcome]:
    return _pairwise(
        p.table, p.regime, p.variant, p.baseline, t, lambda a, b, w: compare_greater(a, b, p.margin_pp, w)
    )


@dataclass(frozen=True)
class AtLeast:
    """B1: ``variant`` reaches at least ``baseline``'s accuracy, within tolerance_pp
    (variant - baseline > -tolerance_pp), per recipe/dataset/arch."""

    table: str
    regime: str
    variant: str
    baseline: str
    tolerance_pp: float


def check_at_least(p: AtLeast, t: Tables) -> list[Outcome]:
    return _pairwise(
        p.table, p.regime, p.variant, p.baseline, t, lambda a, b, w: compare_greater(a, b, -p.tolerance_pp, w)
    )


def _pairwise(
    name: str, regime: str, variant: str, baseline: str, t: Tables, compare: Callable[..., Part]
) -> list[Outcome]:
    """One comparison of ``variant`` with ``baseline`` per recipe/dataset/arch of a peer table."""
    table = _peer_table(t, name)
    if table is None:
        return _no_table(f"table_{name}.csv")
    found = peer_scopes(table, regime, [variant, baseline])
    if not found:
        return _no_cells(f"{variant} and {baseline} ({regime})")
    outcomes = []
    for recipe, dataset, arch in found:
        a = peer_cell(table, recipe, dataset, arch, regime, variant)
        b = peer_cell(table, recipe, dataset, arch, regime, baseline)
        part = compare(a, b, f"{recipe}/{dataset}/{arch}/{regime}/{variant} vs {baseline}")
        outcomes.append(Outcome(f"{recipe}/{dataset}/{arch}", [part]))
    return outcomes


# --------------------------------------------------------------------------- the YAML file


CHECKS: dict[str, tuple[type, Callable[..., list[Outcome]]]] = {
    "gain_grows_with_depth": (GainGrowsWithDepth, check_gain_grows_with_depth),
    "collapse": (Collapse, check_collapse),
    "order_insensitive": (OrderInsensitive, check_order_insensitive),
    "global_freezing": (GlobalFreezing, check_global_freezing),
    "ranking": (Ranking, check_ranking),
    "sawtooth": (Sawtooth, check_sawtooth),
    "silent_weights": (SilentWeights, check_silent_weights),
    "components": (Components, check_components),
    "convergence": (Convergence, check_convergence),
    "beats": (Beats, check_beats),
    "at_least": (AtLeast, check_at_least),
}
_CASTS = {"str": str, "float": float, "int": int}


@dataclass(frozen=True)
class Claim:
    """One entry of claims.yaml: id, description, and the typed parameters of its check."""

    id: str
    check: str
    description: str
    params: object = field(repr=False)

    def evaluate(self, tables: Tables) -> list[Outcome]:
        return CHECKS[self.check][1](self.params, tables)


def _convert(value: object, type_name: str, where: str) -> object:
    """Check and convert one YAML value to a field type (str, float, int, tuple[str, ...])."""
    if type_name == "tuple[str, ...]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where} must be a list of names, got {value!r}")
        return tuple(value)
    ok = {
        "str": isinstance(value, str),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
    }[type_name]
    if not ok:
        raise UserError(f"{where} must be of type {type_name}, got {value!r}")
    return _CASTS[type_name](value)


def build_params(cls: type, mapping: dict, claim_id: str) -> object:
    """A check's frozen parameter dataclass from its YAML mapping; every field required."""
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    missing = sorted(set(fields) - set(mapping))
    if unknown or missing:
        raise UserError(
            f"claim {claim_id}: unknown keys {unknown}, missing keys {missing}; "
            f"a '{cls.__name__}' check takes {sorted(fields)}"
        )
    params = cls(**{k: _convert(v, fields[k], f"claim {claim_id}: '{k}'") for k, v in mapping.items()})
    table = getattr(params, "table", None)
    if table is not None and table not in TABLE_NAMES:
        raise UserError(f"claim {claim_id}: 'table' must be one of {', '.join(TABLE_NAMES)}, got {table!r}")
    return params


def parse_claim(entry: dict) -> Claim:
    """One claims.yaml entry (id, check, description, params) as a :class:`Claim`."""
    if not isinstance(entry, dict) or not {"id", "check", "description"} <= set(entry):
        raise UserError(f"each claim needs 'id', 'check', 'description' and 'params': {entry!r}")
    if entry["check"] not in CHECKS:
        raise UserError(f"claim {entry['id']}: unknown check '{entry['check']}'. Valid: {', '.join(CHECKS)}")
    params = build_params(CHECKS[entry["check"]][0], entry.get("params") or {}, entry["id"])
    return Claim(str(entry["id"]), entry["check"], str(entry["description"]), params)


def load_claims(path: Path) -> tuple[list[Claim], dict]:
    """The claims and the ``numbers`` settings (e.g. tolerance_pp) of a claims.yaml."""
    if not Path(path).exists():
        raise UserError(f"claims file not found: {path}")
    doc = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise UserError(f"{path}: expected a mapping with a 'claims' list")
    numbers = doc.get("numbers") or {}
    if not isinstance(numbers.get("tolerance_pp"), int | float):
        raise UserError(f"{path}: 'numbers.tolerance_pp' (a number of points) is required")
    paper_tables = numbers.get("tables", {})
    if not isinstance(paper_tables, dict) or not set(paper_tables.values()) <= set(TABLE_NAMES):
        raise UserError(
            f"{path}: 'numbers.tables' must map each paper to a table ({', '.join(TABLE_NAMES)}), "
            f"got {paper_tables!r}"
        )
    claims = [parse_claim(e) for e in doc["claims"]]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise UserError(f"{path}: claim ids must be unique, got {ids}")
    return claims, numbers
