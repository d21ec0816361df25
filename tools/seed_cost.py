"""What more seeds would cost: per claim scope of the default config's laptop grid, the runs and
the run time it would take to give every cell the scope reads the seeds that the regression
report's ``seeds_needed`` asks for (issue 13's planning question)::

    python -m tools.seed_cost results/regression_report.csv results [other results dirs ...]

The first results directory is the design's own run: its seeds per cell are the ones there now.
A run's cost is the mean ``wall_seconds`` of the cell's runs that did not evaluate every few
steps (``evals`` in result.json), from any of the directories (the trajectories' seeds 0-4 cost
more than a seed added later), else of all its runs. A cell read by several scopes gets the
largest of their needs in the totals. The scopes and the cells each compares are the report's
(its ``cells`` column, written by ``bnnbench check``), so any config's grid is priced; seconds
are per run, two runs at a time on 2 cores, so the minutes printed are half the run time.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from benchmark.verdicts import Scope, claim_of, read_claims


def read_needs(report: Path) -> dict[str, Scope]:
    """Claim rows of a regression report that compare cells, by id
    (:func:`benchmark.verdicts.read_claims`)."""
    with Path(report).open(newline="") as handle:
        if "cells" not in next(csv.reader(handle), []):
            raise SystemExit(
                f"{report} has no cells column (it predates it): rebuild it with "
                "bnnbench check --results-dir RESULTS --config CONFIG --out REPORT"
            )
    return {key: scope for key, scope in read_claims(report).items() if scope.cells}


def seeds_now(results: Path, cell: str) -> int:
    """Finished runs of ``cell`` under ``results/runs``."""
    return len(list((results / "runs" / cell).glob("seed*/result.json")))


def seconds_per_run(dirs: Sequence[Path], cell: str) -> float:
    """Mean wall_seconds of the cell's runs without per-step evals (all runs if every one has
    them), over ``dirs``; NaN when there is none."""
    plain, every = [], []
    for results in dirs:
        for path in sorted((results / "runs" / cell).glob("seed*/result.json")):
            record = json.loads(path.read_text())
            every.append(record["wall_seconds"])
            if not record.get("evals"):
                plain.append(record["wall_seconds"])
    chosen = plain or every
    return sum(chosen) / len(chosen) if chosen else math.nan


def added(needs: Mapping[str, float], dirs: Sequence[Path]) -> tuple[int, float]:
    """Runs to add and their run time (s) for every cell to reach its need (cell -> seeds)."""
    runs, seconds = 0, 0.0
    for cell, need in needs.items():
        more = max(0, int(need) - seeds_now(dirs[0], cell)) if math.isfinite(need) else 0
        runs += more
        seconds += more * seconds_per_run(dirs, cell) if more else 0.0
    return runs, seconds


def cell_needs(needs: Mapping[str, Scope], scopes: Iterable[str]) -> dict[str, float]:
    """Each cell the ``scopes`` read, with the largest seeds_needed among them."""
    out: dict[str, float] = {}
    for scope in scopes:
        need = needs[scope].seeds
        for cell in needs[scope].cells:
            out[cell] = max(out.get(cell, 0.0), need) if math.isfinite(need) else out.get(cell, 0.0)
    return out


def format_markdown(needs: Mapping[str, Scope], dirs: Sequence[Path]) -> str:
    """A row per scope that compares cells, then the totals."""
    scopes = list(needs)
    lines = [
        "| scope | verdict | half-width | seeds needed | cells | runs to add | their run time (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scope in scopes:
        need = needs[scope]
        runs, seconds = added(cell_needs(needs, [scope]), dirs)
        lines.append(
            f"| {scope} | {need.verdict} | {need.half_width:.2f} | {need.seeds_needed} | "
            f"{len(need.cells)} | {runs} | {seconds:,.0f} |"
        )
    lines.append("")
    groups = {
        "StoMPP's scopes": [s for s in scopes if s.startswith("S")],
        "the peers' scopes": [s for s in scopes if not s.startswith("S")],
        "every scope": scopes,
        "the INCONCLUSIVE scopes": [s for s in scopes if needs[s].verdict == "INCONCLUSIVE"],
    }
    for name, chosen in groups.items():
        runs, seconds = added(cell_needs(needs, chosen), dirs)
        claims = ", ".join(dict.fromkeys(claim_of(scope) for scope in chosen)) or "none"
        lines.append(
            f"- {name} ({claims}): {runs} runs, {seconds:,.0f} s of run time, "
            f"about {seconds / 120:.0f} min on 2 cores"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a regression_report.csv (bnnbench check)")
    parser.add_argument(
        "results", type=Path, nargs="+", help="results directories; the first is the design's"
    )
    args = parser.parse_args(argv)
    print(format_markdown(read_needs(args.report), args.results), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
