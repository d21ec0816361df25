"""Render tables as Markdown (pipe tables) and LaTeX (booktabs).

A table is first turned into a *display frame* of strings (``display``): mean ± std,
the 95% interval as [low, high], differences with their interval, NOT RUN for empty
cells. The two writers only lay that frame out, so both show the same text.

Every table's display ends with the same three columns (``display_extras``): the best epoch's
accuracy (optimistic; mean [95% CI]), OPs (FLOPs + BOPs/64) and the model size in bits, the last
two with three significant digits in powers of ten (``1.63e8``), so that a mini-scale network and
an ImageNet one read alike.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import pandas as pd

DASH = "—"
DIGITS = 2
BEST_HEADER = "Best epoch (%, optimistic)"
BOPS_HEADER = "BOPs"
OPS_HEADER = "OPs"
SIZE_HEADER = "Size (bits)"
IDENTITY_HEADERS = {
    "dataset": "Dataset",
    "arch": "Arch",
    "regime": "Regime",
    "variant": "Variant",
    "ordering": "Ordering",
}
LEFT_HEADERS = frozenset({*IDENTITY_HEADERS.values(), "Recipe", "Last layer"})
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "—": "--",
    "Δ": r"$\Delta$",
}


def _finite(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def fmt(x: object, signed: bool = False) -> str:
    """A number with DIGITS decimals (sign forced when ``signed``); DASH for NaN/None."""
    if not _finite(x):
        return DASH
    return f"{x:+.{DIGITS}f}" if signed else f"{x:.{DIGITS}f}"


def fmt_interval(low: object, high: object) -> str:
    """[low, high], or DASH when the interval is undefined (fewer than two seeds)."""
    if not (_finite(low) and _finite(high)):
        return DASH
    return f"[{fmt(low)}, {fmt(high)}]"


def fmt_mean_std(row: pd.Series) -> str:
    """mean ± std; NOT RUN for an empty cell; the bare mean for a single seed."""
    if row["n"] == 0:
        return "NOT RUN"
    if not _finite(row["std"]):
        return fmt(row["mean"])
    return f"{fmt(row['mean'])} ± {fmt(row['std'])}"


def fmt_difference(estimate: object, low: object, high: object) -> str:
    """+d [low, high] (the interval omitted when undefined)."""
    if not _finite(estimate):
        return DASH
    interval = fmt_interval(low, high)
    return fmt(estimate, signed=True) + ("" if interval == DASH else f" {interval}")


def fmt_reported(value: object, metric: object) -> str:
    if not _finite(value):
        return DASH
    label = {
        "gain_over_ste_pp": "gain",
        "top1": "top-1",
        "never_flipped_last_pct": "never flipped, last layer",
    }.get(str(metric), str(metric))
    return f"{fmt(value)} ({label})"


def fmt_reported_many(pairs: Iterable[tuple[object, str]]) -> str:
    """Several reported values of one cell, joined; DASH when there is none."""
    shown = [fmt_reported(v, m) for v, m in pairs if _finite(v)]
    return "; ".join(shown) or DASH


def fmt_share(mean: object, low: object, high: object) -> str:
    """A never-flipped share: mean [low, high] (the interval omitted when undefined)."""
    if not _finite(mean):
        return DASH
    interval = fmt_interval(low, high)
    return fmt(mean) + ("" if interval == DASH else f" {interval}")


def fmt_count(x: object) -> str:
    """A count with three significant digits, as ``1.63e8`` (``950`` below 1000); DASH for NaN."""
    if not _finite(x):
        return DASH
    if abs(x) < 1000:  # type: ignore[operator]
        return f"{x:.3g}"
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _rows(table: pd.DataFrame, *columns: str) -> list[tuple]:
    """The given columns of each row, as tuples."""
    return list(zip(*(table[c] for c in columns), strict=True))


def display_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The identity columns, n, mean ± std and the 95% interval of each cell (as strings)."""
    out = pd.DataFrame({h: table[c].astype(str) for c, h in IDENTITY_HEADERS.items()})
    out["n"] = table["n"].astype(int).astype(str)
    out["Top-1 (%) mean ± std"] = [fmt_mean_std(r) for _, r in table.iterrows()]
    out["95% CI"] = [fmt_interval(*i) for i in _rows(table, "ci_low", "ci_high")]
    return out


def display_extras(out: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``out`` with the columns every table ends with: the best epoch's accuracy (mean [95% CI],
    optimistic), BOPs (binary operations, PaBT's Bit-OPs), OPs and size in bits
    (``tables.EXTRA_COLUMNS``; DASH where absent)."""
    out = out.copy()
    columns = ["best_mean", "best_ci_low", "best_ci_high", "bops", "ops", "size_bits"]
    extras = table.reindex(columns=columns)
    out[BEST_HEADER] = [fmt_share(*b) for b in _rows(extras, "best_mean", "best_ci_low", "best_ci_high")]
    out[BOPS_HEADER] = [fmt_count(v) for v in extras["bops"]]
    out[OPS_HEADER] = [fmt_count(v) for v in extras["ops"]]
    out[SIZE_HEADER] = [fmt_count(v) for v in extras["size_bits"]]
    return out


def display_depth_scaling(table: pd.DataFrame) -> pd.DataFrame:
    """The display frame (all strings) of the depth-scaling table."""
    out = display_cells(table)
    gains = _rows(table, "gain_over_ste", "gain_ci_low", "gain_ci_high")
    out["Gain over STE [95% CI]"] = [fmt_difference(*g) for g in gains]
    out["Reported"] = [fmt_reported(v, m) for v, m in _rows(table, "reported", "reported_metric")]
    out["Diverged"] = table["n_diverged"].astype(int).astype(str)
    return display_extras(out, table).reset_index(drop=True)


def display_hybrids(table: pd.DataFrame) -> pd.DataFrame:
    """The display frame (all strings) of the hybrids table (``tables.HYBRIDS_COLUMNS``; the
    StoMPP paper's appendix B.2): the cells, the gain over STE and the difference to StoMPP."""
    out = display_cells(table)
    gains = _rows(table, "gain_over_ste", "gain_ci_low", "gain_ci_high")
    out["Gain over STE [95% CI]"] = [fmt_difference(*g) for g in gains]
    diffs = _rows(table, "diff_vs_stompp", "diff_ci_low", "diff_ci_high")
    out["Δ vs StoMPP [95% CI]"] = [fmt_difference(*d) for d in diffs]
    out["Diverged"] = table["n_diverged"].astype(int).astype(str)
    return display_extras(out, table).reset_index(drop=True)


def display_ordering(table: pd.DataFrame) -> pd.DataFrame:
    """The display frame (all strings) of the ordering table."""
    out = display_cells(table)
    out["Chance"] = [fmt(c) for c in table.chance_acc]
    diffs = _rows(table, "diff_vs_forward", "diff_ci_low", "diff_ci_high")
    out["Δ vs forward [95% CI]"] = [fmt_difference(*d) for d in diffs]
    out["Diverged"] = table["n_diverged"].astype(int).astype(str)
    return display_extras(out, table).reset_index(drop=True)


def display_peers(table: pd.DataFrame) -> pd.DataFrame:
    """The display frame of a peer table (``tables.PEER_COLUMNS``)."""
    out = pd.DataFrame({"Recipe": table["recipe"].astype(str)})
    for column, header in IDENTITY_HEADERS.items():
        out[header] = table[column].astype(str)
    out["n"] = table["n"].astype(int).astype(str)
    out["Top-1 (%) mean ± std"] = [fmt_mean_std(r) for _, r in table.iterrows()]
    out["95% CI"] = [fmt_interval(*i) for i in _rows(table, "ci_low", "ci_high")]
    baselines = sorted(table["baseline"].dropna().astype(str).unique()) if len(table) else []
    diffs = _rows(table, "diff", "diff_ci_low", "diff_ci_high")
    out[f"Δ vs {'/'.join(baselines) or 'baseline'} [95% CI]"] = [fmt_difference(*d) for d in diffs]
    out["Steps/s"] = [fmt(v) for v in table["steps_per_second"]]
    for column, header in (("never_flipped", "all"), ("never_flipped_last", "last layer")):
        shares = _rows(table, column, f"{column}_ci_low", f"{column}_ci_high")
        out[f"Never flipped, {header} (%)"] = [fmt_share(*x) for x in shares]
    reported = _rows(table, "reported", "reported_never_flipped_last")
    out["Reported"] = [
        fmt_reported_many([(top1, "top1"), (nf, "never_flipped_last_pct")]) for top1, nf in reported
    ]
    out["Diverged"] = table["n_diverged"].astype(int).astype(str)
    return display_extras(out, table).reset_index(drop=True)


def _md_cell(text: str) -> str:
    return text.replace("|", r"\|")


def markdown(frame: pd.DataFrame, title: str = "", notes: str = "", left: Iterable[str] | None = None) -> str:
    """A pipe table, with an optional title line and notes paragraph; the ``left`` columns
    (default: the identity columns) are left-aligned, the others right-aligned."""
    left = set(LEFT_HEADERS if left is None else left)
    numeric = [c not in left for c in frame.columns]
    header = "| " + " | ".join(_md_cell(str(c)) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if r else ":---" for r in numeric) + "|"
    body = ["| " + " | ".join(_md_cell(str(v)) for v in row) + " |" for row in frame.values]
    parts = [f"# {title}", ""] if title else []
    parts += [header, rule, *body]
    if notes:
        parts += ["", notes]
    return "\n".join(parts) + "\n"


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the display symbols (±, —, Δ) to LaTeX."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex(frame: pd.DataFrame, comment: str = "") -> str:
    """A booktabs ``tabular`` (toprule/midrule/bottomrule) for ``\\input`` into a table float."""
    align = "".join("l" if c in LEFT_HEADERS else "r" for c in frame.columns)
    lines = [f"% {line}" for line in comment.splitlines()]
    lines += [f"\\begin{{tabular}}{{{align}}}", r"\toprule"]
    lines.append(" & ".join(latex_escape(c) for c in frame.columns) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in frame.values]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
