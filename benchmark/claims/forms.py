r"""A claim's laptop form: another check of the same table, judged on the laptop datasets.

Some thresholds only mean something on the papers' data: S2's "ends near chance" says that the
network learned nothing in its binary body, which on CIFAR is about chance, but on ``digits`` an
untrained binary body with a trained head scores about 80%. A claim may therefore carry a
``laptop:`` form in claims.yaml (``datasets``, ``reason``, ``check``, ``params``), chosen for
what the claim means before any verdict, with its reason written beside it. The rows of the
claim's table are split by dataset,

.. math::
    T_\text{laptop} = \{r \in T : r.\text{dataset} \in D\}, \qquad
    T_\text{paper} = T \setminus T_\text{laptop},

with :math:`D` the form's ``datasets``; the laptop form is judged on :math:`T_\text{laptop}`,
the paper form (as published) on :math:`T_\text{paper}`, and the claim's outcomes are the
union of both, each recording which form judged it (:attr:`Outcome.form`), which the
regression report prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from benchmark.claims.cells import Tables
from benchmark.claims.check import Check, Scope
from benchmark.claims.verdicts import LAPTOP_FORM, NOT_RUN, PAPER_FORM, Outcome, Part, not_run

EITHER_FORM = f"{PAPER_FORM} or {LAPTOP_FORM}"  # a claim with no scope in either form


@dataclass(frozen=True)
class LaptopForm:
    """The ``laptop:`` mapping of a claim: the datasets it judges, why, and its check."""

    datasets: tuple[str, ...]
    reason: str
    check: str
    params: Check = field(repr=False)

    @property
    def short(self) -> str:
        """The first sentence of the reason (what the report prints beside a laptop verdict)."""
        text = " ".join(self.reason.split())
        head, dot, _ = text.partition(". ")
        return head + ("." if dot else "")


def _nothing(outcome: Outcome) -> bool:
    """Whether ``outcome`` is the driver's "no scope in this table" outcome."""
    return outcome.scope == "all" and outcome.verdict == NOT_RUN


@dataclass(frozen=True)
class Forms(Check):
    """A claim with a laptop form, as one check: the rows of ``datasets`` judged by ``laptop``,
    the others by ``paper``, both reading the paper form's table."""

    paper: Check
    laptop: Check
    datasets: tuple[str, ...]

    @property
    def table(self) -> str:  # type: ignore[override]
        return self.paper.table

    def source(self) -> str:
        return self.paper.source()

    def needs(self) -> str:
        on = ", ".join(self.datasets)
        return f"{self.paper.needs()} (paper form) or {self.laptop.needs()} (laptop form, on {on})"

    def forms(self) -> tuple[tuple[str, Check], ...]:
        return ((PAPER_FORM, self.paper), (LAPTOP_FORM, self.laptop))

    def rows(self, table: pd.DataFrame, form: str) -> pd.DataFrame:
        """The rows of ``table`` that ``form`` judges (by dataset)."""
        laptop = table["dataset"].isin(list(self.datasets))
        return table[laptop if form == LAPTOP_FORM else ~laptop]

    def check_of(self, form: str) -> Check:
        return self.laptop if form == LAPTOP_FORM else self.paper

    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        """The paper form's scopes on its rows, then the laptop form's on its rows."""
        return [s for form, check in self.forms() for s in check.scopes(self.rows(table, form))]

    def form_of(self, table: pd.DataFrame, scope: Scope) -> str:
        """The form that judges ``scope`` of ``table``."""
        laptop = self.laptop.scopes(self.rows(table, LAPTOP_FORM))
        return LAPTOP_FORM if tuple(scope) in {tuple(s) for s in laptop} else PAPER_FORM

    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        form = self.form_of(table, scope)
        return self.check_of(form).judge(self.rows(table, form), scope)

    def other_cells(self, scope: str) -> list[str]:
        """The other cells of the form whose datasets ``scope`` names."""
        laptop = bool(set(scope.replace("|", "/").split("/")) & set(self.datasets))
        return self.check_of(LAPTOP_FORM if laptop else PAPER_FORM).other_cells(scope)

    def evaluate(self, tables: Tables) -> list[Outcome]:
        """Each form's outcomes on its rows (its own :meth:`Check.evaluate`, so a check's own
        driver is kept), tagged with the form; a form without a scope in its rows adds nothing; a
        single NOT RUN outcome, scope ``all``, when the table was not produced or neither form
        has a scope."""
        table = tables.get(self.table)
        if table is None:
            return [dataclasses.replace(not_run(f"{self.source()} was not produced"), form=EITHER_FORM)]
        outcomes: list[Outcome] = []
        for form, check in self.forms():
            judged = check.evaluate(Tables({self.table: self.rows(table, form)}))
            seen = {o.scope for o in outcomes}
            outcomes += [
                dataclasses.replace(o, form=form)
                for o in judged
                if not _nothing(o) and not (o.scope in seen and o.verdict == NOT_RUN)
            ]
        if not outcomes:
            return [
                dataclasses.replace(not_run(f"the table has no cells for {self.needs()}"), form=EITHER_FORM)
            ]
        return outcomes
