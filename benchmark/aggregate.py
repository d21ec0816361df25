"""Run records to tidy DataFrames.

The edges (``read_runs``, ``read_curves``, ``read_silent_weights``, ``read_weight_histograms``,
``read_silent_figure``) read files; everything else is a pure function from DataFrames to
DataFrames.

A run counts only when its ``result.json`` exists and parses (a crashed or running job
never has one). A requested path that does not exist, or whose ``result.json`` is
truncated, is kept as an incomplete row so that its cell shows up as NOT RUN (n = 0); its
identity is then read from the run-directory layout
``<recipe>/<dataset>/<arch>/<regime>/<variant>/<ordering>/seed<k>/result.json``
(``benchmark.identity``).
A diverged run is a result: it counts in n with its recorded (chance-level) accuracy and
is also counted in ``n_diverged``.

Sign-flip statistics (``never_flipped``, ``flip_ratio``, percent; ``methods.flips``) come from
the runs' ``metrics.csv`` (all binary weights) and ``layers.csv`` (per layer); the *last*
binary layer is the one with the highest ``order`` (execution order), e.g. ResNet-18's
``layer4.1.conv2``, the layer of OvSW's Figure 1. ``weight_histogram.csv`` (written when a run
ends, ``methods.weight_histogram``) holds per binary layer the histogram of the initial latent
weights and of those whose sign never flipped (OvSW's Fig. 1a-b).

Selection and cost (issue 11): ``test_acc`` is the final epoch's accuracy, the one every table's
main columns and every verdict use. ``best_test_acc`` is the highest per-epoch ``test_acc`` of
the run's ``metrics.csv`` (or its final accuracy where higher, as for a diverged run, or where no
epoch was recorded): best-epoch selection on the test set, an optimistic number shown only beside
the final one. ``bops``, ``flops``, ``ops`` and ``size_bits`` are the run's ``accounting`` record
(``benchmark.accounting``); NaN for runs recorded before it existed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark import stats
from benchmark.errors import UserError
from benchmark.identity import FIELDS, RunId

IDENTITY = list(FIELDS)
CELL_KEYS = ["dataset", "arch", "regime", "variant", "ordering"]
RESULT_FIELDS = [
    "status",
    "num_classes",
    "chance_acc",
    "test_acc",
    "test_acc_as_trained",
    "train_acc",
    "epochs",
    "wall_seconds",
    "steps_per_second",
    "config_hash",
]
ACCOUNTING_FIELDS = ["bops", "flops", "ops", "size_bits"]  # benchmark.accounting.KEYS
RUN_COLUMNS = [*IDENTITY, "method", "complete", *RESULT_FIELDS, "git", "path"]
RUN_COLUMNS += ["best_test_acc", *ACCOUNTING_FIELDS]
NUMERIC = ["num_classes", "chance_acc", "test_acc", "test_acc_as_trained", "train_acc"]
NUMERIC += ["epochs", "wall_seconds", "steps_per_second", "best_test_acc", *ACCOUNTING_FIELDS]
# cell columns (``cell_summary``) for the optimistic best-epoch accuracy and the accounting
BEST_COLUMNS = ["best_mean", "best_std", "best_ci_low", "best_ci_high"]
EXTRA_CELL_COLUMNS = [*BEST_COLUMNS, *ACCOUNTING_FIELDS]
FINISHED = ("ok", "diverged")
TRAJECTORY_METRICS = ("test_acc", "test_acc_as_trained")  # what claim S6 (the sawtooth) reads
FLIP_COLUMNS = ["never_flipped", "never_flipped_last", "last_layer"]
SILENT_COLUMNS = [*IDENTITY, "epoch", "scope", "layer", "never_flipped", "flip_ratio"]
SCOPE_ALL, SCOPE_LAST = "all binary layers", "last binary layer"
# weight_histogram.csv (methods.weight_histogram: initial latent weights and the never-flipped ones)
HISTOGRAM_FILE = "weight_histogram.csv"
BIN_COLUMNS = ["bin", "bin_low", "bin_high", "initial_count", "never_flipped_count"]
HISTOGRAM_COLUMNS = [*IDENTITY, "epoch", "order", "layer", *BIN_COLUMNS]
SCOPE_HISTOGRAM = "initial weights, last binary layer"
# the silent-weights figure's data: the flip curves, then the last layer's histogram rows
SILENT_FIGURE_COLUMNS = [*SILENT_COLUMNS, *BIN_COLUMNS]


# --------------------------------------------------------------------------- reading (edges)


def read_result(path: Path) -> dict | None:
    """The parsed ``result.json`` of a finished run, or None (missing, partial, unfinished)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("status") not in FINISHED:
        return None
    if not isinstance(record.get("identity"), dict):
        return None
    return record


def run_row(path: Path) -> dict:
    """One tidy row for a requested run (complete or not)."""
    record = read_result(path)
    if record is None:
        row = {c: None for c in RUN_COLUMNS} | RunId.from_result(path).as_dict()
        return row | {"complete": False, "path": str(path)}
    ident = record["identity"]
    row = {k: ident.get(k) for k in IDENTITY} | {"method": ident.get("method")}
    row |= {k: record.get(k) for k in RESULT_FIELDS}
    git = (record.get("provenance") or {}).get("git")
    accounting = record.get("accounting") if isinstance(record.get("accounting"), dict) else {}
    row |= {k: accounting.get(k) for k in ACCOUNTING_FIELDS}
    row["best_test_acc"] = best_epoch_acc(read_epoch_accuracies(Path(path).parent), record.get("test_acc"))
    return row | {"complete": True, "git": git, "path": str(path)}


def read_epoch_accuracies(run_dir: Path) -> list[float]:
    """The per-epoch ``test_acc`` of a run's ``metrics.csv`` (empty when it has none)."""
    try:
        metrics = pd.read_csv(Path(run_dir) / "metrics.csv")
    except (OSError, ValueError):
        return []
    return metrics["test_acc"].astype(float).dropna().to_list() if "test_acc" in metrics else []


def read_runs(result_paths: list[Path]) -> pd.DataFrame:
    """Tidy frame, one row per distinct requested ``result.json`` path (columns RUN_COLUMNS)."""
    unique = list(dict.fromkeys(Path(p) for p in result_paths))
    runs = pd.DataFrame([run_row(p) for p in unique], columns=RUN_COLUMNS)
    return normalize_runs(runs)


def read_curves(runs: pd.DataFrame, metrics: Sequence[str], required: Sequence[str] = ()) -> pd.DataFrame:
    """Long-form per-epoch ``metrics`` of the complete runs, one row per run and epoch, from the
    ``metrics.csv`` beside each (columns :func:`curve_columns`). UserError for a finished run
    without ``metrics.csv`` or without ``epoch`` or a ``required`` metric; a metric the run
    does not record otherwise is NaN (a method that does not have it)."""
    frames = []
    for run in runs[runs["complete"]].itertuples(index=False):
        metrics_path = Path(run.path).parent / "metrics.csv"
        if not metrics_path.exists():
            raise UserError(f"finished run has no metrics.csv: {metrics_path}")
        table = pd.read_csv(metrics_path)
        missing = {"epoch", *required} - set(table.columns)
        if missing:
            raise UserError(f"{metrics_path} lacks the columns {sorted(missing)}")
        frames.append(curve_rows(run._asdict(), table, metrics))
    if not frames:
        return pd.DataFrame(columns=curve_columns(metrics))
    return pd.concat(frames, ignore_index=True)


def read_trajectories(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch test accuracy and accuracy as trained of the complete runs (the columns
    ``curve_columns(TRAJECTORY_METRICS)``: what the sawtooth claim reads)."""
    return read_curves(runs, TRAJECTORY_METRICS, required=TRAJECTORY_METRICS)


def read_flip_curves(run_dir: Path) -> pd.DataFrame:
    """Per-epoch never-flipped share over all binary weights and in the last binary layer.

    Long form (columns ``epoch, scope, layer, never_flipped, flip_ratio``); empty when the run
    records no flip statistics (full precision, or a run from before they existed).
    """
    run_dir = Path(run_dir)
    frames = []
    metrics_path, layers_path = run_dir / "metrics.csv", run_dir / "layers.csv"
    if metrics_path.exists():
        metrics = pd.read_csv(metrics_path)
        if "never_flipped" in metrics:
            frames.append(overall_flips(metrics))
    if layers_path.exists():
        layers = pd.read_csv(layers_path)
        if {"order", "name", "never_flipped"} <= set(layers.columns):
            frames.append(last_layer_flips(layers))
    columns = ["epoch", "scope", "layer", "never_flipped", "flip_ratio"]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def with_flip_metrics(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` plus the final epoch's ``never_flipped`` (all binary weights),
    ``never_flipped_last`` and ``last_layer`` of each complete run (NaN where not recorded)."""
    rows = []
    for run in runs.itertuples(index=False):
        rows.append(final_flips(read_flip_curves(Path(run.path).parent)) if run.complete else {})
    finals = pd.DataFrame(rows, columns=FLIP_COLUMNS, index=runs.index)
    out = runs.drop(columns=[c for c in FLIP_COLUMNS if c in runs.columns]).join(finals)
    out[FLIP_COLUMNS[:2]] = out[FLIP_COLUMNS[:2]].astype(float)
    return out


def read_silent_weights(runs: pd.DataFrame) -> pd.DataFrame:
    """Long-form never-flipped curves (SILENT_COLUMNS) of the complete runs."""
    frames = []
    for run in runs[runs["complete"]].itertuples(index=False):
        curves = read_flip_curves(Path(run.path).parent)
        if curves.empty:
            continue
        for key in FIELDS:
            curves[key] = getattr(run, key)
        frames.append(curves[SILENT_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=SILENT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def read_weight_histograms(runs: pd.DataFrame) -> pd.DataFrame:
    """The ``weight_histogram.csv`` of the complete runs (HISTOGRAM_COLUMNS): per run, binary
    layer and bin, the count of initial latent weights and of those whose sign never flipped,
    ``epoch`` the run's last epoch (never flipped up to its end). Runs without the file (full
    precision, or recorded before it existed) are left out."""
    frames = []
    for run in runs[runs["complete"]].itertuples(index=False):
        path = Path(run.path).parent / HISTOGRAM_FILE
        if not path.exists():
            continue
        table = pd.read_csv(path).rename(columns={"name": "layer"})
        table["layer"] = table["layer"].fillna("").astype(str)
        for key in FIELDS:
            table[key] = getattr(run, key)
        table["epoch"] = int(run.epochs) if pd.notna(run.epochs) else pd.NA
        frames.append(table[HISTOGRAM_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=HISTOGRAM_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def read_silent_figure(runs: pd.DataFrame) -> pd.DataFrame:
    """The silent-weights figure's data (SILENT_FIGURE_COLUMNS): the flip curves of
    :func:`read_silent_weights` (bin columns empty), then each run's last-binary-layer histogram
    (:func:`last_layer_histograms`, scope SCOPE_HISTOGRAM; share and ratio columns empty)."""
    curves = read_silent_weights(runs)
    hist = last_layer_histograms(read_weight_histograms(runs)).assign(scope=SCOPE_HISTOGRAM)
    frames = [f for f in (curves, hist) if not f.empty]
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    data = data.reindex(columns=SILENT_FIGURE_COLUMNS)
    for column in ("seed", "epoch", "bin", "initial_count", "never_flipped_count"):
        data[column] = pd.to_numeric(data[column]).astype("Int64")
    for column in ("never_flipped", "flip_ratio", "bin_low", "bin_high"):
        data[column] = pd.to_numeric(data[column]).astype(float)
    return data


# --------------------------------------------------------------------------- pure functions


def last_layer_histograms(hist: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's last binary layer (highest ``order``) of a histograms frame."""
    if hist.empty:
        return hist
    last = hist.groupby(IDENTITY, dropna=False)["order"].transform("max")
    return hist[hist["order"] == last].reset_index(drop=True)


def overall_flips(metrics: pd.DataFrame) -> pd.DataFrame:
    """The all-binary-weights rows of a flip curve, from ``metrics.csv``."""
    return pd.DataFrame(
        {
            "epoch": metrics["epoch"].astype(int),
            "scope": SCOPE_ALL,
            "layer": "",
            "never_flipped": metrics["never_flipped"].astype(float),
            "flip_ratio": metrics.get("flip_ratio", pd.Series(np.nan, index=metrics.index)).astype(float),
        }
    )


def last_layer_flips(layers: pd.DataFrame) -> pd.DataFrame:
    """The last-binary-layer rows of a flip curve, from ``layers.csv`` (highest ``order``)."""
    last = layers[layers["order"] == layers["order"].max()]
    return pd.DataFrame(
        {
            "epoch": last["epoch"].astype(int),
            "scope": SCOPE_LAST,
            "layer": last["name"].astype(str),
            "never_flipped": last["never_flipped"].astype(float),
            "flip_ratio": last.get("flip_ratio", pd.Series(np.nan, index=last.index)).astype(float),
        }
    ).reset_index(drop=True)


def final_flips(curves: pd.DataFrame) -> dict:
    """The last epoch's never-flipped shares (all, last layer) and the last layer's name."""
    out = {"never_flipped": np.nan, "never_flipped_last": np.nan, "last_layer": None}
    for scope, key in ((SCOPE_ALL, "never_flipped"), (SCOPE_LAST, "never_flipped_last")):
        rows = curves[curves["scope"] == scope].sort_values("epoch")
        if not rows.empty:
            out[key] = float(rows["never_flipped"].iloc[-1])
            if scope == SCOPE_LAST:
                out["last_layer"] = str(rows["layer"].iloc[-1])
    return out


def best_epoch_acc(per_epoch: list[float], final: object) -> float:
    """Best-epoch selection: ``max`` over the epochs' test accuracies and the final one (a
    diverged run's chance level, a run's only number when it recorded no epoch); NaN if none."""
    values = [float(v) for v in [*per_epoch, final] if isinstance(v, int | float) and v == v]
    return max(values) if values else np.nan


def normalize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Fix the dtypes of a runs frame (numbers as float, seed as int, complete as bool)."""
    runs = runs.copy()
    for column in NUMERIC:
        if column not in runs:
            runs[column] = np.nan  # a frame built before the column existed
        runs[column] = pd.to_numeric(runs[column], errors="coerce").astype(float)
    runs["seed"] = runs["seed"].astype(int)
    runs["complete"] = runs["complete"].astype(bool)
    return runs


def curve_columns(metrics: Sequence[str]) -> list[str]:
    """The columns of a curves frame: the cell and seed, the epoch, the metrics, then the
    recipe, the run's epoch budget and its status."""
    return [*CELL_KEYS, "seed", "epoch", *metrics, "recipe", "epochs", "status"]


def curve_rows(run: dict, metrics_csv: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """A run's ``metrics.csv`` as long-form curve rows tagged with its identity (a metric the
    run does not record is NaN)."""
    out = pd.DataFrame({"epoch": metrics_csv["epoch"].astype(int)})
    for name in metrics:
        column = metrics_csv[name] if name in metrics_csv else pd.Series(np.nan, index=metrics_csv.index)
        out[name] = pd.to_numeric(column, errors="coerce").astype(float)
    for key in (*CELL_KEYS, "seed", "recipe", "status"):
        out[key] = run[key]
    out["epochs"] = run["epochs"] if pd.notna(run["epochs"]) else out["epoch"].max()
    return out[curve_columns(metrics)]


def check_single_recipe(runs: pd.DataFrame, table: str) -> str:
    """The one recipe shared by ``runs``; UserError naming the recipes when they are mixed."""
    recipes = sorted(runs["recipe"].dropna().unique())
    if len(recipes) > 1:
        counts = runs.groupby("recipe").size()
        listed = ", ".join(f"'{r}' ({counts[r]} runs)" for r in recipes)
        raise UserError(
            f"table '{table}' compares cells that must share one recipe, but the runs mix "
            f"recipes: {listed}. Pass the runs of one recipe only."
        )
    return recipes[0] if recipes else ""


def check_recipe_per_dataset(runs: pd.DataFrame, table: str) -> None:
    """One recipe per dataset (cells are compared within a dataset: ImageNet has its own
    recipe next to CIFAR's); UserError naming the mixed recipes of a dataset."""
    for dataset, group in runs.groupby("dataset", sort=True):
        check_single_recipe(group, f"{table}' on '{dataset}")


def chance_by_dataset(runs: pd.DataFrame) -> dict[str, float]:
    """Chance accuracy of each dataset, from any finished run on it."""
    done = runs[runs["complete"]].dropna(subset=["chance_acc"])
    return done.groupby("dataset")["chance_acc"].first().to_dict()


def cell_summary(runs: pd.DataFrame, value: str = "test_acc", keys: list[str] | None = None) -> pd.DataFrame:
    """One row per cell (``keys``, default CELL_KEYS): recipe, n, mean, std, ci_low, ci_high,
    n_diverged, n_missing, chance_acc, then EXTRA_CELL_COLUMNS (``cell_extras``). Incomplete runs
    never enter the statistics; a cell with no finished run has n = 0 and NaN statistics (NOT
    RUN). Tables that mix recipes pass ``keys`` with ``recipe`` in them."""
    keys = keys or CELL_KEYS
    chance = chance_by_dataset(runs)
    rows = []
    for key, cell in runs.groupby(keys, sort=False, dropna=False):
        done = cell[cell["complete"]]
        s = stats.summarize(done[value].to_list())
        row = dict(zip(keys, key, strict=True))
        row |= {"recipe": cell["recipe"].iloc[0], "n": s.n, "mean": s.mean, "std": s.std}
        row |= {"ci_low": s.ci_low, "ci_high": s.ci_high}
        row["n_diverged"] = int((done["status"] == "diverged").sum())
        row["n_missing"] = int((~cell["complete"]).sum())
        row["chance_acc"] = chance.get(row["dataset"], np.nan)
        rows.append(row | cell_extras(done))
    columns = [*keys, *(["recipe"] if "recipe" not in keys else [])]
    columns += ["n", "mean", "std", "ci_low", "ci_high", "n_diverged", "n_missing", "chance_acc"]
    return pd.DataFrame(rows, columns=[*columns, *EXTRA_CELL_COLUMNS])


def cell_extras(done: pd.DataFrame) -> dict[str, float]:
    """The finished runs' best-epoch accuracy (mean, std, t-interval over the same runs as the
    final accuracy; optimistic) and the mean of each accounting number (equal across seeds:
    the network's structure; NaN where no run recorded it)."""
    best = stats.summarize(done["best_test_acc"].dropna().to_list() if "best_test_acc" in done else [])
    row = dict(zip(BEST_COLUMNS, (best.mean, best.std, best.ci_low, best.ci_high), strict=True))
    for column in ACCOUNTING_FIELDS:
        values = done[column].dropna() if column in done else pd.Series(dtype=float)
        row[column] = float(values.mean()) if len(values) else np.nan
    return row
