"""The one driver of every check (Check.evaluate), on a tiny check registered here: the table
missing, a table without scopes, and a table with scopes; and the table names a loader accepts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from benchmark import claims as cl
from benchmark.claims import FAILS, HOLDS, NOT_RUN
from benchmark.errors import UserError
from benchmark.outputs import claim_inputs


@dataclass(frozen=True)
class AboveFloor(cl.Check):
    """A tiny check: every cell of ``regime`` has a mean above ``floor``, per dataset/arch."""

    table: ClassVar[str] = "depth_scaling"
    regime: str
    floor: float

    def needs(self) -> str:
        return f"regime {self.regime}"

    def scopes(self, table: pd.DataFrame) -> list[cl.Scope]:
        return cl.scopes(table, ["dataset", "arch"], regime=self.regime)

    def judge(self, table: pd.DataFrame, scope: cl.Scope) -> list[cl.Part]:
        dataset, arch = scope
        cells = table[(table["dataset"] == dataset) & (table["arch"] == arch)]
        cells = cells[cells["regime"] == self.regime]
        return [
            cl.Part(HOLDS if mean > self.floor else FAILS, f"{variant} {mean:g}")
            for variant, mean in zip(cells["variant"], cells["mean"], strict=True)
        ]


@pytest.fixture
def claim(monkeypatch: pytest.MonkeyPatch) -> cl.Claim:
    monkeypatch.setitem(cl.CHECKS, "above_floor", AboveFloor)
    entry = {"id": "T1", "check": "above_floor", "description": "d", "params": {"regime": "bnn", "floor": 50}}
    return cl.parse_claim(entry)


def rows(*cells: tuple[str, str, str, str, float]) -> pd.DataFrame:
    columns = ["dataset", "arch", "regime", "variant", "mean"]
    return pd.DataFrame([dict(zip(columns, c, strict=True)) for c in cells])


def test_a_registered_check_is_parsed_with_typed_parameters(claim: cl.Claim) -> None:
    assert claim.params == AboveFloor(regime="bnn", floor=50.0)
    assert isinstance(claim.params.floor, float)


def test_the_driver_says_not_run_when_the_table_was_not_produced(claim: cl.Claim) -> None:
    expected = [cl.Outcome("all", [cl.Part(NOT_RUN, "NOT RUN: table_depth_scaling.csv was not produced")])]
    assert claim.evaluate(cl.Tables()) == expected
    assert claim.evaluate(cl.Tables(depth_scaling=None, ordering=rows())) == expected


def test_the_driver_says_not_run_when_the_table_has_no_scope(claim: cl.Claim) -> None:
    only_bwn = rows(("digits", "resnet18", "bwn", "stompp", 80.0))
    (outcome,) = claim.evaluate(cl.Tables(depth_scaling=only_bwn))
    assert (outcome.scope, outcome.verdict) == ("all", NOT_RUN)
    assert [p.text for p in outcome.parts] == ["NOT RUN: the table has no cells for regime bnn"]


def test_the_driver_judges_every_scope_in_table_order(claim: cl.Claim) -> None:
    table = rows(
        ("digits", "resnet34", "bnn", "ste", 40.0),
        ("digits", "resnet18", "bnn", "ste", 60.0),
        ("digits", "resnet34", "bnn", "stompp", 70.0),
        ("mnist", "resnet18", "bwn", "ste", 10.0),
        ("digits", "resnet18", "bnn", "stompp", 65.0),
    )
    outcomes = claim.evaluate(cl.Tables(depth_scaling=table))
    assert [o.scope for o in outcomes] == ["digits/resnet34", "digits/resnet18"]
    assert [o.verdict for o in outcomes] == [FAILS, HOLDS]
    assert [p.text for p in outcomes[0].parts] == ["ste 40", "stompp 70"]


def test_every_registered_check_reads_a_known_table() -> None:
    """A StoMPP check names its table in the class; a peer check takes it as a parameter
    (validated by the loader)."""
    for name, check in cl.CHECKS.items():
        if "table" not in {f.name for f in dataclasses.fields(check)}:
            assert check.table in claim_inputs(), name


def test_the_loader_validates_table_parameters_against_the_names_it_is_given() -> None:
    params = {"table": "bop", "regime": "bnn", "variant": "bop", "baseline": "ste", "margin_pp": 0.0}
    entry = {"id": "X", "check": "beats", "description": "d", "params": params}
    assert cl.parse_claim(entry, tables=("bop",)).params.table == "bop"
    with pytest.raises(UserError, match="'table' must be one of ovsw, pabt, got 'bop'"):
        cl.parse_claim(entry, tables=("ovsw", "pabt"))


def test_load_claims_checks_numbers_tables_against_the_names_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("numbers: {tolerance_pp: 2.0, tables: {bop: bop}}\nclaims: []\n")
    assert cl.load_claims(path, tables=("bop",)) == ([], {"tolerance_pp": 2.0, "tables": {"bop": "bop"}})
    with pytest.raises(UserError, match=r"numbers.tables' must map each paper to a table \(ovsw\)"):
        cl.load_claims(path, tables=("ovsw",))
