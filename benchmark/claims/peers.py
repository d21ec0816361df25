"""The peers' claims on their own tables (``table`` names which: ovsw, bop, pabt), judged
per recipe/dataset/arch: O1-O3 (OvSW), B1 (Bop), P1 and P2 (PaBT); and the StoMPP paper's S7,
judged the same way on its table of further architectures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from benchmark.claims import cells
from benchmark.claims.cells import Tables
from benchmark.claims.check import Check, Scope
from benchmark.claims.compare import compare_greater, share_above, share_cut, share_ratio
from benchmark.claims.verdicts import NOT_RUN, Outcome, Part


@dataclass(frozen=True)
class PeerCheck(Check):
    """A check on a peer table; its scopes are (recipe, dataset, arch)."""

    table: str
    regime: str

    def cell(self, table: pd.DataFrame, scope: Scope, variant: str) -> pd.Series | None:
        """The cell of ``variant`` in ``scope`` (recipe, dataset, arch), or None."""
        recipe, dataset, arch = scope
        return cells.peer_cell(table, recipe, dataset, arch, self.regime, variant)


@dataclass(frozen=True)
class PeerPair(PeerCheck):
    """A check of ``variant`` against ``baseline``, in every scope that has both."""

    variant: str
    baseline: str

    def needs(self) -> str:
        return f"{self.variant} and {self.baseline} ({self.regime})"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        return cells.peer_scopes(table, self.regime, [self.variant, self.baseline])

    def beats(self, table: pd.DataFrame, scope: Scope, margin: float) -> Part:
        """Part for "variant > baseline + margin" in one scope."""
        a, b = self.cell(table, scope, self.variant), self.cell(table, scope, self.baseline)
        what = f"{'/'.join(scope)}/{self.regime}/{self.variant} vs {self.baseline}"
        return compare_greater(a, b, margin, what)


@dataclass(frozen=True)
class SilentWeights(PeerPair):
    """O1: under ``baseline`` the last binary layer's never-flipped share at the end of training
    exceeds large_share_pct, and ``variant`` cuts the share by at least ``ratio`` (baseline /
    variant), for the last binary layer and over all binary weights; per recipe/dataset/arch."""

    large_share_pct: float
    ratio: float

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        base, var = self.cell(table, scope, self.baseline), self.cell(table, scope, self.variant)
        layer = base["last_layer"] if isinstance(base["last_layer"], str) else "last binary layer"
        last = f"never flipped, {layer}"
        return [
            share_above(base, "never_flipped_last", self.large_share_pct, f"{self.baseline} {last}"),
            share_ratio(base, var, "never_flipped_last", self.ratio, last),
            share_ratio(base, var, "never_flipped", self.ratio, "never flipped, all binary layers"),
        ]


@dataclass(frozen=True)
class SilentWeightsCut(PeerPair):
    """O1's laptop form: under ``baseline`` the last binary layer's never-flipped share exceeds
    large_share_pct (as published), and ``variant``'s share lies below the baseline's by more than
    cut_pp points (:func:`~benchmark.claims.compare.share_cut`), for the last binary layer and over
    all binary weights; per recipe/dataset/arch."""

    large_share_pct: float
    cut_pp: float

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        base, var = self.cell(table, scope, self.baseline), self.cell(table, scope, self.variant)
        layer = base["last_layer"] if base is not None and isinstance(base["last_layer"], str) else None
        last = f"never flipped, {layer or 'last binary layer'}"
        return [
            share_above(base, "never_flipped_last", self.large_share_pct, f"{self.baseline} {last}"),
            share_cut(base, var, "never_flipped_last", self.cut_pp, last),
            share_cut(base, var, "never_flipped", self.cut_pp, "never flipped, all binary layers"),
        ]


@dataclass(frozen=True)
class Components(PeerCheck):
    """O2: each of ``components`` beats ``baseline`` by > margin_pp, and ``combined`` beats each
    component by > best_margin_pp; per recipe/dataset/arch with all of them."""

    baseline: str
    components: tuple[str, ...]
    combined: str
    margin_pp: float
    best_margin_pp: float

    def _variants(self) -> list[str]:
        return [self.baseline, *self.components, self.combined]

    def needs(self) -> str:
        return f"{'/'.join(self._variants())} ({self.regime})"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        return cells.peer_scopes(table, self.regime, self._variants())

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        def cell(variant: str) -> pd.Series | None:
            return self.cell(table, scope, variant)

        where = f"{'/'.join(scope)}/{self.regime}"
        base, best = self.baseline, self.combined
        parts = [
            compare_greater(cell(c), cell(base), self.margin_pp, f"{where}/{c} vs {base}")
            for c in self.components
        ]
        return parts + [
            compare_greater(cell(best), cell(c), self.best_margin_pp, f"{where}/{best} vs {c}")
            for c in self.components
        ]


@dataclass(frozen=True)
class Convergence(PeerCheck):
    """O3: ``variant`` trained with the recipe ``<R><half_suffix>`` (half the epochs) beats
    ``baseline`` trained with recipe R by > margin_pp, for every such recipe pair, per
    dataset/arch."""

    variant: str
    baseline: str
    half_suffix: str
    margin_pp: float

    def needs(self) -> str:
        return f"{self.baseline} under a recipe R and {self.variant} under R{self.half_suffix}"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        """The baseline's scopes whose recipe R has a half recipe in the table."""
        recipes = set(table["recipe"].astype(str))
        found = cells.peer_scopes(table, self.regime, [self.baseline])
        return [scope for scope in found if f"{scope[0]}{self.half_suffix}" in recipes]

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        recipe, dataset, arch = scope
        half = f"{recipe}{self.half_suffix}"
        fast = self.cell(table, (half, dataset, arch), self.variant)
        slow = self.cell(table, scope, self.baseline)
        what = f"{dataset}/{arch}/{self.regime}: {self.variant} ({half}) vs {self.baseline} ({recipe})"
        part = compare_greater(fast, slow, self.margin_pp, what)
        if part.verdict != NOT_RUN:
            text = f"{self.variant} at {half} vs {self.baseline} at {recipe}: {part.text}"
            part = dataclasses.replace(part, text=text)
        return [part]


@dataclass(frozen=True)
class Beats(PeerPair):
    """P1, P2: ``variant`` beats ``baseline`` by > margin_pp, per recipe/dataset/arch."""

    margin_pp: float

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        return [self.beats(table, scope, self.margin_pp)]


@dataclass(frozen=True)
class AtLeast(PeerPair):
    """B1: ``variant`` reaches at least ``baseline``'s accuracy, within tolerance_pp
    (variant - baseline > -tolerance_pp), per recipe/dataset/arch."""

    tolerance_pp: float

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        return [self.beats(table, scope, -self.tolerance_pp)]


@dataclass(frozen=True)
class BeatsOnEach(Beats):
    """S7: ``variant`` beats ``baseline`` by > margin_pp per recipe/dataset/arch, and the claim
    is about every architecture family of ``archs`` (alternatives joined by ``|``, such as
    ``bert_base|bert_tiny``): a family without a scope in the table is a NOT RUN outcome of
    its own that says why (``missing_note``), so a claim judged on part of its architectures
    says which part is missing."""

    archs: tuple[str, ...]
    missing_note: str

    def evaluate(self, tables: Tables) -> list[Outcome]:
        table = tables.get(self.table)
        if table is None:
            return super().evaluate(tables)
        outcomes = [o for o in super().evaluate(tables) if o.scope != "all"]
        present = {o.scope.split("/")[-1] for o in outcomes}
        for family in self.archs:
            names = family.split("|")
            if not present & set(names):
                text = f"NOT RUN: table_{self.table} has no {' or '.join(names)} cells for {self.needs()}"
                outcomes.append(Outcome(family, [Part(NOT_RUN, f"{text}; {self.missing_note}")]))
        return outcomes
