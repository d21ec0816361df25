"""benchmark.verdicts on hand-made regression reports: which scopes agree, which claims are
decided or resolved, and the command that prints them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmark import cli, verdicts

COLUMNS = ["id", "kind", "description", "half_width", "verdict", "detail"]


def write_report(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """rows: (id, verdict, half_width); one reported-number row is mixed in, as in a real report."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow({"id": "stompp:x", "kind": "number", "verdict": "PASS", "half_width": "1.0"})
        for key, verdict, width in rows:
            writer.writerow({"id": key, "kind": "claim", "verdict": verdict, "half_width": width})
    return path


A_ROWS = [
    ("S1:digits", "INCONCLUSIVE", "1.50"),
    ("S2:digits/resnet18/stompp", "HOLDS", "3.00"),
    ("S2:digits/resnet50/stompp", "FAILS", "8.00"),
    ("S5:digits/resnet50", "FAILS", "2.70"),
    ("S7:bert", "NOT RUN", "nan"),
    ("B1:binarynet", "INCONCLUSIVE", "2.40"),
]
B_ROWS = [
    ("S1:digits", "INCONCLUSIVE", "1.90"),
    ("S2:digits/resnet18/stompp", "HOLDS", "2.00"),
    ("S2:digits/resnet50/stompp", "INCONCLUSIVE", "1.00"),
    ("S5:digits/resnet50", "INCONCLUSIVE", "3.10"),
    ("S7:bert", "NOT RUN", ""),
    ("B1:binarynet", "HOLDS", "1.20"),
]


@pytest.fixture
def reports(tmp_path: Path) -> tuple[Path, Path]:
    return write_report(tmp_path / "a.csv", A_ROWS), write_report(tmp_path / "b.csv", B_ROWS)


def test_only_claim_rows_are_read_with_their_half_widths(reports):
    a = verdicts.read_claims(reports[0])
    assert list(a) == [key for key, _, _ in A_ROWS]
    assert a["S1:digits"] == verdicts.Scope("INCONCLUSIVE", 1.5)
    assert a["S7:bert"].half_width is None and not a["S7:bert"].judged


def test_scopes_agree_compares_only_scopes_judged_in_both(reports):
    a, b = (verdicts.read_claims(p) for p in reports)
    agree = dict(verdicts.scopes_agree(a, b))
    assert agree == {
        "S1:digits": True,
        "S2:digits/resnet18/stompp": True,
        "S2:digits/resnet50/stompp": False,
        "S5:digits/resnet50": False,
        "B1:binarynet": False,
    }


def test_a_claim_is_decided_settled_or_open(reports):
    a, b = (verdicts.read_claims(p) for p in reports)
    # A: S1 undecided at 1.50 < 2 (settled); S2 decided on both scopes; S5 decided; B1 at 2.40 open
    assert verdicts.claim_status(a, 2.0) == {"S1": "settled", "S2": "decided", "S5": "decided", "B1": "open"}
    # B: S2's ResNet-50 scope is undecided but resolved; S5 undecided at 3.10 (open)
    assert verdicts.claim_status(b, 2.0) == {"S1": "settled", "S2": "settled", "S5": "open", "B1": "decided"}
    # the resolution is a strict bound: at 1.5 points S1's 1.50 is not under it
    assert verdicts.claim_status(a, 1.5)["S1"] == "open"


def test_the_command_prints_the_table_and_the_counts(reports, tmp_path, capsys):
    out = tmp_path / "verdicts.md"
    args = ["verdicts", *map(str, reports), "--labels", "AVX-512", "AVX2", "--out", str(out)]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert text == out.read_text()
    assert "| S5:digits/resnet50 | FAILS (2.70) | INCONCLUSIVE (3.10) | **no** |" in text
    assert "| S7:bert | NOT RUN | NOT RUN | — |" in text
    assert "Same verdict on 2 of 5 scopes judged in both." in text
    assert "AVX-512: decided on every scope 2 of 4 claims (S2, S5); undecided but resolved" in text
    avx2 = (
        "AVX2: decided on every scope 1 of 4 claims (B1); undecided but resolved to under 2 points: S1, S2."
    )
    assert avx2 in text


def test_a_missing_report_says_how_to_make_one(tmp_path, capsys):
    assert cli.main(["verdicts", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]) != 0
    assert "bnnbench check --out" in capsys.readouterr().err


def test_a_scope_not_settled_shows_the_seeds_it_needs(tmp_path):
    """seeds_needed as bnnbench check writes it (float, inf, nan): shown only where the scope is
    neither decided nor under the resolution; a report without the column reads as blank."""
    rows = [  # id, verdict, half_width, seeds_needed
        ("S1:digits", "INCONCLUSIVE", "2.87", "10.0"),
        ("S2:digits/resnet50/stompp", "INCONCLUSIVE", "40.0", "inf"),
        ("S3:digits/resnet50/stompp", "INCONCLUSIVE", "1.60", "3.0"),
        ("S5:digits/resnet50", "FAILS", "2.72", "8.0"),
        ("O1:resnet18_clip", "HOLDS", "0.39", "nan"),
    ]
    path = tmp_path / "a.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, "seeds_needed"])
        writer.writeheader()
        for key, verdict, width, seeds in rows:
            writer.writerow(
                {"id": key, "kind": "claim", "verdict": verdict, "half_width": width, "seeds_needed": seeds}
            )
    a = verdicts.read_claims(path)
    assert [a[key].seeds_needed for key, *_ in rows] == ["10", ">1000", "3", "8", ""]
    text = verdicts.format_markdown(a, a, ("A", "B"), resolution=2.0)
    assert "| S1:digits | INCONCLUSIVE (2.87, 10 seeds) | INCONCLUSIVE (2.87, 10 seeds) | yes |" in text
    assert "INCONCLUSIVE (40.00, >1000 seeds)" in text
    assert "| INCONCLUSIVE (1.60) |" in text  # settled: under 2 points
    assert "| FAILS (2.72) |" in text  # decided
    old = verdicts.read_claims(write_report(tmp_path / "old.csv", [("S1:digits", "INCONCLUSIVE", "2.87")]))
    assert old["S1:digits"].seeds_needed == ""
    assert verdicts.cell(old["S1:digits"], 2.0) == "INCONCLUSIVE (2.87)"
