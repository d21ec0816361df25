"""The reporting entry points behind ``bnnbench table|figure|check``: read at the edges,
call the pure builders, write every output atomically (``benchmark.atomic``)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from benchmark import claims as cl
from benchmark import configs, outputs, render
from benchmark.aggregate import read_runs, with_flip_metrics
from benchmark.atomic import replacing, write_text
from benchmark.availability import Grid, Support, grid_of
from benchmark.errors import UserError
from benchmark.identity import RunId
from benchmark.regression import build_report, report_markdown

TEXT_HEADERS = (*render.LEFT_HEADERS, "Panel", "Series", "Point")  # a sweep table's text columns
REPORTED_COLUMNS = {"paper", "where", "dataset", "arch", "regime", "method", "metric", "value"}


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


def _find_figure_data(results_dir: Path, name: str) -> Path:
    """A figure's data in results_dir, or in results_dir/figures where the figure rule wrote it."""
    for candidate in (results_dir / name, results_dir / "figures" / name):
        if candidate.exists():
            return candidate
    return results_dir / name


def suite_support(config: Mapping[str, Any] | None = None) -> Support:
    """What the suite can reproduce: the registered datasets, architectures and methods, the
    regimes of the methods, the metrics of the registered tables, and the variants that the
    shipped configs (``workflows/config/*.yaml``) and ``config`` declare."""
    import methods
    from benchmark import facts
    from benchmark.data import DATASETS
    from benchmark.models import ARCHS

    declared = [configs.read(path) for path in sorted(configs.CONFIG_DIR.glob("*.yaml"))]
    variants = {}
    for one in [*declared, config or {}]:
        variants |= {name: v["method"] for name, v in (one.get("variants") or {}).items()}
    return Support(
        datasets=frozenset(DATASETS),
        archs=frozenset(ARCHS),
        regimes=frozenset(r for f in facts.declared().values() for r in f.regimes),
        metrics=frozenset(m for t in outputs.tables_in_order() for m in t.metrics),
        methods=frozenset(methods.method_names()),
        variants=variants,
    )


def read_grid(config_paths: Sequence[Path], results_dir: Path) -> tuple[dict[str, Any], Grid]:
    """The workflow config of ``config_paths`` (overlays on the default; none: the default) and
    its grid, a run finished when ``<results_dir>/runs/<run>/result.json`` exists."""
    config = configs.load(*config_paths)
    runs_root = Path(results_dir) / "runs"
    names = " + ".join(Path(p).name for p in config_paths) or configs.DEFAULT.name

    def finished(run: RunId) -> bool:
        return (runs_root / run.relative / "result.json").is_file()

    return config, grid_of(config, finished, f"config {names}")


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
    definition = outputs.table(name)
    reported = read_reported(reported_csv) if reported_csv is not None else None
    runs = read_runs(result_paths)
    if definition.flips:
        runs = with_flip_metrics(runs)
    table = definition.build(runs, reported)
    write_csv(Path(out_csv), table)
    if tables_dir is not None:
        stem = Path(tables_dir) / Path(out_csv).stem
        shown = definition.display(table)
        recipe = ", ".join(sorted(table["recipe"].dropna().astype(str).unique())) or "none"
        done = int(runs["complete"].sum()) if not runs.empty else 0
        origin = f"Generated by `bnnbench table {name}` from {done} finished runs (recipe {recipe})."
        notes = f"{definition.note}\n\n{origin} Do not edit."
        write_text(stem.with_suffix(".md"), render.markdown(shown, f"Table: {name}", notes))
        comment = f"{origin} Do not edit.\n{definition.note}"
        write_text(stem.with_suffix(".tex"), render.latex(shown, comment))
    return table


def build_figure(
    name: str,
    result_paths: list[Path],
    out_stem: Path,
    figures_dir: Path | None = None,
    *,
    variants: Sequence[str] | None = None,
    recipe: str | None = None,
) -> None:
    """Figure ``name``: ``<out_stem>.pdf``/``.png`` (copied into ``figures_dir``) and its data,
    every given run per epoch, beside it as ``<name>.csv`` (e.g. ``trajectories.csv``: test
    accuracy; ``silent_weights.csv``: never-flipped shares), and for a figure with a summary
    (the curves figures) what it draws as ``<name>_summary.csv``: n, mean and band per epoch;
    a sweep's table as ``<name>_table.csv``, ``.md`` and ``.tex`` (the last two copied into
    ``figures_dir`` too). ``recipe``: the config section's recipe (a sweep's base recipe)."""
    definition = outputs.figure(name)
    out_stem = Path(out_stem)
    runs = read_runs(result_paths)
    data = definition.read(runs, recipe) if definition.pinned else definition.read(runs)
    fig = definition.draw(data, variants)
    write_csv(out_stem.parent / definition.data_file, data)
    if definition.summary is not None:
        summary = definition.summary(data)
        write_csv(out_stem.parent / definition.summary_file, summary)
        if definition.table is not None:
            write_figure_table(definition, summary, out_stem.parent, figures_dir, len(result_paths))
    for suffix in (".pdf", ".png"):
        path = out_stem.with_name(out_stem.name + suffix)
        save_figure(fig, path)
        if figures_dir is not None:
            copy_file(path, Path(figures_dir) / path.name)


def write_figure_table(
    definition: outputs.FigureDef, summary: pd.DataFrame, out_dir: Path, figures_dir: Path | None, n_runs: int
) -> None:
    """A figure's table (a sweep's) as Markdown and LaTeX beside its CSV, and in ``figures_dir``."""
    assert definition.table is not None
    shown = definition.table(summary)
    origin = f"Generated by `bnnbench figure {definition.name}` from {n_runs} requested runs. Do not edit."
    stem = Path(definition.summary_file).stem
    texts = {
        ".md": render.markdown(
            shown, f"Table: {definition.name}", f"{definition.description}.\n\n{origin}", left=TEXT_HEADERS
        ),
        ".tex": render.latex(shown, f"{origin}\n{definition.description}"),
    }
    for suffix, text in texts.items():
        write_text(out_dir / f"{stem}{suffix}", text)
        if figures_dir is not None:
            write_text(Path(figures_dir) / f"{stem}{suffix}", text)


def run_check(
    results_dir: Path,
    reported_csv: Path | Sequence[Path],
    claims_yaml: Path,
    out_stem: Path,
    config: Sequence[Path] | None = None,
) -> pd.DataFrame:
    """The regression report from the tables under ``results_dir``: ``<out_stem>.csv`` and
    ``<out_stem>.md``. ``reported_csv``: one or several reported-numbers files. A reported
    number the suite cannot reproduce is UNSUPPORTED (:func:`suite_support`). ``config``: the
    workflow config files (overlays on the default; an empty list: the default) whose grid tells
    a cell that is not in it (NOT RUN) from one whose runs have not finished (PENDING); None:
    no grid, every number or claim without its cells is NOT RUN."""
    results_dir = Path(results_dir)
    claims, numbers = cl.load_claims(Path(claims_yaml), outputs.claim_inputs())
    reported = read_reported(reported_csv)
    workflow_config, grid = read_grid(config, results_dir) if config is not None else (None, None)
    support = suite_support(workflow_config)
    inputs = {t.name: results_dir / t.file for t in outputs.tables_in_order()}
    judged = [f for f in outputs.figures_in_order() if f.judged]
    inputs |= {f.name: _find_figure_data(results_dir, f.data_file) for f in judged}
    loaded = cl.Tables({k: read_optional_csv(p) for k, p in inputs.items()})
    tolerance = float(numbers["tolerance_pp"])
    target = cl.load_half_width_target(Path(claims_yaml))
    report = build_report(reported, claims, loaded, tolerance, numbers.get("tables"), support, grid, target)
    out_stem = Path(out_stem)
    write_csv(out_stem.with_name(out_stem.name + ".csv"), report)
    sources = "Inputs: " + ", ".join(f"`{p}`" + ("" if p.exists() else " (missing)") for p in inputs.values())
    listed = [reported_csv] if isinstance(reported_csv, str | Path) else list(reported_csv)
    sources += f"; reported numbers {', '.join(f'`{p}`' for p in listed)}; claims `{claims_yaml}`"
    if grid is not None:
        done, total = grid.progress({run for runs in grid.sections.values() for run in runs})
        sources += f"; grid of the {grid.source}: {done} of {total} runs finished"
    else:
        sources += "; no grid given (`--config`): cells without runs are NOT RUN, none PENDING"
    write_text(out_stem.with_name(out_stem.name + ".md"), report_markdown(report, sources + "."))
    return report
