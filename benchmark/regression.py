"""The regression report: one row per reported number and per claim (and scope).

Number rows compare a paper's value with the reproduced cell of the depth-scaling table:
PASS when the reported value lies inside [ci_low - tol, ci_high + tol] (n >= 2), or
within tol of the mean when the interval is undefined (a single seed); FAIL otherwise;
NOT RUN when the cell is absent or empty. Claim rows come from :mod:`benchmark.claims`.
"""

from __future__ import annotations

import math

import pandas as pd

from benchmark import claims as cl
from benchmark.render import fmt, markdown

PASS, FAIL, NOT_RUN = "PASS", "FAIL", cl.NOT_RUN
NAN = float("nan")
REPORT_COLUMNS = [
    "id",
    "kind",
    "description",
    "mean",
    "std",
    "n",
    "ci_low",
    "ci_high",
    "reported",
    "tolerance",
    "verdict",
    "detail",
]
VERDICT_ORDER = [PASS, FAIL, cl.HOLDS, cl.FAILS, cl.INCONCLUSIVE, NOT_RUN]
# metric in paper/reported -> (estimate, interval low, interval high) columns of depth_scaling
METRIC_COLUMNS = {
    "top1": ("mean", "ci_low", "ci_high"),
    "gain_over_ste_pp": ("gain_over_ste", "gain_ci_low", "gain_ci_high"),
}


def number_verdict(mean: float, low: float, high: float, reported: float, tol: float) -> str:
    """PASS/FAIL for one reproduced number; NOT RUN when nothing was reproduced."""
    if not math.isfinite(mean):
        return NOT_RUN
    if math.isfinite(low) and math.isfinite(high):
        return PASS if low - tol <= reported <= high + tol else FAIL
    return PASS if abs(mean - reported) <= tol else FAIL


def _number_id(r: pd.Series) -> str:
    return f"{r['paper']}:{r['dataset']}/{r['arch']}/{r['regime']}/{r['variant']}:{r['metric']}"


def number_row(r: pd.Series, depth: pd.DataFrame | None, tol: float) -> dict:
    """The report row of one reported number (a row of paper/reported/<paper>.csv)."""
    row = {c: NAN for c in REPORT_COLUMNS} | {"n": 0, "kind": "number", "tolerance": tol}
    row |= {"id": _number_id(r), "reported": float(r["value"])}
    row["description"] = f"{r['paper']} {r['where']}: {r['method']} {r['metric']}"
    cell_name = f"{r['dataset']}/{r['arch']}/{r['regime']}/{r['variant']}"
    cell = None
    if depth is not None:
        cell = cl.find_cell(depth, r["dataset"], r["arch"], r["regime"], r["variant"], "forward")
    if r["metric"] not in METRIC_COLUMNS:
        return row | {"verdict": NOT_RUN, "detail": f"metric {r['metric']} is not tabulated"}
    if cell is None or cell["n"] == 0:
        return row | {"verdict": NOT_RUN, "detail": f"no finished run for {cell_name}"}
    mean_c, low_c, high_c = METRIC_COLUMNS[r["metric"]]
    mean, low, high = float(cell[mean_c]), float(cell[low_c]), float(cell[high_c])
    std = float(cell["std"]) if r["metric"] == "top1" else NAN
    row |= {"mean": mean, "std": std, "n": int(cell["n"]), "ci_low": low, "ci_high": high}
    if not math.isfinite(mean):
        return row | {"verdict": NOT_RUN, "detail": f"no baseline (ste) cell for {cell_name}"}
    verdict = number_verdict(mean, low, high, row["reported"], tol)
    rule = (
        f"accept [{fmt(low - tol)}, {fmt(high + tol)}]"
        if math.isfinite(low)
        else f"single seed: accept |mean - reported| <= {tol:g}"
    )
    detail = f"{cell_name} (recipe {cell['recipe']}): {r['metric']} {fmt(mean)}; {rule}"
    return row | {"verdict": verdict, "detail": detail}


def number_rows(reported: pd.DataFrame, depth: pd.DataFrame | None, tol: float) -> pd.DataFrame:
    """One row per reported number; ``reported`` maps methods to variants in a ``variant``
    column (the method name is used where it has none)."""
    reported = reported.copy()
    if "variant" not in reported:
        reported["variant"] = reported["method"]
    rows = [number_row(r, depth, tol) for _, r in reported.iterrows()]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def claim_row(claim: cl.Claim, outcome: cl.Outcome) -> dict:
    """The report row of a claim in one scope; the numbers are those of its only comparison
    (a claim of several comparisons keeps them all in ``detail``)."""
    single = outcome.parts[0] if len(outcome.parts) == 1 else None
    has_interval = single is not None and math.isfinite(single.estimate)
    row = {c: NAN for c in REPORT_COLUMNS} | {"kind": "claim", "verdict": outcome.verdict}
    row |= {"id": f"{claim.id}:{outcome.scope}", "description": claim.description}
    row["n"] = min((p.n for p in outcome.parts), default=0)
    row["detail"] = "; ".join(p.text for p in outcome.parts)
    if has_interval:
        row |= {"mean": single.estimate, "ci_low": single.ci_low, "ci_high": single.ci_high}
    return row


def claim_rows(claims: list[cl.Claim], tables: cl.Tables) -> pd.DataFrame:
    rows = [claim_row(c, o) for c in claims for o in c.evaluate(tables)]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def build_report(
    reported: pd.DataFrame, claims: list[cl.Claim], tables: cl.Tables, tolerance_pp: float
) -> pd.DataFrame:
    """Numbers first, then claims, columns REPORT_COLUMNS."""
    numbers = number_rows(reported, tables.depth_scaling, tolerance_pp)
    judged = claim_rows(claims, tables)
    frames = [f for f in (numbers, judged) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    report = pd.concat(frames, ignore_index=True)
    return report.astype({"n": int})


def verdict_counts(report: pd.DataFrame) -> pd.DataFrame:
    """Counts per kind and verdict (every verdict column present, zeros included)."""
    counts = pd.crosstab(report["kind"], report["verdict"]) if not report.empty else None
    rows = []
    for kind in ("number", "claim"):
        row = {"kind": kind}
        for verdict in VERDICT_ORDER:
            has = counts is not None and kind in counts.index and verdict in counts.columns
            row[verdict] = int(counts.loc[kind, verdict]) if has else 0
        rows.append(row)
    return pd.DataFrame(rows, columns=["kind", *VERDICT_ORDER])


def report_markdown(report: pd.DataFrame, sources: str = "") -> str:
    """The report as Markdown: a summary of verdict counts, then every row."""
    counts = verdict_counts(report).astype(str)
    shown = report.copy()
    for column in ("mean", "std", "ci_low", "ci_high", "reported", "tolerance"):
        shown[column] = [fmt(v) for v in report[column]]
    shown = shown.astype(str)
    intro = (
        "Numbers: PASS when the reported value lies in the 95% interval widened by the "
        "tolerance. Claims: HOLDS / FAILS / INCONCLUSIVE from 95% Welch intervals; NOT RUN "
        "when the cells are missing."
    )
    parts = ["# Regression report", "", intro, ""]
    if sources:
        parts += [sources, ""]
    parts += ["## Summary", "", markdown(counts, left=["kind"]), "## Rows", ""]
    parts.append(markdown(shown, left=["id", "kind", "description", "verdict", "detail"]))
    return "\n".join(parts)
