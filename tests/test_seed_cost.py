"""tools.seed_cost on a hand-made report and run directories: the runs a scope's cells (the
report's cells column) lack for its seeds_needed, costed at the mean wall_seconds of their runs
without per-step evals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tools import seed_cost

S3 = "S3:digits/resnet18/stompp"
S4 = "S4:digits/resnet18/stompp"
O2 = "O2:mini/digits/resnet18_clip"
FORWARD_BWN = "mini/digits/resnet18/bwn/stompp/forward"
REVERSE_BWN = "mini/digits/resnet18/bwn/stompp/reverse"
S3_CELLS = [REVERSE_BWN, FORWARD_BWN]
S4_CELLS = [f"mini/digits/resnet18/{r}/stompp/{o}" for r in ("bnn", "bwn") for o in ("forward", "global")]
CELLS = {S3: S3_CELLS, S4: S4_CELLS, O2: []}  # O2 here compared no accuracies (no cells)


def write_runs(results: Path, cell: str, seconds: list[float], evals: bool = False) -> None:
    for seed, wall in enumerate(seconds):
        run = results / "runs" / cell / f"seed{seed}"
        run.mkdir(parents=True)
        record = {"wall_seconds": wall} | ({"evals": {"every": 2}} if evals else {})
        (run / "result.json").write_text(json.dumps(record))


def write_report(path: Path, rows: list[tuple[str, str, float, float]], with_cells: bool = True) -> None:
    """Claim rows as bnnbench check writes them, the cells joined by ';' (CELLS)."""
    columns = ["id", "kind", "verdict", "half_width", "seeds_needed"] + ["cells"] * with_cells
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerow({"id": "stompp:x", "kind": "number", "verdict": "PASS", "half_width": 1.0})
        for scope, verdict, half, need in rows:
            row = {"id": scope, "kind": "claim", "verdict": verdict, "half_width": half, "seeds_needed": need}
            writer.writerow(row | ({"cells": ";".join(CELLS[scope])} if with_cells else {}))


def test_runs_and_time_to_reach_each_scopes_seeds(tmp_path: Path) -> None:
    results, extra = tmp_path / "design", tmp_path / "extra"
    for cell in S4_CELLS:
        write_runs(results, cell, [10.0, 10.0])
    write_runs(results, REVERSE_BWN, [10.0, 10.0], evals=True)
    write_runs(extra, FORWARD_BWN, [4.0])  # a cheaper run without evals elsewhere
    report = tmp_path / "report.csv"
    write_report(report, [(S3, "INCONCLUSIVE", 2.5, 5), (S4, "FAILS", 3.0, 3), (O2, "INCONCLUSIVE", 1.0, "")])
    needs = seed_cost.read_needs(report)
    assert list(needs) == [S3, S4]  # only claim rows that compare cells
    assert needs[S3].cells == tuple(S3_CELLS)
    dirs = [results, extra]
    assert seed_cost.seconds_per_run(dirs, FORWARD_BWN) == 8.0  # (10 + 10 + 4) / 3
    assert seed_cost.seconds_per_run(dirs, REVERSE_BWN) == 10.0  # all have evals
    assert seed_cost.added(seed_cost.cell_needs(needs, [S3]), dirs) == (6, 3 * 8.0 + 3 * 10.0)
    # S4 alone: one more seed in each of its 4 cells (forward bwn costs 8, the others 10)
    assert seed_cost.added(seed_cost.cell_needs(needs, [S4]), dirs) == (4, 8.0 + 3 * 10.0)
    # together, the shared forward cell is counted once, at S3's larger need
    assert seed_cost.added(seed_cost.cell_needs(needs, [S3, S4]), dirs) == (9, 3 * 8.0 + 3 * 10.0 + 3 * 10.0)
    text = seed_cost.format_markdown(needs, dirs)
    assert f"| {S3} | INCONCLUSIVE | 2.50 | 5 | 2 | 6 | 54 |" in text
    assert "- the INCONCLUSIVE scopes (S3): 6 runs, 54 s of run time" in text
    assert "- every scope (S3, S4): 9 runs, 84 s of run time" in text


def test_a_report_without_cells_says_how_to_rebuild_it(tmp_path: Path) -> None:
    report = tmp_path / "old.csv"
    write_report(report, [(S3, "INCONCLUSIVE", 2.5, 5)], with_cells=False)
    with pytest.raises(SystemExit, match="bnnbench check"):
        seed_cost.read_needs(report)
