"""The regression report: one row per reported number and per claim (and scope).

Number rows compare a paper's value with the reproduced cell of the table that reproduces
that paper (``numbers.tables`` in claims.yaml: StoMPP's numbers against the depth-scaling
table, OvSW's against table_ovsw, ...): PASS when the reported value lies inside
[ci_low - tol, ci_high + tol] (n >= 2), or within tol of the mean when the interval is
undefined (a single seed); FAIL otherwise. A reported row that names a ``recipe`` matches only
cells trained with it. Claim rows come from :mod:`benchmark.claims`.

A number with a reproduced value is judged; one without says why, in this order (``support``
and ``grid``: :mod:`benchmark.availability`; without them every such row is NOT RUN):

- UNSUPPORTED (with ``support``): the suite has no such dataset, architecture, regime,
  variant or method, no table tabulates the metric (top-5, mIoU), or the paper's table does
  not: the number can never come;
- NOT RUN: the paper has no table, or (with ``grid``) a cell the number needs (its own, and
  for a gain the baseline's) has no run in the grid of that table, or the config has no such
  table;
- PENDING (with ``grid``): every cell it needs is in the grid, but some of their runs have not
  finished (no ``result.json`` yet), or all have and the table does not count them yet.

A claim outcome that is NOT RUN is, with ``grid``, PENDING when the grid of the table its check
reads has cells in its scope (the scopes the check finds in the grid's cells) and some of their
runs have not finished, or all have and the table lacks the scope (it was not rebuilt since);
NOT RUN otherwise (a scope the table has, whose runs have all finished, lacks cells the grid
does not have).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from benchmark import claims as cl
from benchmark import outputs
from benchmark.availability import Grid, Support, cell_runs, cells_frame, identity_values, scope_matches
from benchmark.errors import UserError
from benchmark.identity import RunId
from benchmark.power import compared_cells, half_width, seeds_needed, seeds_text
from benchmark.render import fmt, markdown

PASS, FAIL, NOT_RUN = "PASS", "FAIL", cl.NOT_RUN
PENDING, UNSUPPORTED = cl.PENDING, cl.UNSUPPORTED
GAIN_METRIC = "gain_over_ste_pp"  # a difference to the table's baseline cell
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
    "seeds_needed",
    "cells",
    "reported",
    "selection",
    "best_epoch",
    "tolerance",
    "verdict",
    "detail",
]
# which epoch a reported number is (the `selection` column of paper/reported/<paper>.csv)
SELECTIONS = {
    "final": "the final epoch",
    "best": "the best test epoch (optimistic)",
    "not stated": "not stated",
}
VERDICT_ORDER = [PASS, FAIL, cl.HOLDS, cl.FAILS, cl.INCONCLUSIVE, PENDING, NOT_RUN, UNSUPPORTED]
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


def _cell_name(r: pd.Series, variant: str | None = None) -> str:
    recipe = _recipe_of(r)
    cell = f"{r['dataset']}/{r['arch']}/{r['regime']}/{variant or r['variant']}"
    return (f"{recipe}/" if recipe else "") + cell


def number_row(
    r: pd.Series,
    tables: cl.Tables,
    tol: float,
    table_name: str | None = DEFAULT_TABLE,
    support: Support | None = None,
    grid: Grid | None = None,
) -> dict:
    """The report row of one reported number (a row of paper/reported/<paper>.csv), judged
    against the cell of ``table_name`` (None: the paper has no table here); ``support`` and
    ``grid`` tell UNSUPPORTED, NOT RUN and PENDING apart (see the module docstring)."""
    row = {c: NAN for c in REPORT_COLUMNS} | {"n": 0, "kind": "number", "tolerance": tol}
    row |= {"id": _number_id(r), "reported": float(r["value"]), "selection": selection_of(r)}
    row["description"] = f"{r['paper']} {r['where']}: {r['method']} {r['metric']}"
    cell_name = _cell_name(r)
    unjudged = _unjudgeable(r, tables, table_name, support)
    if unjudged is not None:
        return row | _unsupported_or(r, support, unjudged)
    table = tables.get(table_name)
    columns = outputs.table(table_name).metrics[r["metric"]]
    cell = find_number_cell(table, r)
    if cell is None or cell["n"] == 0:
        missing = f"no finished run for {cell_name} in table_{table_name}"
        return row | _unsupported_or(r, support, awaited(r, table_name, grid, missing))
    mean, low, high = (float(cell[c]) for c in columns)
    std = float(cell["std"]) if r["metric"] == "top1" else NAN
    row |= {"mean": mean, "std": std, "n": int(cell["n"]), "ci_low": low, "ci_high": high}
    row["half_width"] = half_width(low, high)
    if not math.isfinite(mean):
        missing = "no baseline (ste) cell" if r["metric"] == GAIN_METRIC else "no value"
        return row | _unsupported_or(r, support, awaited(r, table_name, grid, f"{missing} for {cell_name}"))
    verdict = number_verdict(mean, low, high, row["reported"], tol)
    rule = (
        f"accept [{fmt(low - tol)}, {fmt(high + tol)}]"
        if math.isfinite(low)
        else f"single seed: accept |mean - reported| <= {tol:g}"
    )
    detail = f"{cell_name} (recipe {cell['recipe']}): {r['metric']} {fmt(mean)}; {rule}"
    if r["metric"] == "top1" and "best_mean" in cell:
        row["best_epoch"] = float(cell["best_mean"])
        if row["selection"] == "best":
            detail += (
                f"; the paper reports the best test epoch: ours is {fmt(row['best_epoch'])} (optimistic, "
                "not judged: verdicts use the final epoch)"
            )
    return row | {"verdict": verdict, "detail": detail}


def selection_of(r: pd.Series) -> str:
    """Which epoch a reported number is: ``final``, ``best`` (the best test epoch) or ``not
    stated`` (also where the CSV has no ``selection`` column)."""
    value = r.get("selection", "")
    value = value.strip() if isinstance(value, str) else ""
    if value and value not in SELECTIONS:
        raise UserError(
            f"paper/reported: selection '{value}' of {_number_id(r)} is not one of {', '.join(SELECTIONS)}"
        )
    return value or "not stated"


def _unjudgeable(
    r: pd.Series, tables: cl.Tables, table_name: str | None, support: Support | None
) -> dict[str, str] | None:
    """Verdict and detail of a reported number that no cell of ``table_name`` can judge, or
    None when a cell may: NOT RUN, or UNSUPPORTED (with ``support``) when the table does not
    tabulate the metric."""
    if table_name is None:
        return {"verdict": NOT_RUN, "detail": f"no table reproduces paper '{r['paper']}'"}
    # the (estimate, interval) columns that reproduce the metric, as the table's definition says
    tabulated = outputs.table(table_name).metrics
    if r["metric"] not in tabulated:
        has = ", ".join(tabulated) or "no metric"
        detail = f"table_{table_name} does not tabulate {r['metric']} (it tabulates {has})"
        return {"verdict": NOT_RUN if support is None else UNSUPPORTED, "detail": detail}
    table = tables.get(table_name)
    if table is not None and tabulated[r["metric"]][0] not in table:
        return {"verdict": NOT_RUN, "detail": f"metric {r['metric']} is not tabulated"}
    return None


def _unsupported_or(r: pd.Series, support: Support | None, verdict: dict[str, str]) -> dict[str, str]:
    """UNSUPPORTED with the reason when the suite cannot produce the reported row's cell at all
    (a cell that was produced is judged all the same), else ``verdict``."""
    reason = support.reason(r) if support is not None else None
    return {"verdict": UNSUPPORTED, "detail": reason} if reason is not None else verdict


def awaited(r: pd.Series, table_name: str, grid: Grid | None, missing: str) -> dict[str, str]:
    """Verdict and detail of a reported number that has no reproduced value: NOT RUN without
    ``grid`` (``missing`` says what is missing) or when a cell it needs (its own; for a gain,
    the baseline's too) has no run in the grid of ``table_name``; PENDING otherwise."""
    if grid is None:
        return {"verdict": NOT_RUN, "detail": missing}
    runs = grid.runs(table_name)
    if runs is None:
        return {"verdict": NOT_RUN, "detail": f"not in the grid: {grid.source} has no table {table_name}"}
    baseline = outputs.table(table_name).baseline
    variants = [r["variant"]] + ([baseline] if r["metric"] == GAIN_METRIC and baseline else [])
    cells = {v: cell_runs(runs, r, v, _recipe_of(r)) for v in dict.fromkeys(variants)}
    absent = [_cell_name(r, v) for v, found in cells.items() if not found]
    where = f"the grid of table_{table_name} ({grid.source})"
    if absent:
        return {"verdict": NOT_RUN, "detail": f"not in the grid: {where} has no run of {', '.join(absent)}"}
    done, total = grid.progress(run for found in cells.values() for run in found)
    names = ", ".join(_cell_name(r, v) for v in cells)
    if done < total:
        return {"verdict": PENDING, "detail": f"{done} of {total} runs of {names} finished in {where}"}
    rebuild = f"table_{table_name} does not count them yet (rebuild it)"
    return {"verdict": PENDING, "detail": f"all {total} runs of {names} finished in {where}; {rebuild}"}


def number_rows(
    reported: pd.DataFrame,
    tables: cl.Tables | pd.DataFrame | None,
    tol: float,
    paper_tables: Mapping[str, str] | None = None,
    support: Support | None = None,
    grid: Grid | None = None,
) -> pd.DataFrame:
    """One row per reported number; ``reported`` maps methods to variants in a ``variant``
    column (the method name is used where it has none). ``paper_tables`` maps each paper to
    the table that reproduces it (a paper not listed is NOT RUN); None looks every paper up
    in the depth-scaling table. A bare DataFrame is taken as the depth-scaling table.
    ``support``, ``grid``: see :func:`number_row`."""
    if not isinstance(tables, cl.Tables):
        tables = cl.Tables(depth_scaling=tables)
    reported = reported.copy()
    if "variant" not in reported:
        reported["variant"] = reported["method"]
    rows = [
        number_row(r, tables, tol, _paper_table(paper_tables, r["paper"]), support, grid)
        for _, r in reported.iterrows()
    ]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _paper_table(paper_tables: Mapping[str, str] | None, paper: str) -> str | None:
    return DEFAULT_TABLE if paper_tables is None else paper_tables.get(paper)


def claim_row(claim: cl.Claim, outcome: cl.Outcome, target: float = NAN) -> dict:
    """The report row of a claim in one scope; the numbers are those of its only comparison
    (a claim of several comparisons keeps them all in ``detail``). ``half_width`` is that of
    the widest interval among its comparisons: a difference smaller than it could go unseen
    by at least one of them, so an INCONCLUSIVE verdict with a wide one says the study was too
    small, with a narrow one that the effect is smaller than it. ``seeds_needed``: how many
    seeds per cell would bring every comparison of accuracies to a half-width of at most
    ``target`` points (:func:`benchmark.power.seeds_needed`); ``cells``: the cells those
    comparisons read (:func:`benchmark.power.compared_cells`), whose seeds that number counts."""
    single = outcome.parts[0] if len(outcome.parts) == 1 else None
    has_interval = single is not None and math.isfinite(single.estimate)
    row = {c: NAN for c in REPORT_COLUMNS} | {"kind": "claim", "verdict": outcome.verdict}
    row |= {"id": f"{claim.id}:{outcome.scope}", "description": claim.description}
    row["n"] = min((p.n for p in outcome.parts), default=0)
    row["detail"] = form_prefix(claim, outcome) + "; ".join(p.text for p in outcome.parts)
    widths = [w for w in (half_width(p.ci_low, p.ci_high) for p in outcome.parts) if math.isfinite(w)]
    row["half_width"] = max(widths, default=NAN)
    row["seeds_needed"] = seeds_needed(outcome.parts, target)
    row["cells"] = compared_cells(outcome.parts)
    if has_interval:
        row |= {"mean": single.estimate, "ci_low": single.ci_low, "ci_high": single.ci_high}
    return row


def form_prefix(claim: cl.Claim, outcome: cl.Outcome) -> str:
    """Which form of ``claim`` judged ``outcome``, for the start of its detail: empty for a claim
    without a laptop form, else ``laptop form (<the reason's first sentence>): `` or
    ``paper form: `` (``paper or laptop form: `` when neither had a scope)."""
    if claim.laptop is None:
        return ""
    if outcome.form == cl.LAPTOP_FORM:
        return f"laptop form ({claim.laptop.short}): "
    return f"{outcome.form} form: "


def claim_rows(
    claims: list[cl.Claim], tables: cl.Tables, grid: Grid | None = None, target: float = NAN
) -> pd.DataFrame:
    """One row per claim and scope; with ``grid``, a NOT RUN outcome is told apart from a
    PENDING one (:func:`awaited_claim`); ``target``: the half-width ``seeds_needed`` aims at."""
    rows = []
    for claim in claims:
        for outcome in claim.evaluate(tables):
            row = claim_row(claim, outcome, target)
            if grid is not None and outcome.verdict == NOT_RUN:
                awaited = awaited_claim(claim.judged_by, outcome, tables, grid)
                row |= awaited | {"detail": form_prefix(claim, outcome) + awaited["detail"]}
            rows.append(row)
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def grid_scopes(check: cl.Check, runs: Iterable[RunId], scope: str) -> list[str]:
    """The scopes ``check`` would be judged in on the cells of ``runs`` (a grid's), those
    within ``scope`` (all of them for ``all``)."""
    cells = cells_frame(runs)
    found = ["/".join(map(str, s)) for s in check.scopes(cells)] if not cells.empty else []
    return found if scope == "all" else [s for s in found if scope_matches(s.split("/"), scope)]


def awaited_claim(check: cl.Check, outcome: cl.Outcome, tables: cl.Tables, grid: Grid) -> dict[str, str]:
    """Verdict and detail of a NOT RUN claim outcome, from the grid of the table ``check``
    reads: NOT RUN when the grid has no cells in the outcome's scope, or when every run there
    (and in the other cells the check reads for it, :meth:`~benchmark.claims.Check.other_cells`:
    a control) has finished and the table judged the scope (the missing cells are not in the
    grid); PENDING when some run there has not finished, or all have and the table lacks the
    scope."""
    so_far = "; ".join(p.text.removeprefix(f"{NOT_RUN}: ") for p in outcome.parts)
    runs = grid.runs(check.table)
    if runs is None:
        return {"detail": f"{grid.source} has no table or figure {check.table}; {so_far}"}
    scopes = grid_scopes(check, runs, outcome.scope)
    where = f"the grid of {check.table} ({grid.source})"
    if not scopes:
        within = "" if outcome.scope == "all" else f" in {outcome.scope}"
        return {"detail": f"{where} has no cells for {check.needs()}{within}; {so_far}"}
    scopes_read = scopes + [c for s in scopes for c in check.other_cells(s)]  # a control, say
    inside = [run for run in runs if any(scope_matches(identity_values(run), s) for s in scopes_read)]
    done, total = grid.progress(inside)
    if done < total:
        progress = f"{done} of {total} runs in {', '.join(scopes)} finished in {where}"
        return {"verdict": PENDING, "detail": f"{progress}; {so_far}"}
    table = tables.get(check.table)
    judged = table is not None and outcome.scope in {"/".join(map(str, s)) for s in check.scopes(table)}
    if judged:  # the table was built from every run of the scope: the missing cells are not in the grid
        return {"detail": f"every run of {where} in {outcome.scope} finished without them; {so_far}"}
    rebuild = f"{check.source()} does not count them yet (rebuild it)"
    progress = f"all {total} runs in {', '.join(scopes)} finished in {where}"
    return {"verdict": PENDING, "detail": f"{progress}; {rebuild}; {so_far}"}


def build_report(
    reported: pd.DataFrame,
    claims: list[cl.Claim],
    tables: cl.Tables,
    tolerance_pp: float,
    paper_tables: Mapping[str, str] | None = None,
    support: Support | None = None,
    grid: Grid | None = None,
    half_width_target: float = NAN,
) -> pd.DataFrame:
    """Numbers first, then claims, columns REPORT_COLUMNS (``paper_tables``, ``support``,
    ``grid``: see number_rows and claim_rows; ``half_width_target``: the claims'
    ``seeds_needed``, NaN for none)."""
    numbers = number_rows(reported, tables, tolerance_pp, paper_tables, support, grid)
    judged = claim_rows(claims, tables, grid, half_width_target)
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
    shown = report.drop(columns="cells")  # in the CSV, for tools.seed_cost; too long to read here
    for column in ("mean", "std", "ci_low", "ci_high", "half_width", "reported", "best_epoch", "tolerance"):
        shown[column] = [fmt(v) for v in report[column]]
    shown["seeds_needed"] = [seeds_text(v) for v in report["seeds_needed"]]
    shown = shown.astype(str)
    intro = "\n".join(
        [
            "- Numbers: PASS when the reported value lies in the 95% interval widened by the tolerance, "
            "else FAIL. Claims: HOLDS / FAILS / INCONCLUSIVE from 95% Welch intervals.",
            "- PENDING: the cells are in the grid, but their runs have not finished (or the table does "
            "not count them yet); the verdict will come.",
            "- NOT RUN: the grid lacks the cells; no verdict comes without adding them to the config.",
            "- UNSUPPORTED: the suite has no such dataset, architecture, regime, variant or metric "
            "(`detail` says which); no verdict can ever come.",
            "- half_width: half the width of the 95% interval (for a claim of several comparisons, the "
            "widest), the smallest difference the comparison could have detected: an INCONCLUSIVE claim "
            "with a small half_width shows an effect smaller than it, with a large one a study too small "
            "to tell.",
            "- seeds_needed: the seeds per cell at which every comparison of accuracies in the claim would "
            "have a half_width within `power.half_width_pp` of paper/claims.yaml, were the cells' standard "
            "deviations to stay as measured (a projection for planning; `>1000`: more than that; blank: no "
            "such comparison, or a cell with one seed).",
            "- A claim with a laptop form (`laptop:` in paper/claims.yaml, chosen for what the claim "
            "means where a threshold only makes sense on the paper's data) is judged by it on the laptop "
            "datasets and by the paper form elsewhere; its `detail` begins with `laptop form (<why>):` or "
            "`paper form:`.",
            "- selection: which epoch the paper's number is (`final`; `best`: the best test epoch, e.g. "
            "OvSW's code keeps the maximum validation top-1 over epochs; `not stated`). Verdicts always "
            "judge our final epoch; best_epoch is our best test epoch's mean, optimistic, shown beside it.",
        ]
    )
    parts = ["# Regression report", "", intro, ""]
    if sources:
        parts += [sources, ""]
    parts += ["## Summary", "", markdown(counts, left=["kind"]), "## Rows", ""]
    parts.append(markdown(shown, left=["id", "kind", "description", "verdict", "detail"]))
    return "\n".join(parts)
