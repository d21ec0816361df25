"""Number rows (PASS, FAIL, NOT RUN, PENDING, UNSUPPORTED), claim rows, and the report written by
run_check."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark import cli, power, regression
from benchmark.availability import Grid, Support
from benchmark.claims import Tables, load_claims
from benchmark.errors import UserError
from benchmark.identity import RunId
from benchmark.reporting import build_table, run_check
from tests.test_claims import cell, frame
from tests.test_tables import write_run

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_YAML = ROOT / "paper" / "claims.yaml"
NAN_VALUE = float("nan")
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
    assert "| kind | PASS | FAIL | HOLDS | FAILS | INCONCLUSIVE | PENDING | NOT RUN | UNSUPPORTED |" in md
    assert "| number | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "| claim | 0 | 0 | 0 | 0 | 0 | 0 | 13 | 0 |" in md


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
    s1 = report[report["id"] == "S1:digits"].iloc[0]  # claims.yaml's power.half_width_pp planned for
    assert s1["seeds_needed"] >= 2 and math.isnan(report[report["id"] == "S2:all"].iloc[0]["seeds_needed"])
    # the cells S1's contrasts read, as run directories without seeds (what tools.seed_cost prices)
    steps = [("resnet34", "resnet18"), ("resnet50", "resnet34")]
    pairs = [
        f"{a}/bnn/{v}"
        for deep, shallow in steps
        for a in (deep, shallow)
        for v in ("stompp/forward", "ste/none")
    ]
    recipe = report_recipe(results)
    assert s1["cells"].split(";") == list(dict.fromkeys(f"{recipe}/digits/{p}" for p in pairs))
    written = pd.read_csv(results / "regression_report.csv")
    assert list(written.columns) == regression.REPORT_COLUMNS and len(written) == len(report)
    md = (results / "regression_report.md").read_text()
    assert md.startswith("# Regression report") and "## Summary" in md
    assert "| cells |" not in md and "resnet50/bnn/ste/none;" not in md  # the CSV's, for tools
    assert "table_ordering.csv` (missing)" in md


def report_recipe(results: Path) -> str:
    """The recipe of the depth-scaling table's runs (one for all)."""
    (recipe,) = set(pd.read_csv(results / "table_depth_scaling.csv")["recipe"])
    return recipe


def test_seeds_needed_prints_as_a_count_more_than_a_thousand_or_blank() -> None:
    assert [power.seeds_text(v) for v in (12.0, math.inf, NAN_VALUE)] == ["12", ">1000", ""]


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
        ("ste_vanilla", "ovsw_vanilla"),  # OvSW's vanilla BNN: its binarizer, AGS and SAD off
        ("ovsw_ags_only", "ovsw_ags"),
        ("ovsw_sad_only", "ovsw_sad"),
        ("latent_adam_ste", "ste"),
        ("mbn_gamma_bop", "pabt_1x1"),
        ("mbn_gamma_bop", "pabt_3x3"),  # the unpruned 3/3 network, regime bnn (binary operations)
        ("pabt_random", "pabt_random"),
    ]:
        assert pair in mapping
    # every ovsw, bop, pabt (and Bi-Real competitor) row of shared/reference is carried over
    assert [len(f) for f in frames] == [20 + 2, 4, 12]
    assert peers["where"].str.contains("OvSW Table 2").sum() == 2
    convergence = peers[peers["where"] == "Section 5.3 convergence"]
    assert set(convergence["recipe"]) == {"ovsw_ablation_half"} and set(convergence["metric"]) == {"top1"}


def peer_cell(recipe: str, variant: str, mean: float, n: int = 4, **extra) -> dict:
    ovsw_resnet18 = cell("resnet18_clip", "bnn", variant, mean, 1.0, n, dataset="cifar100")
    return ovsw_resnet18 | {"recipe": recipe} | extra


def test_peer_numbers_are_judged_against_their_papers_table() -> None:
    ovsw = frame(
        peer_cell("ovsw_ablation", "ovsw_vanilla", 65.0, never_flipped_last=50.0)
        | {"never_flipped_last_ci_low": 47.0, "never_flipped_last_ci_high": 53.0},
        peer_cell("ovsw_ablation_half", "ovsw_vanilla", 50.0),
        peer_cell("ovsw_ablation", "ovsw", 69.0, n=0),
    )
    reported = pd.concat([pd.read_csv(p) for p in PEER_CSVS], ignore_index=True)
    paper_tables = {"ovsw": "ovsw", "bop": "bop", "pabt": "pabt"}
    rows = regression.number_rows(reported, Tables(ovsw=ovsw), 2.0, paper_tables)
    verdicts = dict(zip(rows["id"] + "@" + reported["recipe"], rows["verdict"], strict=True))
    # vanilla at ovsw_ablation: 65 +- 1 (n 4) vs 65.23: PASS; never-flipped 50 [47, 53] vs 54.07: PASS
    vanilla = "ovsw:cifar100/resnet18_clip/bnn/ovsw_vanilla"
    assert verdicts[f"{vanilla}:top1@ovsw_ablation"] == "PASS"
    assert verdicts[f"{vanilla}:never_flipped_last_pct@ovsw_ablation"] == "PASS"
    # the same cell key under the half recipe is a different cell: 50 vs 55.28 FAILS
    assert verdicts[f"{vanilla}:top1@ovsw_ablation_half"] == "FAIL"
    assert verdicts["ovsw:cifar100/resnet18_clip/bnn/ovsw:top1@ovsw_ablation"] == "NOT RUN"  # n = 0
    assert verdicts["ovsw:imagenet/resnet18_imagenet/bnn/ovsw:top5@ovsw_imagenet"] == "NOT RUN"
    bireal = rows[rows["id"].str.startswith("bireal:")]
    assert set(bireal["verdict"]) == {"NOT RUN"}
    assert bireal["detail"].str.contains("no table reproduces paper 'bireal'").all()
    bop = rows[rows["id"].str.startswith("bop:")]
    assert set(bop["verdict"]) == {"NOT RUN"} and bop["detail"].str.contains("table_bop").any()


def test_run_check_with_every_papers_numbers_at_mini_scale(tmp_path: Path) -> None:
    """Digits runs of the peers' tables: every paper number is NOT RUN or UNSUPPORTED, the claims
    are judged."""
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
    assert set(numbers["verdict"]) == {"NOT RUN", "UNSUPPORTED"}
    # what the suite lacks is UNSUPPORTED, with the reason; the rest is NOT RUN at mini scale
    lacking = numbers[numbers["verdict"] == "UNSUPPORTED"]
    unsupported = dict(zip(lacking["id"], lacking["detail"], strict=True))
    for number, reason in [
        ("pabt:cityscapes/deeplabv3plus/bnn/pabt:miou", "no dataset 'cityscapes'"),
        ("bop:imagenet/xnornet/bnn/bop:top1", "no architecture 'xnornet'"),
        ("ovsw:imagenet/resnet18_imagenet/bnn/ovsw:top5", "no table tabulates the metric 'top5'"),
        ("pabt:cifar10/resnet20/mbn_8bit/fp:top1", "regime 'mbn_8bit'"),
    ]:
        assert reason in unsupported[number], number
    assert numbers.loc[numbers["id"].str.startswith("stompp:"), "verdict"].eq("NOT RUN").all()
    by_id = dict(zip(report["id"], report["verdict"], strict=True))
    assert by_id["P1:mini_pabt_cifar/digits/resnet20"] == "HOLDS"
    assert by_id["P2:all"] == "NOT RUN"  # no pabt_random cells
    assert by_id["O1:all"] == "NOT RUN"  # no table_ovsw.csv
    md = (results / "regression_report.md").read_text()
    assert "paper/reported/pabt.csv" in md and "table_ovsw.csv` (missing)" in md


# --------------------------------------------------------------------------- UNSUPPORTED, NOT RUN, PENDING

SUITE = Support(
    datasets=frozenset({"digits", "cifar10", "imagenet"}),
    archs=frozenset({"resnet18", "resnet50", "resnet50_imagenet"}),
    regimes=frozenset({"bnn", "bwn", "fp"}),
    metrics=frozenset({"top1", "gain_over_ste_pp"}),
    methods=frozenset({"ste", "stompp"}),
    variants={"ste": "ste", "stompp": "stompp", "ste_ft": "ste", "lost": "unregistered"},
)
IMAGENET_GAIN = pd.Series(
    {
        "paper": "stompp",
        "where": "abstract (v2)",
        "dataset": "imagenet",
        "arch": "resnet50_imagenet",
        "regime": "bnn",
        "method": "stompp",
        "variant": "stompp",
        "metric": "gain_over_ste_pp",
        "value": 3.8,
        "recipe": "paper_imagenet",
    }
)
IMAGENET_RUNS = tuple(
    RunId("paper_imagenet", "imagenet", "resnet50_imagenet", "bnn", variant, ordering, seed)
    for variant, ordering in (("ste", "none"), ("stompp", "forward"))
    for seed in (0, 1)
)


def without(support: Support, **lacking: str) -> Support:
    """``support`` without one name per field (``datasets="imagenet"``)."""
    return dataclasses.replace(support, **{k: getattr(support, k) - {v} for k, v in lacking.items()})


def test_a_number_is_unsupported_when_the_suite_lacks_its_dataset_arch_regime_metric_or_variant() -> None:
    row = IMAGENET_GAIN.to_dict()
    assert SUITE.reason(row) is None
    for change, reason in [
        ({"dataset": "cityscapes"}, "the suite has no dataset 'cityscapes' (has cifar10, digits, imagenet)"),
        ({"arch": "deeplabv3plus"}, "the suite has no architecture 'deeplabv3plus'"),
        ({"arch": "xnornet"}, "the suite has no architecture 'xnornet'"),
        ({"regime": "mbn_3bit"}, "no method trains in the regime 'mbn_3bit' (has bnn, bwn, fp)"),
        ({"metric": "top5"}, "no table tabulates the metric 'top5'"),
        ({"metric": "miou"}, "no table tabulates the metric 'miou'"),
        ({"variant": "xnor_bop"}, "the suite has no variant or method 'xnor_bop'"),
        ({"variant": "lost"}, "variant 'lost' runs the method 'unregistered', which is not registered"),
    ]:
        assert (SUITE.reason(row | change) or "").startswith(reason), change
    assert SUITE.reason(row | {"variant": "ste_ft"}) is None  # a declared variant of a method
    assert dataclasses.replace(SUITE, variants=None).reason(row | {"variant": "xnor_bop"}) is None
    # the number row says so, and the paper's table must tabulate the metric too
    verdict = regression.number_row(pd.Series(row | {"dataset": "cityscapes"}), Tables(), 2.0, support=SUITE)
    assert (verdict["verdict"], verdict["n"]) == ("UNSUPPORTED", 0)
    suite = dataclasses.replace(SUITE, metrics=SUITE.metrics | {"never_flipped_last_pct"})
    ordering = regression.number_row(
        pd.Series(row | {"metric": "never_flipped_last_pct"}), Tables(), 2.0, "ordering", suite
    )
    assert ordering["verdict"] == "UNSUPPORTED"
    # a cell that was produced is judged, whatever the suite declares (a user's own variant)
    mine = reported(("resnet18", "bwn", "mine", "top1", 80.5)).iloc[0]
    table = depth_table().replace({"variant": {"stompp": "mine"}})
    assert regression.number_row(mine, Tables(depth_scaling=table), 2.0, support=SUITE)["verdict"] == "PASS"
    assert regression.number_row(mine, Tables(), 2.0, support=SUITE)["verdict"] == "UNSUPPORTED"
    assert (
        ordering["detail"]
        == "table_ordering does not tabulate never_flipped_last_pct (it tabulates no metric)"
    )


def test_an_imagenet_number_is_unsupported_then_pending_then_judged() -> None:
    """The report marks StoMPP's ImageNet gain UNSUPPORTED while the suite lacks ImageNet,
    PENDING while its runs are in the grid but unfinished (or finished and not yet tabulated),
    and judges it once the table has them."""

    def judge(support: Support, finished: int, table: pd.DataFrame | None = None) -> dict:
        grid = Grid(
            {"depth_scaling": IMAGENET_RUNS}, frozenset(IMAGENET_RUNS[:finished]), "config paper.yaml"
        )
        return regression.number_row(
            IMAGENET_GAIN, Tables(depth_scaling=table), 2.0, support=support, grid=grid
        )

    lacking = judge(without(SUITE, datasets="imagenet"), finished=0)
    assert lacking["verdict"] == "UNSUPPORTED" and "no dataset 'imagenet'" in lacking["detail"]
    assert judge(without(SUITE, archs="resnet50_imagenet"), finished=4)["verdict"] == "UNSUPPORTED"
    cell_of = "paper_imagenet/imagenet/resnet50_imagenet/bnn/{}".format
    runs_of = f"runs of {cell_of('stompp')}, {cell_of('ste')}"
    for finished in (0, 3):
        row = judge(SUITE, finished)
        expected = f"{finished} of 4 {runs_of} finished in the grid of table_depth_scaling"
        expected += " (config paper.yaml)"
        assert (row["verdict"], row["detail"]) == ("PENDING", expected)
    done = judge(SUITE, 4)  # every run finished, the table not built from them yet
    assert done["verdict"] == "PENDING"
    assert done["detail"].endswith("table_depth_scaling does not count them yet (rebuild it)")
    table = frame(
        cell("resnet50_imagenet", "bnn", "ste", 20.0, 1.0, 2, dataset="imagenet"),
        cell("resnet50_imagenet", "bnn", "stompp", 24.0, 1.0, 2, dataset="imagenet"),
    )
    table["recipe"] = "paper_imagenet"
    table["gain_over_ste"], table["gain_ci_low"], table["gain_ci_high"] = (
        [math.nan, 4.0],
        [math.nan, 3.0],
        [math.nan, 5.0],
    )
    judged = judge(SUITE, 4, table)
    assert (judged["verdict"], judged["mean"], judged["n"]) == ("PASS", 4.0, 2)
    table["gain_ci_low"], table["gain_ci_high"] = [math.nan, 8.0], [math.nan, 9.0]
    assert judge(SUITE, 4, table)["verdict"] == "FAIL"


def test_a_number_is_not_run_when_the_grid_lacks_a_cell_it_needs() -> None:
    """A gain needs the baseline's cell too; a grid without it, or without the table, is NOT RUN;
    without a grid the report says NOT RUN as it always did."""
    no_ste = Grid({"depth_scaling": IMAGENET_RUNS[2:]}, frozenset(), "config mine.yaml")
    row = regression.number_row(IMAGENET_GAIN, Tables(), 2.0, support=SUITE, grid=no_ste)
    assert row["verdict"] == "NOT RUN"
    assert row["detail"] == (
        "not in the grid: the grid of table_depth_scaling (config mine.yaml) has no run of "
        "paper_imagenet/imagenet/resnet50_imagenet/bnn/ste"
    )
    top1 = pd.Series(IMAGENET_GAIN.to_dict() | {"metric": "top1", "value": 24.0})
    assert regression.number_row(top1, Tables(), 2.0, support=SUITE, grid=no_ste)["verdict"] == "PENDING"
    other = regression.number_row(IMAGENET_GAIN, Tables(), 2.0, support=SUITE, grid=Grid({}, frozenset()))
    assert other["detail"] == "not in the grid: the config has no table depth_scaling"
    assert regression.number_row(IMAGENET_GAIN, Tables(), 2.0, support=SUITE)["verdict"] == "NOT RUN"


def test_bnnbench_check_with_a_config_follows_an_imagenet_cell_until_it_is_judged(tmp_path: Path) -> None:
    """End to end: a config whose depth-scaling grid is StoMPP's ImageNet cell; the report from
    ``bnnbench check --config`` while the runs train, once they have finished, and once the table
    is built."""
    overlay = tmp_path / "imagenet.yaml"
    grid = {"variants": ["ste", "stompp"], "orderings": ["forward"], "regimes": ["bnn"], "seeds": [0, 1]}
    grid |= {"recipe": "paper_imagenet", "datasets": ["imagenet"], "archs": ["resnet50_imagenet"]}
    grid |= {"parts": [{}]}  # replaces the default's parts (its 5-seed claim cells)
    overlay.write_text(yaml.safe_dump({"tables": {"depth_scaling": grid}}))
    results = tmp_path / "results"
    argv = [
        "check",
        "--results-dir",
        str(results),
        "--reported",
        str(STOMPP_CSV),
        "--claims",
        str(CLAIMS_YAML),
    ]
    argv += ["--out", str(results / "regression_report"), "--config", str(overlay)]

    def imagenet_row() -> pd.Series:
        assert cli.main(argv) == 0
        report = pd.read_csv(results / "regression_report.csv")
        return report.set_index("id").loc["stompp:imagenet/resnet50_imagenet/bnn/stompp:gain_over_ste_pp"]

    accuracy = {"ste": 20.0, "stompp": 24.0}
    paths = [
        write_run(results, accuracy[run.variant] + run.seed, **dataclasses.asdict(run))
        for run in IMAGENET_RUNS[:3]
    ]
    pending = imagenet_row()
    assert pending["verdict"] == "PENDING" and pending["detail"].startswith("3 of 4 runs of")
    md = (results / "regression_report.md").read_text()
    assert "grid of the config imagenet.yaml:" in md
    assert "| PENDING |" in md.split("## Rows")[0]  # the summary counts PENDING
    paths.append(write_run(results, 25.0, **dataclasses.asdict(IMAGENET_RUNS[3])))
    assert imagenet_row()["detail"].endswith("does not count them yet (rebuild it)")
    build_table("depth_scaling", paths, results / "table_depth_scaling.csv", STOMPP_CSV)
    judged = imagenet_row()  # stompp 24.5 - ste 20.5 (n = 2 each): 3.8 lies in the widened interval
    assert (judged["verdict"], judged["n"], judged["mean"]) == ("PASS", 2, pytest.approx(4.0))
    cifar = pd.read_csv(results / "regression_report.csv").set_index("id")
    assert cifar.loc["stompp:cifar10/resnet50/bnn/stompp:gain_over_ste_pp", "verdict"] == "NOT RUN"


def test_a_number_the_paper_selected_on_its_best_epoch_shows_ours_beside_and_is_judged_on_the_final() -> None:
    """Item 5: the report says which epoch each paper's number is; a best-epoch number gets our
    best epoch beside it (optimistic), but the verdict still uses the final epoch."""
    rows = reported(("resnet18", "bwn", "stompp", "top1", 84.0), ("resnet18", "bwn", "stompp", "top1", 84.0))
    rows["selection"] = ["best", ""]
    table = depth_table()
    table["best_mean"] = [85.0, 61.0, 71.0, 70.0, 70.0]
    out = regression.number_rows(rows, table, 2.0)
    best, unstated = out.iloc[0], out.iloc[1]
    assert (best["selection"], best["best_epoch"], best["verdict"]) == ("best", 85.0, "FAIL")  # final 80 +- 1
    assert "the paper reports the best test epoch: ours is 85.00 (optimistic, not judged" in best["detail"]
    assert (unstated["selection"], unstated["best_epoch"]) == ("not stated", 85.0)
    assert "best test epoch" not in unstated["detail"]
    rows["selection"] = ["best", "maximum"]
    with pytest.raises(UserError, match="selection 'maximum'.*final, best, not stated"):
        regression.number_rows(rows, table, 2.0)


def test_every_reported_csv_says_which_epoch_where_a_seed_or_code_does() -> None:
    for path in sorted((ROOT / "paper" / "reported").glob("*.csv")):
        frame = pd.read_csv(path, keep_default_na=False)
        assert "selection" in frame, path.name
        assert set(frame["selection"]) <= set(regression.SELECTIONS), path.name
    ovsw = pd.read_csv(ROOT / "paper" / "reported" / "ovsw.csv", keep_default_na=False)
    own = ovsw[(ovsw["paper"] == "ovsw") & (ovsw["regime"] == "bnn") & (ovsw["metric"] == "top1")]
    assert len(own) >= 8 and set(own["selection"]) == {"best"}  # its main.py keeps best_acc1
