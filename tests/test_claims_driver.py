"""The one driver of every check (Check.evaluate), on a tiny check registered here: the table
missing, a table without scopes, and a table with scopes; the table names a loader accepts; and
what the report makes of a NOT RUN outcome given the grid (PENDING or NOT RUN)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from benchmark import claims as cl
from benchmark import regression
from benchmark.availability import Grid, scope_matches
from benchmark.claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, PENDING, UNSUPPORTED
from benchmark.errors import UserError
from benchmark.identity import RunId
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
            cl.Part(NOT_RUN, f"NOT RUN: no finished run for {variant}")
            if math.isnan(mean)
            else cl.Part(HOLDS if mean > self.floor else FAILS, f"{variant} {mean:g}")
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


# --------------------------------------------------------------------------- NOT RUN, PENDING


def test_a_conjunction_says_the_most_lasting_reason_it_cannot_decide() -> None:
    assert cl.conjunction([HOLDS, PENDING]) == PENDING
    assert cl.conjunction([INCONCLUSIVE, PENDING]) == PENDING
    assert cl.conjunction([PENDING, NOT_RUN, HOLDS]) == NOT_RUN
    assert cl.conjunction([NOT_RUN, UNSUPPORTED]) == UNSUPPORTED
    assert cl.conjunction([UNSUPPORTED, FAILS]) == FAILS
    assert cl.conjunction([]) == NOT_RUN


def test_a_scope_names_identity_values_in_identity_order() -> None:
    values = ("mini", "digits", "resnet18", "bnn", "ste", "none")
    assert scope_matches(values, "digits") and scope_matches(values, "digits/resnet18")
    assert scope_matches(values, "mini/digits/resnet18") and scope_matches(values, "bert_base|resnet18")
    assert not scope_matches(values, "resnet18/digits") and not scope_matches(values, "digits/resnet34")


def runs(*cells: tuple[str, str, str], seeds: tuple[int, ...] = (0, 1)) -> tuple[RunId, ...]:
    """The runs of (arch, regime, variant) cells on digits under recipe mini."""
    return tuple(RunId("mini", "digits", a, r, v, "none", s) for a, r, v in cells for s in seeds)


BNN = runs(("resnet18", "bnn", "ste"), ("resnet18", "bnn", "stompp"))


def report_row(claim: cl.Claim, tables: cl.Tables, grid: Grid | None) -> dict[str, str]:
    (row,) = regression.claim_rows([claim], tables, grid).to_dict("records")
    return {"scope": row["id"].split(":", 1)[1], "verdict": row["verdict"], "detail": row["detail"]}


def test_without_its_table_a_claim_is_pending_while_the_grid_has_its_cells(claim: cl.Claim) -> None:
    """The table was not produced: PENDING while the grid has runs in the claim's scopes (then
    until the table is built from them), NOT RUN when the grid has no cells for it."""
    assert report_row(claim, cl.Tables(), None)["verdict"] == NOT_RUN  # no grid: as the check says
    pending = report_row(
        claim, cl.Tables(), Grid({"depth_scaling": BNN}, frozenset(BNN[:1]), "config c.yaml")
    )
    assert pending["verdict"] == PENDING
    assert pending["detail"] == (
        "1 of 4 runs in digits/resnet18 finished in the grid of depth_scaling (config c.yaml); "
        "table_depth_scaling.csv was not produced"
    )
    built = report_row(claim, cl.Tables(), Grid({"depth_scaling": BNN}, frozenset(BNN)))
    assert (
        built["verdict"] == PENDING and "table_depth_scaling.csv does not count them yet" in built["detail"]
    )
    bwn = runs(("resnet18", "bwn", "stompp"))
    lacking = report_row(claim, cl.Tables(), Grid({"depth_scaling": bwn}, frozenset()))
    assert (lacking["verdict"], lacking["detail"]) == (
        NOT_RUN,
        "the grid of depth_scaling (the config) has no cells for regime bnn; "
        "table_depth_scaling.csv was not produced",
    )
    elsewhere = report_row(claim, cl.Tables(), Grid({"ordering": BNN}, frozenset()))
    assert elsewhere["verdict"] == NOT_RUN and elsewhere["detail"].startswith(
        "the config has no table or figure"
    )


def test_a_judged_scope_missing_a_cell_is_pending_only_while_its_runs_train(claim: cl.Claim) -> None:
    """The table has the scope but a cell without a finished run: PENDING while a run of the
    scope in the grid has not finished, NOT RUN once all have (the cell is not in the grid)."""
    table = rows(
        ("digits", "resnet18", "bnn", "ste", 60.0), ("digits", "resnet18", "bnn", "stompp", math.nan)
    )
    tables = cl.Tables(depth_scaling=table)
    training = report_row(claim, tables, Grid({"depth_scaling": BNN}, frozenset(BNN[:3])))
    assert (training["scope"], training["verdict"]) == ("digits/resnet18", PENDING)
    assert training["detail"].startswith("3 of 4 runs in digits/resnet18 finished")
    finished = report_row(claim, tables, Grid({"depth_scaling": BNN}, frozenset(BNN)))
    assert finished["verdict"] == NOT_RUN
    assert finished["detail"].startswith(
        "every run of the grid of depth_scaling (the config) in digits/resnet18"
    )
