"""The regression report: one row per reported number and per claim (and scope).

Number rows compare a paper's value with the reproduced cell of the table that reproduces
that paper (``numbers.tables`` in claims.yaml: StoMPP's numbers against the depth-scaling
table, OvSW's against table_ovsw, ...): PASS when the reported value lies inside
[ci_low - tol, ci_high + tol] (n >= 2), or within tol of the mean when the interval is
undefined (a single seed); FAIL otherwise; NOT RUN when the paper has no table, the cell is
absent or empty, or the metric is not tabulated (top-5, mIoU). A reported row that names a
``recipe`` matches only cells trained with it. Claim rows come from :mod:`benchmark.claims`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from benchmark import claims as cl
from benchmark import outputs
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
    "half_width",
    "reported",
    "tolerance",
    "verdict",
    "detail",
]
VERDICT_ORDER = [PASS, FAIL, cl.HOLDS, cl.FAILS, cl.INCONCLUSIVE, NOT_RUN]
DEFAULT_TABLE = "depth_scaling"


def number_verdict(mean: float, low: float, high: float, reported: float, tol: float) -> str:
    """PASS/FAIL for one reproduced number; NOT RUN when nothing was reproduced."""
    if not math.isfinite(mean):
        return NOT_RUN
    if math.isfinite(low) and math.isfinite(high):
        return PASS if low - tol <= reported <= high + tol else FAIL
    return PASS if abs(mean - reported) <= tol else FAIL


def _number_id(r: pd.Series) -> str:
    return f"{r['paper']}:{r['dataset']}/{r['arch']}/{r['regime']}/{r['variant']}:{r['metric']}"


def _recipe_of(r: pd.Series) -> str:
    """The recipe a reported row names ('' when none: any recipe matches)."""
    value = r.get("recipe", "")
    return "" if not isinstance(value, str) else value.strip()


def find_number_cell(table: pd.DataFrame | None, r: pd.Series) -> pd.Series | None:
    """The table cell a reported number describes: same dataset/arch/regime/variant, ordering
    forward (or none), and the reported row's recipe when it names one."""
    if table is None:
        return None
    recipe = _recipe_of(r)
    if recipe and "recipe" in table:
        table = table[table["recipe"] == recipe]
    return cl.find_cell(table, r["dataset"], r["arch"], r["regime"], r["variant"], "forward")


def number_row(r: pd.Series, tables: cl.Tables, tol: float, table_name: str | None = DEFAULT_TABLE) -> dict:
    """The report row of one reported number (a row of paper/reported/<paper>.csv), judged
    against the cell of ``table_name`` (None: the paper has no table here)."""
    row = {c: NAN for c in REPORT_COLUMNS} | {"n": 0, "kind": "number", "tolerance": tol}
    row |= {"id": _number_id(r), "reported": float(r["value"])}
    row["description"] = f"{r['paper']} {r['where']}: {r['method']} {r['metric']}"
    recipe = _recipe_of(r)
    cell_name = (f"{recipe}/" if recipe else "") + f"{r['dataset']}/{r['arch']}/{r['regime']}/{r['variant']}"
    if table_name is None:
        return row | {"verdict": NOT_RUN, "detail": f"no table reproduces paper '{r['paper']}'"}
    table = tables.get(table_name)
    cell = find_number_cell(table, r)
    # the (estimate, interval) columns that reproduce the metric, as the table's definition says
    columns = outputs.table(table_name).metrics.get(r["metric"])
    if columns is None or (table is not None and columns[0] not in table):
        return row | {"verdict": NOT_RUN, "detail": f"metric {r['metric']} is not tabulated"}
    if cell is None or cell["n"] == 0:
        return row | {"verdict": NOT_RUN, "detail": f"no finished run for {cell_name} in table_{table_name}"}
    mean, low, high = (float(cell[c]) for c in columns)
    std = float(cell["std"]) if r["metric"] == "top1" else NAN
    row |= {"mean": mean, "std": std, "n": int(cell["n"]), "ci_low": low, "ci_high": high}
    row["half_width"] = half_width(low, high)
    if not math.isfinite(mean):
        missing = "no baseline (ste) cell" if r["metric"] == "gain_over_ste_pp" else "no value"
        return row | {"verdict": NOT_RUN, "detail": f"{missing} for {cell_name}"}
    verdict = number_verdict(mean, low, high, row["reported"], tol)
    rule = (
        f"accept [{fmt(low - tol)}, {fmt(high + tol)}]"
        if math.isfinite(low)
        else f"single seed: accept |mean - reported| <= {tol:g}"
    )
    detail = f"{cell_name} (recipe {cell['recipe']}): {r['metric']} {fmt(mean)}; {rule}"
    return row | {"verdict": verdict, "detail": detail}


def number_rows(
    reported: pd.DataFrame,
    tables: cl.Tables | pd.DataFrame | None,
    tol: float,
    paper_tables: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per reported number; ``reported`` maps methods to variants in a ``variant``
    column (the method name is used where it has none). ``paper_tables`` maps each paper to
    the table that reproduces it (a paper not listed is NOT RUN); None looks every paper up
    in the depth-scaling table. A bare DataFrame is taken as the depth-scaling table."""
    if not isinstance(tables, cl.Tables):
        tables = cl.Tables(depth_scaling=tables)
    reported = reported.copy()
    if "variant" not in reported:
        reported["variant"] = reported["method"]
    rows = [
        number_row(r, tables, tol, DEFAULT_TABLE if paper_tables is None else paper_tables.get(r["paper"]))
        for _, r in reported.iterrows()
    ]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def half_width(low: float, high: float) -> float:
    """Half the width of a 95% interval: the smallest difference its comparison could have
    detected (NaN when the interval is undefined, e.g. a single seed)."""
    return (high - low) / 2 if math.isfinite(low) and math.isfinite(high) else NAN


def claim_row(claim: cl.Claim, outcome: cl.Outcome) -> dict:
    """The report row of a claim in one scope; the numbers are those of its only comparison
    (a claim of several comparisons keeps them all in ``detail``). ``half_width`` is that of
    the widest interval among its comparisons: a difference smaller than it could go unseen
    by at least one of them, so an INCONCLUSIVE verdict with a wide one says the study was too
    small, with a narrow one that the effect is smaller than it."""
    single = outcome.parts[0] if len(outcome.parts) == 1 else None
    has_interval = single is not None and math.isfinite(single.estimate)
    row = {c: NAN for c in REPORT_COLUMNS} | {"kind": "claim", "verdict": outcome.verdict}
    row |= {"id": f"{claim.id}:{outcome.scope}", "description": claim.description}
    row["n"] = min((p.n for p in outcome.parts), default=0)
    row["detail"] = "; ".join(p.text for p in outcome.parts)
    widths = [w for w in (half_width(p.ci_low, p.ci_high) for p in outcome.parts) if math.isfinite(w)]
    row["half_width"] = max(widths, default=NAN)
    if has_interval:
        row |= {"mean": single.estimate, "ci_low": single.ci_low, "ci_high": single.ci_high}
    return row


def claim_rows(claims: list[cl.Claim], tables: cl.Tables) -> pd.DataFrame:
    rows = [claim_row(c, o) for c in claims for o in c.evaluate(tables)]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def build_report(
    reported: pd.DataFrame,
    claims: list[cl.Claim],
    tables: cl.Tables,
    tolerance_pp: float,
    paper_tables: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Numbers first, then claims, columns REPORT_COLUMNS (``paper_tables``: see number_rows)."""
    numbers = number_rows(reported, tables, tolerance_pp, paper_tables)
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
    for column in ("mean", "std", "ci_low", "ci_high", "half_width", "reported", "tolerance"):
        shown[column] = [fmt(v) for v in report[column]]
    shown = shown.astype(str)
    intro = (
        "Numbers: PASS when the reported value lies in the 95% interval widened by the "
        "tolerance. Claims: HOLDS / FAILS / INCONCLUSIVE from 95% Welch intervals; NOT RUN "
        "when the cells are missing. half_width: half the width of the 95% interval (for a "
        "claim of several comparisons, the widest), the smallest difference the comparison could "
        "have detected: an INCONCLUSIVE claim with a small half_width shows an effect smaller than "
        "it, with a large one a study too small to tell."
    )
    parts = ["# Regression report", "", intro, ""]
    if sources:
        parts += [sources, ""]
    parts += ["## Summary", "", markdown(counts, left=["kind"]), "## Rows", ""]
    parts.append(markdown(shown, left=["id", "kind", "description", "verdict", "detail"]))
    return "\n".join(parts)
