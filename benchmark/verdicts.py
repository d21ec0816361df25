"""The claim verdicts of two regression reports, side by side.

Issue 13 asks that the laptop verdicts survive a change of CPU kernels: the same claim grid run
under the native kernel set and pinned to AVX2 (``runtime.cpu_isa``), each judged by
``bnnbench check``, must give the same verdict on every claim scope. This module reads two
``regression_report.csv`` files and says, per scope, whether they agree, and, per claim, whether
it is *settled* in each report:

- a scope is *judged* when its verdict is HOLDS, FAILS or INCONCLUSIVE (NOT RUN, PENDING and
  UNSUPPORTED carry no verdict);
- a claim is *decided* when every judged scope HOLDS or FAILS;
- a claim is *settled* when every judged scope is decided, or INCONCLUSIVE with a half-width
  (the smallest difference its comparison could detect) under ``resolution`` points: the effect,
  if any, is below that.

    bnnbench verdicts A/results/regression_report.csv B/results/regression_report.csv \
        --labels AVX-512 AVX2
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from benchmark.power import CELL_SEPARATOR, seeds_text

JUDGED = ("HOLDS", "FAILS", "INCONCLUSIVE")
DECIDED = ("HOLDS", "FAILS")


@dataclass(frozen=True)
class Scope:
    """One claim row of a report: its verdict, the half-width of its widest comparison, the
    report's ``seeds_needed`` (``seeds``: NaN where blank) and the ``cells`` its comparisons of
    accuracies read (run directories without seeds; none in reports from before the column)."""

    verdict: str
    half_width: float | None
    seeds: float = math.nan
    cells: tuple[str, ...] = ()

    @property
    def seeds_needed(self) -> str:
        """``seeds`` as the report prints it: an integer, ``>1000`` or blank."""
        return seeds_text(self.seeds)

    @property
    def judged(self) -> bool:
        return self.verdict in JUDGED

    def settled(self, resolution: float) -> bool:
        if self.verdict in DECIDED:
            return True
        resolved = self.half_width is not None and self.half_width < resolution
        return self.verdict == "INCONCLUSIVE" and resolved


def read_claims(path: Path) -> dict[str, Scope]:
    """Claim rows of a regression report (``bnnbench check``'s CSV), by row id."""
    with Path(path).open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"] == "claim"]
    return {row["id"]: scope_of(row) for row in rows}


def scope_of(row: dict[str, str]) -> Scope:
    """A claim row; reports from before the ``seeds_needed`` or ``cells`` columns read as blank
    there."""
    needed = parse_float(row.get("seeds_needed") or "")
    cells = tuple(c for c in (row.get("cells") or "").split(CELL_SEPARATOR) if c)
    return Scope(
        row["verdict"], parse_width(row["half_width"]), math.nan if needed is None else needed, cells
    )


def parse_width(text: str) -> float | None:
    """A half-width; None for blank or NaN (and for infinite, which no interval has)."""
    value = parse_float(text)
    return None if value is None or math.isinf(value) else value


def parse_float(text: str) -> float | None:
    """A CSV number (``inf`` included); None for blank, NaN or text."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def claim_of(scope_id: str) -> str:
    """``"S2:digits/resnet18/stompp"`` -> ``"S2"``."""
    return scope_id.split(":", 1)[0]


def scopes_agree(a: dict[str, Scope], b: dict[str, Scope]) -> list[tuple[str, bool]]:
    """Every scope judged in both reports, with whether the two verdicts are the same."""
    both = [key for key in a if key in b and a[key].judged and b[key].judged]
    return [(key, a[key].verdict == b[key].verdict) for key in both]


def claim_status(report: dict[str, Scope], resolution: float) -> dict[str, str]:
    """Per claim: ``decided``, ``settled`` (undecided scopes resolved to under ``resolution``)
    or ``open``; claims with no judged scope are left out."""
    by_claim: dict[str, list[Scope]] = {}
    for key, scope in report.items():
        if scope.judged:
            by_claim.setdefault(claim_of(key), []).append(scope)
    status = {}
    for claim, scopes in by_claim.items():
        if all(s.verdict in DECIDED for s in scopes):
            status[claim] = "decided"
        elif all(s.settled(resolution) for s in scopes):
            status[claim] = "settled"
        else:
            status[claim] = "open"
    return status


def cell(scope: Scope | None, resolution: float) -> str:
    """``VERDICT (half-width)``, with ``, N seeds`` where the scope is not settled and the
    report says how many seeds would settle it."""
    if scope is None:
        return "—"
    if scope.half_width is None:
        return scope.verdict
    needed = scope.seeds_needed and not scope.settled(resolution)
    seeds = f", {scope.seeds_needed} seeds" if needed else ""
    return f"{scope.verdict} ({scope.half_width:.2f}{seeds})"


def format_markdown(
    a: dict[str, Scope], b: dict[str, Scope], labels: tuple[str, str], resolution: float = 2.0
) -> str:
    """The scopes of both reports in one table (verdict, half-width, and for a scope not
    settled the seeds it needs), then the counts."""
    keys = list(a) + [key for key in b if key not in a]
    lines = [f"| scope | {labels[0]} | {labels[1]} | same |", "| --- | --- | --- | --- |"]
    agree = dict(scopes_agree(a, b))
    for key in keys:
        state = agree.get(key)
        same = "—" if state is None else ("yes" if state else "**no**")
        lines.append(f"| {key} | {cell(a.get(key), resolution)} | {cell(b.get(key), resolution)} | {same} |")
    lines += ["", f"Same verdict on {sum(agree.values())} of {len(agree)} scopes judged in both."]
    for label, report in zip(labels, (a, b), strict=True):
        status = claim_status(report, resolution)
        counts = {k: sorted(c for c, s in status.items() if s == k) for k in ("decided", "settled")}
        lines.append(
            f"{label}: decided on every scope {len(counts['decided'])} of {len(status)} claims "
            f"({', '.join(counts['decided']) or 'none'}); undecided but resolved to under "
            f"{resolution:g} points: {', '.join(counts['settled']) or 'none'}."
        )
    return "\n".join(lines) + "\n"
