"""The reporting entry points behind ``bnnbench table|figure|check``: read at the edges,
call the pure builders, write every output atomically (``benchmark.atomic``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from benchmark import claims as cl
from benchmark import figures, render, tables
from benchmark.aggregate import read_runs, read_silent_weights, read_trajectories, with_flip_metrics
from benchmark.atomic import replacing, write_text
from benchmark.errors import UserError
from benchmark.regression import build_report, report_markdown

TABLES: dict[str, Callable[[pd.DataFrame, pd.DataFrame | None], pd.DataFrame]] = {
    "depth_scaling": lambda runs, reported: tables.depth_scaling(runs, reported),
    "ordering": lambda runs, reported: tables.ordering(runs),
    **{name: tables.BUILDERS[name] for name in render.PEER_TABLES},
}
FIGURES = ("trajectories", "silent_weights")
REPORTED_COLUMNS = {"paper", "where", "dataset", "arch", "regime", "method", "metric", "value"}
TABLE_NOTES = {
    "depth_scaling": (
        "Top-1 test accuracy (%) of the fully binary network over seeds: mean ± sample std "
        "and 95% t-interval; gain over the STE cell of the same dataset/arch/regime with its "
        "95% Welch interval; Reported: the paper's number (gain or top-1). NOT RUN: no "
        "finished run. Diverged runs count at chance accuracy."
    ),
    "ordering": (
        "Top-1 test accuracy (%) of the fully binary network over seeds: mean ± sample std "
        "and 95% t-interval; Δ vs forward: difference to the forward ordering of the same "
        "variant with its 95% Welch interval. NOT RUN: no finished run."
    ),
}
_PEER_NOTE = (
    "Top-1 test accuracy (%) of the fully binary network over seeds: mean ± sample std and "
    "95% t-interval; Δ: difference to the {baseline} cell of the same recipe/dataset/arch/regime "
    "with its 95% Welch interval; Steps/s: mean training steps per second over the runs (from "
    "result.json; compare within one machine only); Never flipped: share of binary weights "
    "whose sign never changed during training, at the end, over all binary layers and in the "
    "last binary layer (mean [95% t-interval]). NOT RUN: no finished run. Diverged runs count "
    "at chance accuracy."
)
TABLE_NOTES |= {
    "peers": "Every method under one matched recipe. " + _PEER_NOTE.format(baseline="STE"),
    "ovsw": (
        "OvSW (seed 001) under its own recipes: Table 1, the Table 3 component ablation "
        "(ste = vanilla BNN) and the Sec. 5.3 convergence rows (recipe *_half). "
    )
    + _PEER_NOTE.format(baseline="ste")
    + " Reported: OvSW's top-1 and never-flipped share (Fig. 1, layer4.conv2).",
    "bop": (
        "Bop (seed 003) Sec. 5.2: Bop against latent-weight training with Adam and STE "
        "(ste) under Bop's recipe. "
    )
    + _PEER_NOTE.format(baseline="ste")
    + " Reported: the paper's top-1.",
    "pabt": (
        "PaBT (seed 004): importance pruning (pabt) and random pruning (pabt_random) of a 3/3 "
        "network down to 1/1, against the 1/1 network trained directly with Bop (pabt_1x1). "
    )
    + _PEER_NOTE.format(baseline="pabt_1x1")
    + " Reported: the paper's top-1.",
}


# --------------------------------------------------------------------------- writing


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    with replacing(path) as tmp:
        frame.to_csv(tmp, index=False)


def save_figure(fig: Figure, path: Path) -> None:
    with replacing(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=150)


def copy_file(src: Path, dst: Path) -> None:
    with replacing(dst) as tmp:
        shutil.copyfile(src, tmp)


# --------------------------------------------------------------------------- reading


def read_reported(path: Path | Sequence[Path]) -> pd.DataFrame:
    """One or several paper/reported/<paper>.csv, concatenated; UserError if one is missing
    or lacks columns."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    frames = []
    for one in paths:
        if not Path(one).exists():
            raise UserError(f"reported-numbers file not found: {one}")
        reported = pd.read_csv(one)
        missing = REPORTED_COLUMNS - set(reported.columns)
        if missing:
            raise UserError(f"{one} lacks the columns {sorted(missing)}")
        frames.append(reported)
    if not frames:
        return pd.DataFrame(columns=sorted(REPORTED_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def read_optional_csv(path: Path) -> pd.DataFrame | None:
    """A generated table if it exists (None otherwise: its claims are NOT RUN)."""
    return pd.read_csv(path) if Path(path).exists() else None


def _find_trajectories(results_dir: Path) -> Path:
    """trajectories.csv in results_dir, or in results_dir/figures where the figure rule wrote it."""
    for candidate in (
        results_dir / "trajectories.csv",
        results_dir / "figures" / "trajectories.csv",
    ):
        if candidate.exists():
            return candidate
    return results_dir / "trajectories.csv"


# --------------------------------------------------------------------------- entry points


def build_table(
    name: str,
    result_paths: list[Path],
    out_csv: Path,
    reported_csv: Path | Sequence[Path] | None = None,
    tables_dir: Path | None = None,
) -> pd.DataFrame:
    """Aggregate the given run records into table ``name``; write ``out_csv`` and, with
    ``tables_dir``, ``<tables_dir>/<out_csv stem>.md`` and ``.tex``. ``reported_csv``: one
    or several reported-numbers files (or None)."""
    if name not in TABLES:
        raise UserError(f"unknown table '{name}'. Valid tables: {', '.join(TABLES)}")
    reported = read_reported(reported_csv) if reported_csv is not None else None
    runs = read_runs(result_paths)
    if name in render.PEER_TABLES:
        runs = with_flip_metrics(runs)
    table = TABLES[name](runs, reported)
    write_csv(Path(out_csv), table)
    if tables_dir is not None:
        stem = Path(tables_dir) / Path(out_csv).stem
        shown = render.display(table, name)
        recipe = ", ".join(sorted(table["recipe"].dropna().astype(str).unique())) or "none"
        done = int(runs["complete"].sum()) if not runs.empty else 0
        origin = f"Generated by `bnnbench table {name}` from {done} finished runs (recipe {recipe})."
        notes = f"{TABLE_NOTES[name]}\n\n{origin} Do not edit."
        write_text(stem.with_suffix(".md"), render.markdown(shown, f"Table: {name}", notes))
        comment = f"{origin} Do not edit.\n{TABLE_NOTES[name]}"
        write_text(stem.with_suffix(".tex"), render.latex(shown, comment))
    return table


def build_figure(
    name: str,
    result_paths: list[Path],
    out_stem: Path,
    figures_dir: Path | None = None,
    *,
    variants: Sequence[str] | None = None,
) -> None:
    """Figure ``name``: ``<out_stem>.pdf``/``.png`` (copied into ``figures_dir``) and its data,
    every given run per epoch, beside it: ``trajectories.csv`` (test accuracy; "trajectories")
    or ``silent_weights.csv`` (never-flipped shares; "silent_weights")."""
    if name not in FIGURES:
        raise UserError(f"unknown figure '{name}'. Valid figures: {', '.join(FIGURES)}")
    out_stem = Path(out_stem)
    runs = read_runs(result_paths)
    if name == "trajectories":
        data = read_trajectories(runs)
        fig = figures.trajectory_figure(data, variants=variants or figures.DEFAULT_VARIANTS)
    else:
        data = read_silent_weights(runs)
        fig = figures.silent_weights_figure(data, variants=variants or figures.SILENT_VARIANTS)
    write_csv(out_stem.parent / f"{name}.csv", data)
    for suffix in (".pdf", ".png"):
        path = out_stem.with_name(out_stem.name + suffix)
        save_figure(fig, path)
        if figures_dir is not None:
            copy_file(path, Path(figures_dir) / path.name)


def run_check(
    results_dir: Path, reported_csv: Path | Sequence[Path], claims_yaml: Path, out_stem: Path
) -> pd.DataFrame:
    """The regression report from the tables under ``results_dir``: ``<out_stem>.csv`` and
    ``<out_stem>.md``; claims whose table is missing are NOT RUN. ``reported_csv``: one or
    several reported-numbers files."""
    results_dir = Path(results_dir)
    claims, numbers = cl.load_claims(Path(claims_yaml))
    reported = read_reported(reported_csv)
    inputs = {name: results_dir / f"table_{name}.csv" for name in cl.TABLE_NAMES if name != "trajectories"}
    inputs["trajectories"] = _find_trajectories(results_dir)
    loaded = cl.Tables({k: read_optional_csv(p) for k, p in inputs.items()})
    report = build_report(reported, claims, loaded, float(numbers["tolerance_pp"]), numbers.get("tables"))
    out_stem = Path(out_stem)
    write_csv(out_stem.with_name(out_stem.name + ".csv"), report)
    sources = "Inputs: " + ", ".join(f"`{p}`" + ("" if p.exists() else " (missing)") for p in inputs.values())
    listed = [reported_csv] if isinstance(reported_csv, str | Path) else list(reported_csv)
    sources += f"; reported numbers {', '.join(f'`{p}`' for p in listed)}; claims `{claims_yaml}`."
    write_text(out_stem.with_name(out_stem.name + ".md"), report_markdown(report, sources))
    return report
