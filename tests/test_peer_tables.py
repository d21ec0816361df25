"""The peers table and the peers' own tables (ovsw, bop, pabt) from hand-made run directories:
statistics, differences to the baseline, speed, never-flipped shares, reported values and
renderings."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, render, tables
from benchmark.errors import UserError
from benchmark.outputs import TABLES
from benchmark.reporting import build_table, read_reported
from tests.test_tables import row, run_dir, write_run

ROOT = Path(__file__).resolve().parents[1]
REPORTED = [ROOT / "paper" / "reported" / f"{p}.csv" for p in ("stompp", "ovsw", "bop", "pabt")]


@pytest.fixture
def peer_runs(tmp_path: Path) -> list[Path]:
    """Under recipe mini: fp, ste (3 seeds), stompp, hybrid (forward), ovsw, bop; pabt never ran."""
    paths = [write_run(tmp_path, 95.0, variant="fp")]
    for seed, acc in enumerate([60.0, 62.0, 64.0]):
        paths.append(
            write_run(tmp_path, acc, variant="ste", seed=seed, flips=(40.0, 50.0), steps_per_second=40 + seed)
        )
    for seed, acc in enumerate([70.0, 72.0]):
        paths.append(
            write_run(tmp_path, acc, variant="ovsw", seed=seed, flips=(4.0 + seed, 2.0), steps_per_second=20)
        )
        paths.append(write_run(tmp_path, acc - 5, variant="bop", seed=seed, flips=(30.0, 30.0)))
        paths.append(write_run(tmp_path, acc - 8, variant="stompp", seed=seed))
        paths.append(write_run(tmp_path, acc - 9, variant="hybrid", seed=seed))
    paths.append(write_run(tmp_path, 10.0, variant="ovsw", seed=2, status="diverged", flips=(99.0, 99.0)))
    paths.append(run_dir(tmp_path, variant="pabt") / "result.json")
    return paths


def peers_table(paths: list[Path]) -> pd.DataFrame:
    return tables.peers(aggregate.with_flip_metrics(aggregate.read_runs(paths)))


def test_flip_metrics_come_from_metrics_and_layers_csv(peer_runs: list[Path]) -> None:
    runs = aggregate.with_flip_metrics(aggregate.read_runs(peer_runs))
    ste = runs[(runs.variant == "ste") & (runs.seed == 0)].iloc[0]
    assert (ste.never_flipped, ste.never_flipped_last, ste.last_layer) == (40.0, 50.0, "layer4.1.conv2")
    assert ste.steps_per_second == 40.0
    stompp = runs[runs.variant == "stompp"].iloc[0]  # ran without flip statistics
    assert math.isnan(stompp.never_flipped) and pd.isna(stompp.last_layer)
    missing = runs[runs.variant == "pabt"].iloc[0]
    assert not missing.complete and math.isnan(missing.never_flipped)


def test_peers_table_cells_differences_speed_and_flips(peer_runs: list[Path]) -> None:
    table = peers_table(peer_runs)
    assert list(table.columns) == tables.PEER_COLUMNS
    assert [(v, o) for v, o in zip(table.variant, table.ordering, strict=True)] == [
        ("fp", "none"),
        ("ste", "none"),
        ("stompp", "forward"),
        ("hybrid", "forward"),
        ("ovsw", "none"),
        ("bop", "none"),
        ("pabt", "none"),
    ]
    ste = row(table, variant="ste")
    assert (ste.n, ste["mean"], ste.steps_per_second) == (3, 62.0, 41.0)
    assert math.isnan(ste["diff"]) and ste.baseline == "ste"
    assert ste.never_flipped == 40.0 and ste.never_flipped_ci_low == 40.0  # no spread
    ovsw = row(table, variant="ovsw")
    assert ovsw.n == 3 and ovsw.n_diverged == 1  # the diverged run counts at chance
    assert ovsw["diff"] == pytest.approx((70 + 72 + 10) / 3 - 62.0)
    assert ovsw.diff_ci_low < ovsw["diff"] < ovsw.diff_ci_high
    # flip statistics over the runs that finished ok only: the diverged run's 99% is left out
    assert ovsw.never_flipped == pytest.approx(4.5) and ovsw.never_flipped_last == 2.0
    assert ovsw.never_flipped_ci_low == pytest.approx(4.5 - 12.7062047 * 0.5, abs=1e-5)
    fp = row(table, variant="fp")
    assert fp.regime == "fp" and math.isnan(fp["diff"]) and math.isnan(fp.never_flipped)
    pabt = row(table, variant="pabt")
    assert pabt.n == 0 and math.isnan(pabt.steps_per_second)


def test_peers_table_refuses_mixed_recipes(tmp_path: Path) -> None:
    paths = [
        write_run(tmp_path, 60.0, variant="ste"),
        write_run(tmp_path, 61.0, variant="bop", recipe="bop_cifar"),
    ]
    with pytest.raises(UserError, match="'bop_cifar'.*'mini'"):
        peers_table(paths)


@pytest.fixture
def ovsw_runs(tmp_path: Path) -> list[Path]:
    """Table 1 (fp, ovsw) under ovsw_cifar; the ablation (ste, ovsw) under ovsw_ablation and
    the convergence rows under ovsw_ablation_half, on cifar100 for the ablation; all on OvSW's
    ResNet-18 (resnet18_clip), the arch its reported numbers name."""
    paths = []
    for seed in range(2):
        table1 = {"recipe": "ovsw_cifar", "dataset": "cifar10", "arch": "resnet18_clip", "seed": seed}
        paths.append(write_run(tmp_path, 94.0 + seed, variant="fp", **table1))
        paths.append(write_run(tmp_path, 92.0 + seed, variant="ovsw", **table1))
        for recipe, vanilla, ovsw in (("ovsw_ablation", 65.0, 69.0), ("ovsw_ablation_half", 55.0, 66.0)):
            kw = {"recipe": recipe, "dataset": "cifar100", "arch": "resnet18_clip", "seed": seed}
            flips = (45.0, 54.0 + seed)
            paths.append(write_run(tmp_path, vanilla + seed, variant="ovsw_vanilla", flips=flips, **kw))
            paths.append(write_run(tmp_path, ovsw + seed, variant="ovsw", flips=(3.0, 2.0 + seed), **kw))
    return paths


def test_ovsw_table_mixes_recipes_and_compares_within_each(ovsw_runs: list[Path]) -> None:
    reported = read_reported(REPORTED)
    table = TABLES.get("ovsw").build(aggregate.with_flip_metrics(aggregate.read_runs(ovsw_runs)), reported)
    assert list(zip(table.recipe, table.variant, strict=True)) == [
        ("ovsw_ablation", "ovsw_vanilla"),
        ("ovsw_ablation", "ovsw"),
        ("ovsw_ablation_half", "ovsw_vanilla"),
        ("ovsw_ablation_half", "ovsw"),
        ("ovsw_cifar", "fp"),
        ("ovsw_cifar", "ovsw"),
    ]
    half = row(table, recipe="ovsw_ablation_half", variant="ovsw")
    assert half["diff"] == pytest.approx(11.0)  # against OvSW's vanilla BNN of the same (half) recipe
    assert set(table.baseline) == {"ovsw_vanilla"}
    assert math.isnan(row(table, recipe="ovsw_cifar", variant="ovsw")["diff"])  # no vanilla row there
    # reported values, matched on the recipe the paper's row names
    vanilla = row(table, recipe="ovsw_ablation", variant="ovsw_vanilla")
    assert (vanilla.reported, vanilla.reported_never_flipped_last) == (65.23, 54.07)
    assert vanilla.never_flipped_last == 54.5 and vanilla.last_layer == "layer4.1.conv2"
    assert row(table, recipe="ovsw_ablation_half", variant="ovsw").reported == 66.37
    assert row(table, recipe="ovsw_cifar", variant="fp").reported == 94.8
    assert math.isnan(row(table, recipe="ovsw_ablation_half", variant="ovsw").reported_never_flipped_last)


def test_bop_and_pabt_tables_use_their_papers_baselines(tmp_path: Path) -> None:
    paths = []
    for seed in range(2):
        paths.append(
            write_run(tmp_path, 90.0 + seed, variant="ste", recipe="bop_cifar", arch="binarynet", seed=seed)
        )
        paths.append(
            write_run(tmp_path, 91.0 + seed, variant="bop", recipe="bop_cifar", arch="binarynet", seed=seed)
        )
        for variant, acc in (("pabt_1x1", 84.0), ("pabt_random", 85.0), ("pabt", 86.5)):
            paths.append(
                write_run(
                    tmp_path, acc + seed, variant=variant, recipe="pabt_cifar", arch="resnet20", seed=seed
                )
            )
    runs = aggregate.with_flip_metrics(aggregate.read_runs(paths))
    bop = TABLES.get("bop").build(runs[runs.recipe == "bop_cifar"], None)
    assert row(bop, variant="bop")["diff"] == pytest.approx(1.0) and set(bop.baseline) == {"ste"}
    pabt = TABLES.get("pabt").build(runs[runs.recipe == "pabt_cifar"], None)
    assert list(pabt.variant) == ["pabt_1x1", "pabt_random", "pabt"]
    assert row(pabt, variant="pabt")["diff"] == pytest.approx(2.5) and set(pabt.baseline) == {"pabt_1x1"}


def test_peer_rendering(peer_runs: list[Path]) -> None:
    shown = TABLES.get("peers").display(peers_table(peer_runs))
    assert list(shown.columns)[:2] == ["Recipe", "Dataset"]
    md = render.markdown(shown, "Table: peers")
    header = md.splitlines()[2]
    for text in ("Δ vs ste [95% CI]", "Steps/s", "Never flipped, all (%)", "Never flipped, last layer (%)"):
        assert text in header
    assert (
        "| mini | digits | resnet18 | bnn | ste | none | 3 | 62.00 ± 2.00 | [57.03, 66.97] | — | 41.00 |"
        in md
    )
    assert "| 40.00 [40.00, 40.00] | 50.00 [50.00, 50.00] |" in md
    assert md.splitlines()[3].startswith("|:---|:---|:---|:---|:---|:---|---:|")
    pabt = [line for line in md.splitlines() if "| pabt |" in line][0]
    assert "NOT RUN" in pabt
    tex = render.latex(shown)
    assert tex.startswith("\\begin{tabular}{llllllrrrrrrrrrrrrr}")  # + best epoch, OPs, size
    assert r"$\Delta$ vs ste" in tex


def test_build_table_peers_and_ovsw_write_csv_markdown_latex(tmp_path: Path, peer_runs, ovsw_runs) -> None:
    tdir = tmp_path / "paper" / "tables"
    out = tmp_path / "results" / "table_peers.csv"
    table = build_table("peers", peer_runs, out, REPORTED, tdir)
    assert list(pd.read_csv(out).columns) == tables.PEER_COLUMNS and len(table) == 7
    md = (tdir / "table_peers.md").read_text()
    assert "Every method under one matched recipe" in md and "recipe mini" in md
    assert (tdir / "table_peers.tex").read_text().count(r"\toprule") == 1
    build_table("ovsw", ovsw_runs, tmp_path / "results" / "table_ovsw.csv", REPORTED, tdir)
    md = (tdir / "table_ovsw.md").read_text()
    assert "65.23 (top-1); 54.07 (never flipped, last layer)" in md
    assert "recipe ovsw_ablation, ovsw_ablation_half, ovsw_cifar" in md


def test_reported_files_are_concatenated_and_checked(tmp_path: Path) -> None:
    reported = read_reported(REPORTED)
    assert set(reported.paper) == {"stompp", "ovsw", "bireal", "bop", "pabt"}
    assert len(reported) == sum(len(pd.read_csv(p)) for p in REPORTED)
    bad = tmp_path / "bad.csv"
    bad.write_text("paper,value\nx,1\n")
    with pytest.raises(UserError, match="lacks the columns"):
        read_reported([REPORTED[0], bad])
    with pytest.raises(UserError, match="not found"):
        read_reported([tmp_path / "none.csv"])
