"""The StoMPP paper's claim S6 (the sawtooth) over the trajectories, and the counting of
recovered drops in an accuracy curve.

The curve judged: where every run of a cell was evaluated every N steps too (``evals.csv``,
``benchmark.evals``: the fine rows of the trajectories data), that finer curve, the only one
that can show a sawtooth whose period (one freezing slot) is shorter than an epoch; else the
per-epoch curve. The thresholds are the same for both: a drop is a run of consecutive falling
evaluations (epochs, or evaluations N steps apart) that falls by more than ``drop_pp``. The
verdict's detail names the curve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from benchmark import evals
from benchmark.claims import cells
from benchmark.claims.check import Check, Scope
from benchmark.claims.verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Part


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

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        dataset, arch = scope
        cell = table[(table["dataset"] == dataset) & (table["arch"] == arch)]
        cell = cell[(cell["regime"] == self.regime) & cell["ordering"].isin([self.ordering, "none"])]
        cell, curve = evals.judged_curve(cell[cell["variant"].isin([self.variant, self.baseline])])
        v = drops_per_seed(cell[cell["variant"] == self.variant], self.freeze_end, self.drop_pp)
        b = drops_per_seed(cell[cell["variant"] == self.baseline], self.freeze_end, self.drop_pp)
        verdict = sawtooth_verdict(list(v.values()), list(b.values()), self.min_drops)
        text = (
            f"recovered drops > {self.drop_pp:g} pp in the first {self.freeze_end:g} of training "
            f"(need >= {self.min_drops}) per seed, on the curve {curve}: {self.variant} {v or 'no runs'}, "
            f"{self.baseline} {b or 'no runs'}: {verdict}"
        )
        return [Part(verdict, text, n=min(len(v), len(b)))]
