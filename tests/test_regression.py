"""Number rows (PASS, FAIL, NOT RUN), claim rows, and the report written by run_check."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchmark import regression
from benchmark.claims import Tables, load_claims
from benchmark.errors import UserError
from benchmark.reporting import build_table, run_check
from tests.test_claims import cell, frame
from tests.test_tables import write_run

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_YAML = ROOT / "paper" / "claims.yaml"
STOMPP_CSV = ROOT / "paper" / "reported" / "stompp.csv"


def reported(*rows: tuple[str, str, str, str, float]) -> pd.DataFrame:
    """(arch, regime, variant, metric, value) rows on digits."""
    return pd.DataFrame(
        [
            {
                "paper": "stompp",
                "where": "abstract",
                "dataset": "digits",
                "arch": arch,
                "regime": regime,
                "method": variant,
                "variant": variant,
                "metric": metric,
                "value": value,
            }
            for arch, regime, variant, metric, value in rows
        ]
    )


def depth_table() -> pd.DataFrame:
    """top-1 80 +- 1 (n 4) for bwn stompp; a gain of 10 over ste for bnn; one single seed."""
    table = frame(
        cell("resnet18", "bwn", "stompp", 80.0, 1.0, 4),
        cell("resnet18", "bnn", "ste", 60.0, 1.0, 4),
        cell("resnet18", "bnn", "stompp", 70.0, 1.0, 4),
        cell("resnet34", "bwn", "stompp", 70.0, 1.0, 1),
        cell("resnet50", "bnn", "stompp", 70.0, 1.0, 3),
    )
    table["recipe"] = "mini"
    table["gain_over_ste"] = [math.nan, math.nan, 10.0, math.nan, math.nan]
    table["gain_ci_low"] = [math.nan, math.nan, 8.3, math.nan, math.nan]
    table["gain_ci_high"] = [math.nan, math.nan, 11.7, math.nan, math.nan]
    return table


def test_number_verdict_rule() -> None:
    assert regression.number_verdict(80.0, 78.4, 81.6, 83.5, 2.0) == "PASS"
    assert regression.number_verdict(80.0, 78.4, 81.6, 83.7, 2.0) == "FAIL"
    assert regression.number_verdict(80.0, 78.4, 81.6, 76.4, 2.0) == "PASS"
    assert regression.number_verdict(80.0, math.nan, math.nan, 81.9, 2.0) == "PASS"
    assert regression.number_verdict(80.0, math.nan, math.nan, 82.1, 2.0) == "FAIL"
    assert regression.number_verdict(math.nan, math.nan, math.nan, 82.1, 2.0) == "NOT RUN"


def test_number_rows_pass_fail_not_run() -> None:
    rows = regression.number_rows(
        reported(
            ("resnet18", "bwn", "stompp", "top1", 81.0),
            ("resnet18", "bwn", "stompp", "top1", 91.2),
            ("resnet18", "bnn", "stompp", "gain_over_ste_pp", 13.5),
            ("resnet18", "bnn", "stompp", "gain_over_ste_pp", 18.0),
            ("resnet34", "bwn", "stompp", "top1", 71.5),
            ("resnet50", "bnn", "stompp", "gain_over_ste_pp", 3.8),
            ("resnet50", "bnn", "stompp_ste", "gain_over_ste_pp", 17.7),
            ("resnet18", "bnn", "stompp", "top5", 90.0),
        ),
        depth_table(),
        2.0,
    )
    assert list(rows.columns) == regression.REPORT_COLUMNS
    assert rows["verdict"].tolist() == [
        "PASS",
        "FAIL",
        "PASS",  # 13.5 <= 11.7 + 2
        "FAIL",
        "PASS",  # single seed: |70 - 71.5| <= 2
        "NOT RUN",  # no ste cell for resnet50: no gain
        "NOT RUN",  # no such cell
        "NOT RUN",  # metric not tabulated
    ]
    first = rows.iloc[0]
    assert (first["mean"], first["std"], first["n"], first["reported"]) == (80.0, 1.0, 4, 81.0)
    assert first["id"] == "stompp:digits/resnet18/bwn/stompp:top1"
    gain = rows.iloc[2]
    assert (gain["mean"], gain["ci_low"], gain["ci_high"]) == (10.0, 8.3, 11.7)
    assert gain["half_width"] == pytest.approx(1.7)  # half the reproduced interval
    assert "accept [6.30, 13.70]" in gain["detail"]
    assert "no finished run" in rows.iloc[6]["detail"]
    assert regression.number_rows(reported(("resnet18", "bwn", "stompp", "top1", 80.0)), None, 2)[
        "verdict"
    ].tolist() == ["NOT RUN"]


def test_report_has_a_row_per_number_and_claim_scope() -> None:
    claims, numbers = load_claims(CLAIMS_YAML)
    rep = regression.build_report(
        reported(("resnet18", "bwn", "stompp", "top1", 81.0)),
        claims,
        Tables(depth_scaling=depth_table()),
        numbers["tolerance_pp"],
    )
    assert rep["kind"].tolist() == ["number"] + ["claim"] * 13
    assert rep["id"].tolist()[1:] == [
        "S1:digits",
        "S2:all",
        "S3:all",
        "S4:all",
        "S5:digits/resnet50",
        "S6:all",
        *(f"{claim}:all" for claim in ("S7", "O1", "O2", "O3", "B1", "P1", "P2")),
    ]
    assert set(rep["verdict"].iloc[1:]) == {"NOT RUN"}
    md = regression.report_markdown(rep)
    assert "| number | 1 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "| claim | 0 | 0 | 0 | 0 | 0 | 13 |" in md


def test_run_check_at_mini_scale(tmp_path: Path) -> None:
    """Digits runs only: every paper number is NOT RUN, the claims are judged."""
    results = tmp_path / "results"
    paths = []
    for seed in range(3):
        for arch, ste, stompp in (("resnet18", 60, 63), ("resnet34", 60, 66), ("resnet50", 60, 75)):
            paths.append(write_run(tmp_path, ste + seed * 0.5, arch=arch, variant="ste", seed=seed))
            paths.append(write_run(tmp_path, stompp + seed, arch=arch, variant="stompp", seed=seed))
    build_table("depth_scaling", paths, results / "table_depth_scaling.csv", STOMPP_CSV)
    report = run_check(results, STOMPP_CSV, CLAIMS_YAML, results / "regression_report")
    numbers = report[report["kind"] == "number"]
    assert len(numbers) == len(pd.read_csv(STOMPP_CSV))
    assert set(numbers["verdict"]) == {"NOT RUN"}
    by_id = dict(zip(report["id"], report["verdict"], strict=True))
    assert by_id["S1:digits"] == "HOLDS"
    assert by_id["S2:all"] == "NOT RUN"  # no table_ordering.csv
    written = pd.read_csv(results / "regression_report.csv")
    assert list(written.columns) == regression.REPORT_COLUMNS and len(written) == len(report)
    md = (results / "regression_report.md").read_text()
    assert md.startswith("# Regression report") and "## Summary" in md
    assert "table_ordering.csv` (missing)" in md


def test_run_check_without_any_tables(tmp_path: Path) -> None:
    report = run_check(tmp_path, STOMPP_CSV, CLAIMS_YAML, tmp_path / "report")
    assert set(report["verdict"]) == {"NOT RUN"}
    with pytest.raises(UserError, match="claims file not found"):
        run_check(tmp_path, STOMPP_CSV, tmp_path / "none.yaml", tmp_path / "report")
    with pytest.raises(UserError, match="reported-numbers file not found"):
        run_check(tmp_path, tmp_path / "none.csv", CLAIMS_YAML, tmp_path / "report")


def test_reported_stompp_csv_maps_methods_to_variants() -> None:
    stompp = pd.read_csv(STOMPP_CSV)
    assert set(stompp["paper"]) == {"stompp"} and len(stompp) == 11
    mapping = set(zip(stompp["method"], stompp["variant"], strict=True))
    assert mapping == {("stompp", "stompp"), ("stompp_ste_frozen", "stompp_ste")}
    assert stompp["source"].notna().all()
    # CIFAR rows under the matched minimal recipe, ImageNet rows under its ImageNet form
    assert set(stompp.loc[stompp["dataset"] != "imagenet", "recipe"]) == {"paper"}
    imagenet = stompp[stompp["dataset"] == "imagenet"]
    assert set(imagenet["recipe"]) == {"paper_imagenet"} and imagenet["arch"].str.endswith("_imagenet").all()


# --------------------------------------------------------------------------- the peers' numbers

PEER_CSVS = [ROOT / "paper" / "reported" / f"{p}.csv" for p in ("ovsw", "bop", "pabt")]
ALL_CSVS = [STOMPP_CSV, *PEER_CSVS]


def test_peer_reported_csvs_have_stompps_columns_and_valid_variant_names() -> None:
    columns = list(pd.read_csv(STOMPP_CSV).columns)
    frames = [pd.read_csv(p, keep_default_na=False) for p in PEER_CSVS]
    for one in frames:
        assert list(one.columns) == columns
        assert one["variant"].str.fullmatch(r"[a-z0-9_.-]+").all()
        assert (one["source"] != "").all() and (one["recipe"] != "").all()
    peers = pd.concat(frames, ignore_index=True)
    mapping = set(zip(peers["method"], peers["variant"], strict=True))
    for pair in [
        ("full_precision", "fp"),
        ("ste_vanilla", "ste"),
        ("ovsw_ags_only", "ovsw_ags"),
        ("ovsw_sad_only", "ovsw_sad"),
        ("latent_adam_ste", "ste"),
        ("mbn_gamma_bop", "pabt_1x1"),
        ("pabt_random", "pabt_random"),
    ]:
        assert pair in mapping
    # every ovsw, bop, pabt (and Bi-Real competitor) row of shared/reference is carried over
    assert [len(f) for f in frames] == [20 + 2, 4, 12]
    assert peers["where"].str.contains("OvSW Table 2").sum() == 2
    convergence = peers[peers["where"] == "Section 5.3 convergence"]
    assert set(convergence["recipe"]) == {"ovsw_ablation_half"} and set(convergence["metric"]) == {"top1"}


def peer_cell(recipe: str, variant: str, mean: float, n: int = 4, **extra) -> dict:
    return cell("resnet18", "bnn", variant, mean, 1.0, n, dataset="cifar100") | {"recipe": recipe} | extra


def test_peer_numbers_are_judged_against_their_papers_table() -> None:
    ovsw = frame(
        peer_cell("ovsw_ablation", "ste", 65.0, never_flipped_last=50.0)
        | {"never_flipped_last_ci_low": 47.0, "never_flipped_last_ci_high": 53.0},
        peer_cell("ovsw_ablation_half", "ste", 50.0),
        peer_cell("ovsw_ablation", "ovsw", 69.0, n=0),
    )
    reported = pd.concat([pd.read_csv(p) for p in PEER_CSVS], ignore_index=True)
    paper_tables = {"ovsw": "ovsw", "bop": "bop", "pabt": "pabt"}
    rows = regression.number_rows(reported, Tables(ovsw=ovsw), 2.0, paper_tables)
    verdicts = dict(zip(rows["id"] + "@" + reported["recipe"], rows["verdict"], strict=True))
    # ste at ovsw_ablation: 65 +- 1 (n 4) vs 65.23: PASS; its never-flipped share 50 [47, 53] vs 54.07: PASS
    assert verdicts["ovsw:cifar100/resnet18/bnn/ste:top1@ovsw_ablation"] == "PASS"
    assert verdicts["ovsw:cifar100/resnet18/bnn/ste:never_flipped_last_pct@ovsw_ablation"] == "PASS"
    # the same cell key under the half recipe is a different cell: 50 vs 55.28 FAILS
    assert verdicts["ovsw:cifar100/resnet18/bnn/ste:top1@ovsw_ablation_half"] == "FAIL"
    assert verdicts["ovsw:cifar100/resnet18/bnn/ovsw:top1@ovsw_ablation"] == "NOT RUN"  # n = 0
    assert verdicts["ovsw:imagenet/resnet18_imagenet/bnn/ovsw:top5@ovsw_imagenet"] == "NOT RUN"
    bireal = rows[rows["id"].str.startswith("bireal:")]
    assert set(bireal["verdict"]) == {"NOT RUN"}
    assert bireal["detail"].str.contains("no table reproduces paper 'bireal'").all()
    bop = rows[rows["id"].str.startswith("bop:")]
    assert set(bop["verdict"]) == {"NOT RUN"} and bop["detail"].str.contains("table_bop").any()


def test_run_check_with_every_papers_numbers_at_mini_scale(tmp_path: Path) -> None:
    """Digits runs of the peers' tables: every paper number is NOT RUN, the claims are judged."""
    results = tmp_path / "results"
    paths = []
    for seed in range(3):
        kw = {"recipe": "mini_pabt_cifar", "arch": "resnet20", "seed": seed}
        paths.append(write_run(tmp_path, 80.0 + seed, variant="pabt_1x1", **kw))
        paths.append(write_run(tmp_path, 86.0 + seed, variant="pabt", **kw))
    build_table("pabt", paths, results / "table_pabt.csv", ALL_CSVS)
    report = run_check(results, ALL_CSVS, CLAIMS_YAML, results / "regression_report")
    numbers = report[report["kind"] == "number"]
    assert len(numbers) == sum(len(pd.read_csv(p)) for p in ALL_CSVS)
    assert set(numbers["verdict"]) == {"NOT RUN"}
    by_id = dict(zip(report["id"], report["verdict"], strict=True))
    assert by_id["P1:mini_pabt_cifar/digits/resnet20"] == "HOLDS"
    assert by_id["P2:all"] == "NOT RUN"  # no pabt_random cells
    assert by_id["O1:all"] == "NOT RUN"  # no table_ovsw.csv
    md = (results / "regression_report.md").read_text()
    assert "paper/reported/pabt.csv" in md and "table_ovsw.csv` (missing)" in md
