"""Tables and figures as registered definitions (benchmark/outputs.py): a table registered here,
and nowhere else, reaches the CLI, the renderings, the regression report and the claims."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, outputs, render
from benchmark.cli import main
from benchmark.identity import RunId
from benchmark.reporting import run_check
from benchmark.tables import TOP1

ACCURACY = {"good": (90.0, 91.0), "plain": (50.0, 51.0)}


def summary(runs: pd.DataFrame, reported: pd.DataFrame | None) -> pd.DataFrame:
    return aggregate.cell_summary(runs, keys=["recipe", *aggregate.CELL_KEYS])


MINE = outputs.TableDef(
    name="mine",
    description="a table of this test's own",
    build=summary,
    display=render.display_cells,
    note="Made by a test.",
    order=99,
    metrics={"top1": TOP1},
)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> outputs.TableDef:
    monkeypatch.setitem(outputs.TABLES._items, MINE.name, MINE)
    return MINE


def write_runs(root: Path) -> list[str]:
    """Finished result.json records of two variants, two seeds each, in the run layout."""
    paths = []
    for variant, accuracies in ACCURACY.items():
        for seed, acc in enumerate(accuracies):
            run = RunId("r", "digits", "resnet18", "bnn", variant, "none", seed)
            path = root / run.result
            path.parent.mkdir(parents=True)
            record = {"identity": {**run.as_dict(), "method": "ste"}, "status": "ok", "test_acc": acc}
            path.write_text(json.dumps(record | {"chance_acc": 10.0, "num_classes": 10}))
            paths.append(str(path))
    return paths


def test_a_registered_table_is_listed_built_rendered_and_judged(
    registered: outputs.TableDef, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["table", "--help"])
    assert "mine: a table of this test's own" in capsys.readouterr().out
    assert outputs.claim_inputs()[-2:] == ["mine", "trajectories"]

    results, paper = tmp_path / "results", tmp_path / "paper"
    runs = write_runs(tmp_path)
    args = ["table", "mine", "--runs", *runs, "--out", str(results / "table_mine.csv")]
    assert main([*args, "--tables-dir", str(paper)]) == 0
    table = pd.read_csv(results / "table_mine.csv")
    assert table.set_index("variant")["mean"].to_dict() == {"good": 90.5, "plain": 50.5}
    markdown = (paper / "table_mine.md").read_text()
    assert "Made by a test." in markdown and "90.50 ± 0.71" in markdown
    assert "90.50 $\\pm$ 0.71" in (paper / "table_mine.tex").read_text()

    claims = tmp_path / "claims.yaml"
    claims.write_text(
        "numbers: {tolerance_pp: 1.0, tables: {mypaper: mine}}\n"
        "claims:\n"
        "  - {id: M1, check: beats, description: good beats plain,\n"
        "     params: {table: mine, regime: bnn, variant: good, baseline: plain, margin_pp: 10.0}}\n"
    )
    reported = tmp_path / "mine.csv"
    reported.write_text(
        "paper,where,dataset,arch,regime,method,metric,value\nmypaper,T1,digits,resnet18,bnn,good,top1,90.0\n"
    )
    report = run_check(results, [reported], claims, tmp_path / "report").set_index("id")
    assert report.loc["M1:r/digits/resnet18", "verdict"] == "HOLDS"
    assert report.loc["mypaper:digits/resnet18/bnn/good:top1", "verdict"] == "PASS"
    assert "table_mine.csv" in (tmp_path / "report.md").read_text()


def test_an_unknown_table_lists_the_registered_ones_in_display_order() -> None:
    expected = "Valid tables: depth_scaling, ordering, hybrids, architectures, bireal, peers, ovsw, bop, pabt"
    with pytest.raises(Exception, match=expected):
        outputs.table("depth")
    assert [f.name for f in outputs.figures_in_order()] == [
        "trajectories",
        "curves_bwn",
        "curves_hybrids",
        "curves_bireal",
        "curves_pabt",
        "silent_weights",
        "sweep_schedule_refresh",
        "sweep_masking",
        "sweep_epochs",
        "ovsw_sweeps",
    ]
