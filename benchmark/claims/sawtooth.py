"""The StoMPP paper's claim S6 (the sawtooth) over the trajectories, and the counting of
recovered drops in an accuracy curve.

The curve judged: where every run of a cell was evaluated every N steps too (``evals.csv``,
``benchmark.evals``: the fine rows of the trajectories data), that finer curve, the only one
that can show a sawtooth whose period (one freezing slot) is shorter than an epoch; else the
per-epoch curve. The thresholds are the same for both: a drop is a run of consecutive falling
evaluations (epochs, or evaluations N steps apart) that falls by more than ``drop_pp``. The
verdict's detail names the curve.

Its laptop form (:class:`SawtoothContrast`, issue 13) reads the claim as the paper's Fig. 2 caption
words it, "StoMPP exhibits a sawtooth pattern ..., while STE improves more smoothly": StoMPP's
seeds have repeated drops and more of them than STE's (a Welch interval over seeds), counting only
drops that the evaluated test subset can resolve (:func:`resolvable_drop_pp`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from benchmark import evals, stats
from benchmark.claims import cells
from benchmark.claims.check import Check, Scope
from benchmark.claims.verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Part, greater


def count_recovered_drops(epochs: list[float], acc: list[float], last_epoch: float, drop_pp: float) -> int:
    """Number of drops in an accuracy curve (per epoch, or per evaluation at fractional epochs)
    that start at an epoch <= last_epoch, fall by more than drop_pp, and are followed by recovery.

    A drop is a maximal run of consecutive decreasing points (so one long descent counts
    once); it falls by (value before the run) - (value at its end), and it recovers when a
    later point reaches the value before the run.
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
    """Recovered drops of ``test_acc_as_trained`` per seed of one cell's trajectories (one curve:
    per-epoch rows, or the fine rows of ``benchmark.evals``)."""
    out = {}
    for seed, run in curves.sort_values("epoch").groupby("seed", sort=True):
        total = float(run["epochs"].max()) if "epochs" in run else float(run["epoch"].max())
        acc = run["test_acc_as_trained"].astype(float).to_list()
        out[int(seed)] = count_recovered_drops(run["epoch"].to_list(), acc, freeze_end * total, drop_pp)
    return out


def resolvable_drop_pp(n_examples: float, z: float) -> float:
    r"""The smallest fall of accuracy, in points, that two evaluations on the same ``n_examples``
    test examples can tell from no change with a paired two-sided test at ``z``:

    .. math::
        d_\min = 100\, z^2 / K.

    Between two evaluations the network gains b examples and loses c; McNemar's statistic
    :math:`(c - b)^2 / (b + c)` is largest for a given net loss :math:`c - b` when b = 0, where it
    equals :math:`c - b`. A net loss of at most :math:`z^2` examples is therefore never
    significant, whatever the network did (z = 1.96: 3.84 examples, 3.0 points of K = 128, 0.04 of
    10,000). It is a floor: it says what no evaluation of K examples can resolve, not what one
    does."""
    return 100.0 * z * z / n_examples


def repeated_verdict(variant_drops: list[int], min_drops: int) -> str:
    """HOLDS if every seed has >= min_drops recovered drops, FAILS if none has, else INCONCLUSIVE."""
    if not variant_drops:
        return NOT_RUN
    repeated = [d >= min_drops for d in variant_drops]
    return HOLDS if all(repeated) else FAILS if not any(repeated) else INCONCLUSIVE


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


@dataclass(frozen=True)
class Sawtooth(Check):
    """S6: during the freezing phase (epoch <= freeze_end x epochs) every ``variant`` seed shows
    >= min_drops recovered drops of > drop_pp in test accuracy as trained; no ``baseline``
    seed does. Judged on the runs' evaluations every N steps where all of the cell's runs have
    them (:func:`benchmark.evals.judged_curve`), else per epoch."""

    table: ClassVar[str] = "trajectories"
    regime: str
    variant: str
    ordering: str
    baseline: str
    freeze_end: float
    drop_pp: float
    min_drops: int

    def source(self) -> str:
        return "trajectories.csv"

    def needs(self) -> str:
        return f"{self.variant} vs {self.baseline} ({self.regime})"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        pair = [self.variant, self.baseline]
        return cells.scopes(table, ["dataset", "arch"], regime=self.regime, variant=pair)

    def curve(self, table: pd.DataFrame, scope: Scope) -> tuple[pd.DataFrame, str]:
        """The curve judged in ``scope`` (rows of variant and baseline) and what it is."""
        dataset, arch = scope
        cell = table[(table["dataset"] == dataset) & (table["arch"] == arch)]
        cell = cell[(cell["regime"] == self.regime) & cell["ordering"].isin([self.ordering, "none"])]
        return evals.judged_curve(cell[cell["variant"].isin([self.variant, self.baseline])])

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        cell, curve = self.curve(table, scope)
        v = drops_per_seed(cell[cell["variant"] == self.variant], self.freeze_end, self.drop_pp)
        b = drops_per_seed(cell[cell["variant"] == self.baseline], self.freeze_end, self.drop_pp)
        verdict = sawtooth_verdict(list(v.values()), list(b.values()), self.min_drops)
        text = (
            f"recovered drops > {self.drop_pp:g} pp in the first {self.freeze_end:g} of training "
            f"(need >= {self.min_drops}) per seed, on the curve {curve}: {self.variant} {v or 'no runs'}, "
            f"{self.baseline} {b or 'no runs'}: {verdict}"
        )
        return [Part(verdict, text, n=min(len(v), len(b)))]


@dataclass(frozen=True)
class SawtoothContrast(Sawtooth):
    """S6's laptop form: during the freezing phase every ``variant`` seed shows >= min_drops
    recovered drops, and the variant's seeds have more such drops than the ``baseline``'s (the
    95% Welch interval of the difference of mean counts lies above 0; FAILS when it lies at or
    below 0), where a drop must fall by
    more than ``drop_pp`` and, on a curve evaluated on a test subset of K examples, by more than
    :func:`resolvable_drop_pp` (K, ``resolution_z``)."""

    resolution_z: float

    def threshold(self, cell: pd.DataFrame) -> tuple[float, str]:
        """The drop threshold on ``cell``'s curve and how it was set."""
        sizes = cell["n_examples"].dropna() if "n_examples" in cell else pd.Series(dtype=float)
        if sizes.empty:
            return self.drop_pp, f"> {self.drop_pp:g} pp (the test subset's size is not recorded)"
        k = int(sizes.min())
        floor = resolvable_drop_pp(k, self.resolution_z)
        threshold = max(self.drop_pp, floor)
        how = f"the larger of {self.drop_pp:g} and 100 z^2/K = {floor:.2f}, K = {k}"
        return threshold, f"> {threshold:.2f} pp ({how})"

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        cell, curve = self.curve(table, scope)
        threshold, how = self.threshold(cell)
        v = drops_per_seed(cell[cell["variant"] == self.variant], self.freeze_end, threshold)
        b = drops_per_seed(cell[cell["variant"] == self.baseline], self.freeze_end, threshold)
        where = f"recovered drops {how} in the first {self.freeze_end:g} of training, on the curve {curve}"
        if not v or not b:
            text = f"{where}: {self.variant} {v or 'no runs'}, {self.baseline} {b or 'no runs'}: {NOT_RUN}"
            return [Part(NOT_RUN, text)]
        repeated = repeated_verdict(list(v.values()), self.min_drops)
        text = f"{where}: {self.variant} per seed {v} (need >= {self.min_drops}): {repeated}"
        first = Part(repeated, text, n=len(v))
        sv, sb = stats.summarize(list(v.values())), stats.summarize(list(b.values()))
        c = stats.welch(sv.mean, sv.std, sv.n, sb.mean, sb.std, sb.n)
        # counts are integers: equal counts on every seed give the interval [0, 0], "not more"
        more = FAILS if c.ci_high == 0.0 else greater(c.ci_low, c.ci_high)
        text = (
            f"{self.variant} minus {self.baseline} drops per seed ({self.baseline} per seed {b}): "
            f"{c.estimate:+.2f} [{c.ci_low:.2f}, {c.ci_high:.2f}] vs > 0: {more}"
        )
        second = Part(more, text, c.estimate, c.ci_low, c.ci_high, min(sv.n, sb.n))
        return [first, second]
