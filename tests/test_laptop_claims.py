"""Claims with a laptop form (benchmark/claims/forms.py): S2's laptop form on hand-made tables
(HOLDS, FAILS, INCONCLUSIVE, NOT RUN), a table with a paper and a laptop dataset where each row
is judged by its own form and the report says which, the NOT RUN / PENDING logic for the
control's runs, and the loader's errors for a malformed ``laptop:`` mapping (docs/ERRORS.md)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark import claims as cl
from benchmark import regression
from benchmark.availability import Grid
from benchmark.claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, PENDING
from benchmark.cli import main
from benchmark.errors import UserError
from benchmark.identity import RunId
from tests.test_claims import CLAIMS_YAML, cell, frame, verdicts

STOMPP_CSV = Path(__file__).resolve().parents[1] / "paper" / "reported" / "stompp.csv"
CONTROL = "random_features"
SCOPE = "digits/resnet18/stompp"

# docs/ERRORS.md, "bnnbench check: laptop forms in claims.yaml" (tests/test_errors.py collects these)
ERROR_CASES = ["laptop-unknown-key", "laptop-no-datasets", "laptop-other-table", "laptop-bad-params"]


@pytest.fixture(scope="module")
def s2() -> cl.Claim:
    parsed, _ = cl.load_claims(CLAIMS_YAML)
    return next(c for c in parsed if c.id == "S2")


def s2_table(
    forward: float,
    reverse: float,
    control: float | None,
    std: float = 0.5,
    n: int = 5,
    dataset: str = "digits",
) -> pd.DataFrame:
    """S2's cells on one dataset: stompp forward and reverse, and the random-features control."""
    cells = [
        cell("resnet18", "bnn", "stompp", forward, std, n, ordering="forward", dataset=dataset),
        cell("resnet18", "bnn", "stompp", reverse, std, n, ordering="reverse", dataset=dataset),
    ]
    if control is not None:
        cells.append(cell("resnet18", "bnn", CONTROL, control, std, n, dataset=dataset))
    return frame(*cells)


def judge(claim: cl.Claim, table: pd.DataFrame, scope: str = SCOPE) -> str:
    return verdicts(claim, cl.Tables(ordering=table))[scope]


# --------------------------------------------------------------------------- the YAML entry


def test_s2_has_a_documented_laptop_form_and_keeps_the_paper_form(s2: cl.Claim) -> None:
    assert s2.check == "collapse" and s2.params.chance_margin_pp == 10.0 and s2.params.far_below_pp == 10.0
    laptop = s2.laptop
    assert laptop is not None and laptop.check == "collapse_to_control"
    assert set(laptop.datasets) == {"digits", "digits8", "synthetic", "mnist", "fashion_mnist"}
    assert not {"cifar10", "cifar100", "imagenet"} & set(laptop.datasets)
    assert laptop.params.control == CONTROL and laptop.params.far_below_pp == s2.params.far_below_pp
    assert "chance" in laptop.reason and "random_features" in laptop.short


# --------------------------------------------------------------------------- S2's laptop form


def test_laptop_form_holds_when_reverse_ends_no_better_than_the_control(s2: cl.Claim) -> None:
    # reverse 78 vs control 80: -2 [-2.7, -1.3] < 2; forward - reverse = 12 [11.3, 12.7] > 10
    assert judge(s2, s2_table(forward=90.0, reverse=78.0, control=80.0)) == HOLDS
    # a collapse all the way to chance is "no better than the control" too
    assert judge(s2, s2_table(forward=90.0, reverse=10.0, control=80.0)) == HOLDS
    # the paper form would have failed the first table: 78 is not near a chance of 10
    assert judge(s2, s2_table(90.0, 78.0, 80.0, dataset="cifar10"), "cifar10/resnet18/stompp") == FAILS


def test_laptop_form_fails_when_reverse_beats_the_control_or_is_not_far_below_forward(s2: cl.Claim) -> None:
    assert judge(s2, s2_table(forward=99.0, reverse=88.0, control=80.0)) == FAILS  # learned beyond random
    assert judge(s2, s2_table(forward=85.0, reverse=79.0, control=80.0)) == FAILS  # not far below forward


def test_laptop_form_is_inconclusive_when_the_interval_straddles_the_margin(s2: cl.Claim) -> None:
    # reverse - control = +1, Welch half-width t(0.975, 4) * sqrt(2/3) = 2.267: [-1.267, 3.267] holds 2
    table = s2_table(forward=95.0, reverse=81.0, control=80.0, std=1.0, n=3)
    (outcome,) = s2.evaluate(cl.Tables(ordering=table))
    first = outcome.parts[0]
    assert (first.estimate, first.ci_low, first.ci_high) == pytest.approx((1.0, -1.267, 3.267), abs=1e-3)
    assert [p.verdict for p in outcome.parts] == [INCONCLUSIVE, HOLDS]
    assert outcome.verdict == INCONCLUSIVE and outcome.form == cl.LAPTOP_FORM
    assert "vs < 2: INCONCLUSIVE" in first.text


def test_laptop_form_without_the_control_is_not_run(s2: cl.Claim) -> None:
    (outcome,) = s2.evaluate(cl.Tables(ordering=s2_table(90.0, 78.0, control=None)))
    assert (outcome.scope, outcome.verdict, outcome.form) == (SCOPE, NOT_RUN, cl.LAPTOP_FORM)
    assert f"digits/resnet18/bnn/stompp/reverse vs {CONTROL}" in outcome.parts[0].text


@pytest.mark.parametrize(
    ("low", "high", "expected"), [(-3.0, 1.5, HOLDS), (2.5, 4.0, FAILS), (-1.0, 3.0, INCONCLUSIVE)]
)
def test_compare_less_reads_the_whole_interval(low: float, high: float, expected: str) -> None:
    """'a - b < 2' on cells whose Welch interval of a - b is [low, high] (b a point: std 0)."""
    mid, half = (low + high) / 2, (high - low) / 2
    a = pd.Series(
        {"variant": "a", "ordering": "none", "n": 2, "mean": mid, "std": half / 12.706 * math.sqrt(2)}
    )
    b = pd.Series({"variant": "b", "ordering": "none", "n": 2, "mean": 0.0, "std": 0.0})
    part = cl.compare_less(a, b, 2.0, "a vs b")
    assert (part.ci_low, part.ci_high) == pytest.approx((low, high), abs=1e-3)
    assert part.verdict == expected


# --------------------------------------------------------------------------- each row by its own form


def mixed() -> pd.DataFrame:
    """cifar10 (a paper dataset) and digits (a laptop dataset) in one ordering table."""
    return pd.concat(
        [
            s2_table(forward=80.0, reverse=12.0, control=11.0, dataset="cifar10"),  # paper form: HOLDS
            s2_table(forward=90.0, reverse=78.0, control=80.0),  # laptop form: HOLDS (paper form: FAILS)
            s2_table(forward=80.0, reverse=60.0, control=59.0, dataset="cifar100"),  # paper form: FAILS
        ],
        ignore_index=True,
    )


def test_each_row_is_judged_by_its_own_form(s2: cl.Claim) -> None:
    outcomes = {o.scope: o for o in s2.evaluate(cl.Tables(ordering=mixed()))}
    assert {s: (o.form, o.verdict) for s, o in outcomes.items()} == {
        "cifar10/resnet18/stompp": (cl.PAPER_FORM, HOLDS),
        "cifar100/resnet18/stompp": (cl.PAPER_FORM, FAILS),
        "digits/resnet18/stompp": (cl.LAPTOP_FORM, HOLDS),
    }
    assert "chance" in outcomes["cifar10/resnet18/stompp"].parts[0].text  # the paper form's part
    assert CONTROL in outcomes["digits/resnet18/stompp"].parts[0].text


def test_the_report_says_which_form_judged_each_row(s2: cl.Claim, tmp_path: Path) -> None:
    rows = regression.claim_rows([s2], cl.Tables(ordering=mixed()))
    detail = dict(zip(rows["id"], rows["detail"], strict=True))
    assert detail["S2:cifar10/resnet18/stompp"].startswith("paper form: stompp/reverse 12.00")
    assert detail["S2:digits/resnet18/stompp"].startswith(f"laptop form ({s2.laptop.short}): stompp/reverse")
    markdown = regression.report_markdown(rows)
    assert "laptop form (Judged against the random_features control" in markdown
    # a claim without a laptop form keeps its detail as it was
    (s3,) = [c for c in cl.load_claims(CLAIMS_YAML)[0] if c.id == "S3"]
    assert not regression.claim_rows([s3], cl.Tables())["detail"][0].startswith(("paper", "laptop"))


def test_without_a_table_or_a_scope_in_either_form_one_outcome_says_so(s2: cl.Claim) -> None:
    (missing,) = s2.evaluate(cl.Tables())
    assert (missing.scope, missing.verdict, missing.form) == ("all", NOT_RUN, cl.EITHER_FORM)
    assert missing.parts[0].text == "NOT RUN: table_ordering.csv was not produced"
    only_bwn = mixed().assign(regime="bwn")
    (none,) = s2.evaluate(cl.Tables(ordering=only_bwn))
    assert (none.scope, none.verdict) == ("all", NOT_RUN) and "laptop form" in none.parts[0].text
    (row,) = regression.claim_rows([s2], cl.Tables()).to_dict("records")
    assert row["detail"].startswith("paper or laptop form: NOT RUN")


def test_the_report_waits_for_the_controls_runs(s2: cl.Claim) -> None:
    """The control is another variant than the scope's: while its runs train the laptop
    outcome is PENDING, once they have all finished without a cell it is NOT RUN."""
    cells = [("stompp", "forward"), ("stompp", "reverse"), (CONTROL, "none")]
    runs = tuple(RunId("mini", "digits", "resnet18", "bnn", v, o, s) for v, o in cells for s in (0, 1))
    stompp_done = frozenset(r for r in runs if r.variant == "stompp")
    tables = cl.Tables(ordering=s2_table(90.0, 78.0, control=None))
    (training,) = regression.claim_rows([s2], tables, Grid({"ordering": runs}, stompp_done)).to_dict(
        "records"
    )
    assert training["verdict"] == PENDING
    assert training["detail"].startswith("laptop form (") and "4 of 6 runs" in training["detail"]
    (done,) = regression.claim_rows([s2], tables, Grid({"ordering": runs}, frozenset(runs))).to_dict(
        "records"
    )
    assert done["verdict"] == NOT_RUN


# --------------------------------------------------------------------------- a malformed laptop form


def s2_entry(**laptop: object) -> dict:
    """claims.yaml's S2 entry with its laptop mapping updated (a value None drops the key)."""
    doc = yaml.safe_load(CLAIMS_YAML.read_text())
    entry = copy.deepcopy(next(c for c in doc["claims"] if c["id"] == "S2"))
    for key, value in laptop.items():
        if value is None:
            entry["laptop"].pop(key)
        else:
            entry["laptop"][key] = value
    return entry


DEPTH_PARAMS = {
    "regime": "bnn",
    "variant": "stompp",
    "ordering": "forward",
    "baseline": "ste",
    "archs": ["resnet18", "resnet50"],
    "margin_pp": 0.0,
}
LAPTOP_ERRORS = {
    "laptop-unknown-key": (
        {"margin": 2.0},
        "claim S2: 'laptop': unknown keys ['margin'], missing keys []; a laptop form takes "
        "['datasets', 'reason', 'check', 'params']",
    ),
    "laptop-no-datasets": ({"datasets": None}, "missing keys ['datasets']"),
    "laptop-other-table": (
        {"check": "gain_grows_with_depth", "params": DEPTH_PARAMS},
        "claim S2: 'laptop'.check 'gain_grows_with_depth' reads table 'depth_scaling'; a laptop form "
        "judges other rows of the paper form's table 'ordering'",
    ),
    "laptop-bad-params": (
        {"params": {"regime": "bnn"}},
        "claim S2 (laptop form): unknown keys [], missing keys",
    ),
}
assert list(LAPTOP_ERRORS) == ERROR_CASES


@pytest.mark.parametrize(("edit", "message"), LAPTOP_ERRORS.values(), ids=LAPTOP_ERRORS)
def test_bnnbench_check_refuses_a_malformed_laptop_form(
    edit: dict, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = yaml.safe_load(CLAIMS_YAML.read_text())
    doc["claims"] = [s2_entry(**edit)]
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(doc))
    argv = ["check", "--results-dir", str(tmp_path), "--reported", str(STOMPP_CSV), "--claims", str(path)]
    code = main([*argv, "--out", str(tmp_path / "report")])
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert code == 2 and message in text and "Traceback" not in text, text
    assert not (tmp_path / "report.csv").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"datasets": []}, "must name at least one dataset"),
        ({"datasets": "digits"}, "'laptop'.datasets must be a list of names"),
        ({"reason": " "}, "'laptop'.reason must say why"),
        ({"check": "nope"}, "'laptop'.check: unknown check 'nope'"),
        ({"params": ["bnn"]}, "'laptop'.params must be a mapping"),
    ],
)
def test_other_malformed_laptop_forms_are_user_errors(edit: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        cl.parse_claim(s2_entry(**edit))
    with pytest.raises(UserError, match="'laptop' must be a mapping"):
        cl.parse_claim({**s2_entry(), "laptop": ["digits"]})
