"""The StoMPP paper's claims S1-S5 over the depth-scaling and ordering tables (S6, the
sawtooth, reads the trajectories: :mod:`benchmark.claims.sawtooth`)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

import pandas as pd

from benchmark import stats
from benchmark.claims import cells
from benchmark.claims.check import Check, Scope
from benchmark.claims.compare import (
    compare_greater,
    compare_less,
    compare_within,
    interval_text,
    missing,
    near_value,
)
from benchmark.claims.verdicts import NAN, Part, greater


def _variant_scopes(table: pd.DataFrame, regime: str | list[str], variants: tuple[str, ...]) -> list[Scope]:
    """(dataset, arch, variant) scopes of an ordering table."""
    return cells.scopes(table, ["dataset", "arch", "variant"], regime=regime, variant=variants)


def resolve_arch(present: set[str], entry: str) -> str:
    """An architecture entry of a depth series: a name, or alternatives joined by ``|`` (the
    CIFAR ResNet and its ImageNet form, ``resnet50|resnet50_imagenet``), of which the first in
    ``present`` (the architectures with cells to compare) is meant, else the first."""
    names = entry.split("|")
    return next((n for n in names if n in present), names[0])


@dataclass(frozen=True)
class GainGrowsWithDepth(Check):
    """S1: gain(variant over baseline) grows along ``archs`` (shallow to deep), per dataset."""

    table: ClassVar[str] = "depth_scaling"
    regime: str
    variant: str
    ordering: str
    baseline: str
    archs: tuple[str, ...]
    margin_pp: float

    def needs(self) -> str:
        return f"{self.variant} vs {self.baseline} ({self.regime})"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        return cells.scopes(table, ["dataset"], regime=self.regime, variant=[self.variant, self.baseline])

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        (dataset,) = scope
        rows = table[(table["dataset"] == dataset) & table["variant"].isin([self.variant, self.baseline])]
        present = set(rows.loc[rows["regime"] == self.regime, "arch"])
        archs = [resolve_arch(present, entry) for entry in self.archs]
        return [self._step(table, dataset, shallow, deep) for shallow, deep in pairwise(archs)]

    def _step(self, table: pd.DataFrame, dataset: str, shallow: str, deep: str) -> Part:
        """gain(deep) - gain(shallow) > margin, with the four-cell Welch interval."""
        terms = [(a, v) for a in (deep, shallow) for v in (self.variant, self.baseline)]
        found = [cells.find_cell(table, dataset, a, self.regime, v, self.ordering) for a, v in terms]
        for cell, (a, v) in zip(found, terms, strict=True):
            if cell is None or cell["n"] == 0:
                return missing(f"{dataset}/{a}/{v} ({self.regime})")
        c = stats.contrast(
            (1.0, -1.0, -1.0, 1.0),
            [x["mean"] for x in found],
            [x["std"] for x in found],
            [int(x["n"]) for x in found],
        )
        verdict = greater(c.ci_low, c.ci_high, self.margin_pp)
        g_deep, g_shallow = found[0]["mean"] - found[1]["mean"], found[2]["mean"] - found[3]["mean"]
        text = (
            f"gain {deep} {g_deep:+.2f} - gain {shallow} {g_shallow:+.2f} = {interval_text(c)} "
            f"vs > {self.margin_pp:g}: {verdict}"
        )
        n = min(int(x["n"]) for x in found)
        return Part(verdict, text, c.estimate, c.ci_low, c.ci_high, n, c.df, cells.directories(*found))


@dataclass(frozen=True)
class OrderingCheck(Check):
    """A check of ``ordering`` against ``reference`` in one regime of the ordering table, per
    dataset/arch/variant."""

    table: ClassVar[str] = "ordering"
    regime: str
    variants: tuple[str, ...]
    ordering: str
    reference: str

    def needs(self) -> str:
        return f"{'/'.join(self.variants)} ({self.regime})"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        return _variant_scopes(table, self.regime, self.variants)


@dataclass(frozen=True)
class Collapse(OrderingCheck):
    """S2: ``ordering`` ends within chance_margin_pp of chance and > far_below_pp under
    ``reference``, per dataset/arch/variant."""

    chance_margin_pp: float
    far_below_pp: float

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        dataset, arch, variant = scope
        where = f"{dataset}/{arch}/{self.regime}/{variant}"
        bad = cells.find_cell(table, dataset, arch, self.regime, variant, self.ordering)
        ref = cells.find_cell(table, dataset, arch, self.regime, variant, self.reference)
        chance = NAN if bad is None else float(bad["chance_acc"])
        return [
            near_value(bad, chance, self.chance_margin_pp, f"{where}/{self.ordering}"),
            compare_greater(ref, bad, self.far_below_pp, f"{where}/{self.reference}"),
        ]


@dataclass(frozen=True)
class CollapseToControl(OrderingCheck):
    r"""S2's laptop form: ``ordering`` ends no better than the ``control`` variant of the same
    dataset/arch/regime and > far_below_pp under ``reference``, per dataset/arch/variant.

    "Near chance" at paper scale means that the network learned nothing in its binary body.
    Where an untrained binary body with a trained head (``control``: ``random_features``, every
    binary layer frozen at initialisation) scores far above chance, as on ``digits``, that is
    judged against the control: with :math:`[l, h]` the 95% Welch interval of
    :math:`\text{ordering} - \text{control}`, HOLDS when :math:`h < m` (control_margin_pp),
    FAILS when :math:`l > m`, INCONCLUSIVE otherwise (:func:`compare_less`); "far below" as in
    :class:`Collapse` (Welch, :func:`compare_greater`). A conjunction of the two.
    """

    control: str
    control_margin_pp: float
    far_below_pp: float

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        dataset, arch, variant = scope
        where = f"{dataset}/{arch}/{self.regime}"
        bad = cells.find_cell(table, dataset, arch, self.regime, variant, self.ordering)
        ref = cells.find_cell(table, dataset, arch, self.regime, variant, self.reference)
        control = cells.find_cell(table, dataset, arch, self.regime, self.control, self.ordering)
        versus = f"{where}/{variant}/{self.ordering} vs {self.control}"
        return [
            compare_less(bad, control, self.control_margin_pp, versus),
            compare_greater(ref, bad, self.far_below_pp, f"{where}/{variant}/{self.reference}"),
        ]

    def other_cells(self, scope: str) -> list[str]:
        """The control's cell, of another variant than the scope's."""
        dataset, arch, _variant = scope.split("/")
        return [f"{dataset}/{arch}/{self.regime}/{self.control}"]


@dataclass(frozen=True)
class OrderInsensitive(OrderingCheck):
    """S3: ``ordering`` and ``reference`` end within order_tolerance_pp of each other,
    per dataset/arch/variant."""

    order_tolerance_pp: float

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        dataset, arch, variant = scope
        a = cells.find_cell(table, dataset, arch, self.regime, variant, self.ordering)
        b = cells.find_cell(table, dataset, arch, self.regime, variant, self.reference)
        what = f"{dataset}/{arch}/{self.regime}/{variant} ({self.ordering} vs {self.reference})"
        return [compare_within(a, b, self.order_tolerance_pp, what)]


@dataclass(frozen=True)
class GlobalFreezing(Check):
    """S4: ``ordering`` is > well_below_pp under ``reference`` for ``fails_regime`` and
    within order_tolerance_pp of it for ``works_regime``, per dataset/arch/variant."""

    table: ClassVar[str] = "ordering"
    variants: tuple[str, ...]
    ordering: str
    reference: str
    fails_regime: str
    works_regime: str
    well_below_pp: float
    order_tolerance_pp: float

    def needs(self) -> str:
        return f"{'/'.join(self.variants)} ({self.fails_regime}/{self.works_regime})"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        return _variant_scopes(table, [self.fails_regime, self.works_regime], self.variants)

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        dataset, arch, variant = scope

        def cell(regime: str, ordering: str) -> pd.Series | None:
            return cells.find_cell(table, dataset, arch, regime, variant, ordering)

        where = f"{dataset}/{arch}/{{}}/{variant} ({self.ordering} vs {self.reference})"
        fails, works = self.fails_regime, self.works_regime
        fails_ref, fails_bad = cell(fails, self.reference), cell(fails, self.ordering)
        works_bad, works_ref = cell(works, self.ordering), cell(works, self.reference)
        return [
            compare_greater(fails_ref, fails_bad, self.well_below_pp, where.format(fails)),
            compare_within(works_bad, works_ref, self.order_tolerance_pp, where.format(works)),
        ]


@dataclass(frozen=True)
class Ranking(Check):
    """S5: ranking[0] > ranking[1] > ... (each by > margin_pp) on the deepest of ``archs``
    present in the depth-scaling table, per dataset."""

    table: ClassVar[str] = "depth_scaling"
    regime: str
    ordering: str
    ranking: tuple[str, ...]
    archs: tuple[str, ...]
    margin_pp: float

    def needs(self) -> str:
        return f"{'/'.join(self.ranking)} on {'/'.join(self.archs)} ({self.regime})"

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        """(dataset, the deepest of ``archs`` with a cell of the ranking) per dataset."""
        names = [name for entry in self.archs for name in entry.split("|")]
        where = {"regime": self.regime, "variant": self.ranking, "arch": names}
        found = cells.scopes(table, ["dataset", "arch"], **where)
        present: dict[str, set[str]] = {}  # per dataset, in table order
        for dataset, arch in found:
            present.setdefault(dataset, set()).add(arch)
        return [(d, [a for a in names if a in archs][-1]) for d, archs in present.items()]

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        dataset, arch = scope

        def cell(variant: str) -> pd.Series | None:
            return cells.find_cell(table, dataset, arch, self.regime, variant, self.ordering)

        ranked = [(v, cell(v)) for v in self.ranking]
        return [
            compare_greater(better, worse, self.margin_pp, f"{dataset}/{arch}/{self.regime}/{vb} vs {vw}")
            for (vb, better), (vw, worse) in pairwise(ranked)
        ]
