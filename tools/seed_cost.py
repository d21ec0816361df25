"""What more seeds would cost: per claim scope of the default config's laptop grid, the runs and
the run time it would take to give every cell the scope reads the seeds that the regression
report's ``seeds_needed`` asks for (issue 13's planning question)::

    python -m tools.seed_cost results/regression_report.csv results [other results dirs ...]

The first results directory is the design's own run: its seeds per cell are the ones there now.
A run's cost is the mean ``wall_seconds`` of the cell's runs that did not evaluate every few
steps (``evals`` in result.json), from any of the directories (the trajectories' seeds 0-4 cost
more than a seed added later), else of all its runs. A cell read by several scopes gets the
largest of their needs in the totals. The scopes and their cells are those of paper/claims.yaml
on the default config's grid (:data:`CELLS`); seconds are per run, two runs at a time on 2 cores,
so the minutes printed are half the run time.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from benchmark.regression import seeds_text

MINI = "mini/digits"
DEPTHS = ("resnet18", "resnet34", "resnet50")


def _ordering_cells(arch: str, pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{MINI}/{arch}/{regime}/{variant}" for regime, variant in pairs]


# claim scope (a regression report id) -> the cells (run directories under runs/) it compares
CELLS: dict[str, list[str]] = {
    "S1:digits": [f"{MINI}/{a}/bnn/{v}" for a in DEPTHS for v in ("ste/none", "stompp/forward")],
    **{
        f"S2:digits/{a}/stompp": _ordering_cells(
            a, [("bnn", "stompp/reverse"), ("bnn", "stompp/forward"), ("bnn", "random_features/none")]
        )
        for a in ("resnet18", "resnet50")
    },
    **{
        f"S3:digits/{a}/stompp": _ordering_cells(a, [("bwn", "stompp/forward"), ("bwn", "stompp/reverse")])
        for a in ("resnet18", "resnet50")
    },
    **{
        f"S4:digits/{a}/stompp": _ordering_cells(
            a, [(r, f"stompp/{o}") for r in ("bnn", "bwn") for o in ("forward", "global")]
        )
        for a in ("resnet18", "resnet50")
    },
    "S5:digits/resnet50": [
        f"{MINI}/resnet50/bnn/{v}" for v in ("stompp_ste/forward", "stompp/forward", "ste/none")
    ],
    "S7:mini_mobilenetv2/digits/mobilenetv2": [
        f"mini_mobilenetv2/digits/mobilenetv2/bnn/{v}" for v in ("ste/none", "stompp/forward")
    ],
    "O2:mini/digits/resnet18_clip": [
        f"{MINI}/resnet18_clip/bnn/{v}/none" for v in ("ovsw_vanilla", "ovsw_ags", "ovsw_sad", "ovsw")
    ],
    "O3:mini/digits/resnet18_clip": [
        "mini_half/digits/resnet18_clip/bnn/ovsw/none",
        f"{MINI}/resnet18_clip/bnn/ovsw_vanilla/none",
    ],
    "B1:mini_bop_cifar/digits/binarynet": [
        f"mini_bop_cifar/digits/binarynet/bnn/{v}/none" for v in ("bop", "ste")
    ],
    "P1:mini_pabt_cifar/digits/resnet20": [
        f"mini_pabt_cifar/digits/resnet20/bnn/{v}/none" for v in ("pabt", "pabt_1x1")
    ],
    "P2:mini_pabt_cifar/digits/resnet20": [
        f"mini_pabt_cifar/digits/resnet20/bnn/{v}/none" for v in ("pabt", "pabt_random")
    ],
}


def read_needs(report: Path) -> dict[str, tuple[str, float, float]]:
    """Claim rows of a regression report: id -> (verdict, half_width, seeds_needed)."""
    with Path(report).open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"] == "claim"]
    return {r["id"]: (r["verdict"], _number(r["half_width"]), _number(r["seeds_needed"])) for r in rows}


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


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


def cell_needs(needs: Mapping[str, tuple[str, float, float]], scopes: Iterable[str]) -> dict[str, float]:
    """Each cell the ``scopes`` read, with the largest seeds_needed among them."""
    out: dict[str, float] = {}
    for scope in scopes:
        need = needs[scope][2]
        for cell in CELLS[scope]:
            out[cell] = max(out.get(cell, 0.0), need) if math.isfinite(need) else out.get(cell, 0.0)
    return out


def format_markdown(needs: Mapping[str, tuple[str, float, float]], dirs: Sequence[Path]) -> str:
    """A row per scope of :data:`CELLS` that the report judged, then the totals."""
    scopes = [s for s in CELLS if s in needs]
    lines = [
        "| scope | verdict | half-width | seeds needed | cells | runs to add | their run time (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scope in scopes:
        verdict, half, need = needs[scope]
        runs, seconds = added(cell_needs(needs, [scope]), dirs)
        shown = seeds_text(need)
        lines.append(
            f"| {scope} | {verdict} | {half:.2f} | {shown} | {len(CELLS[scope])} | {runs} | {seconds:,.0f} |"
        )
    lines.append("")
    groups = {
        "StoMPP's scopes (S1-S5, S7)": [s for s in scopes if s.startswith("S")],
        "the peers' scopes (O2, O3, B1, P1, P2)": [s for s in scopes if not s.startswith("S")],
        "every scope": scopes,
        "the INCONCLUSIVE scopes": [s for s in scopes if needs[s][0] == "INCONCLUSIVE"],
    }
    for name, chosen in groups.items():
        runs, seconds = added(cell_needs(needs, chosen), dirs)
        lines.append(
            f"- {name}: {runs} runs, {seconds:,.0f} s of run time, about {seconds / 120:.0f} min on 2 cores"
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
