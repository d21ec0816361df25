"""The base of every check, and the one driver that judges a check over the tables.

A check is a frozen dataclass of its parameters (every threshold comes from claims.yaml)
that names the table it reads and implements three short methods: which scopes of that
table it is judged in (:meth:`Check.scopes`), how it judges one (:meth:`Check.judge`, a
list of comparisons), and which cells it needs (:meth:`Check.needs`, for the message when
the table has none). :meth:`Check.evaluate` does the rest, the same for every check.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pandas as pd

from benchmark.claims.cells import Tables
from benchmark.claims.verdicts import Outcome, Part, not_run

Scope = tuple[str, ...]


class Check(ABC):
    """A claim's check. ``table`` names the input it reads: a class constant for the StoMPP
    checks, a parameter for the checks on the peers' tables."""

    table: str

    def source(self) -> str:
        """The file the table comes from (named when it was not produced)."""
        return f"table_{self.table}.csv"

    @abstractmethod
    def needs(self) -> str:
        """The cells the check needs (named when the table has none)."""

    @abstractmethod
    def scopes(self, table: pd.DataFrame) -> list[Scope]:
        """The scopes the check is judged in, in table order (e.g. ``(dataset, arch)``)."""

    @abstractmethod
    def judge(self, table: pd.DataFrame, scope: Scope) -> list[Part]:
        """The comparisons that make up the claim in one scope."""

    def other_cells(self, scope: str) -> list[str]:
        """Cells outside ``scope`` (``a/b/c``, in identity order) that judging it reads, such as a
        control of another variant, as scopes in identity order (``digits/resnet18/bnn/x``): the
        report waits for their runs too (``benchmark.regression.awaited_claim``). None by default."""
        return []

    def evaluate(self, tables: Tables) -> list[Outcome]:
        """One outcome per scope, labelled ``a/b/c`` after its values; a single NOT RUN
        outcome, scope ``all``, when the table was not produced or has no scope."""
        table = tables.get(self.table)
        if table is None:
            return [not_run(f"{self.source()} was not produced")]
        found = self.scopes(table)
        if not found:
            return [not_run(f"the table has no cells for {self.needs()}")]
        return [Outcome("/".join(map(str, scope)), self.judge(table, scope)) for scope in found]
