"""Evaluations during training, every N optimizer steps (``bnnbench train --eval-every N
--eval-subset K``; issue 13): what the trainer writes and what the readers take from it.

Claim S6's sawtooth has the period of one freezing slot, a fraction of an epoch at laptop
scale, which a curve evaluated once per epoch cannot show. With ``--eval-every N`` the trainer
(``benchmark.train``) evaluates the network *as trained* after every N-th optimizer step, in the
context the end-of-epoch evaluation uses (``method.evaluating("as_trained", key)``), on the
first K test examples (K = 0: the whole test split), and appends a row to the run's
``evals.csv`` (:data:`COLUMNS`): ``step``, ``epoch`` = step / steps per epoch (fractional),
``test_acc_as_trained`` (percent), ``n_examples``.

It changes no number of the run: an evaluation draws from no generator the training uses (a
method that draws for an evaluation, StoMPP's activation masks, seeds a generator of its own
from ``key``: the epoch at the end of an epoch, :func:`key` of the step here, negative, so
never an epoch's), runs the network in eval mode (BatchNorm statistics untouched), restores
train mode, and its time is left out of the epoch's ``seconds``. Its rows are part of the
checkpoint's records, so a resumed run writes the same file. N and K are not part of the run's
config (nor its hash); ``result.json`` records them under ``evals`` when N > 0.

Readers: :func:`with_fine_curves` adds each run's rows to a curves frame (the trajectories
figure's data, ``curve`` = :data:`FINE`, beside the per-epoch rows, ``curve`` = :data:`PER_EPOCH`),
and claim S6 judges that finer curve where every run of a cell has one
(:func:`judged_curve`). This module imports no torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import UserError

if TYPE_CHECKING:  # the readers import pandas when called: training runs never need it
    import pandas as pd

FILE = "evals.csv"
COLUMNS = ("step", "epoch", "test_acc_as_trained", "n_examples")
METRIC = "test_acc_as_trained"
# a curves frame with fine rows: which curve a row is on, and the fine rows' own columns
CURVE, PER_EPOCH, FINE = "curve", "epoch", "steps"
FINE_COLUMNS = [CURVE, "step", "every", "n_examples"]
RUN_KEYS = ("dataset", "arch", "regime", "variant", "ordering", "seed", "recipe", "status")


# --------------------------------------------------------------------------- training side
@dataclasses.dataclass(frozen=True)
class Plan:
    """Evaluate every ``every`` optimizer steps (0: never) on the first ``subset`` test
    examples (0: all of them)."""

    every: int = 0
    subset: int = 0

    def __post_init__(self) -> None:
        if self.every < 0 or self.subset < 0:
            raise UserError(
                "--eval-every and --eval-subset must be >= 0 (0: no evaluations, the whole test split)"
            )

    def due(self, step: int) -> bool:
        """Whether to evaluate after optimizer step ``step`` (1-based count of steps done)."""
        return self.every > 0 and step % self.every == 0

    def examples(self, test_size: int) -> int:
        """How many test examples an evaluation reads."""
        return min(self.subset, test_size) if self.subset else test_size

    def record(self) -> dict[str, int]:
        """``result.json``'s ``evals`` and the checkpoint's record of the plan."""
        return {"every": self.every, "subset": self.subset}


def key(step: int) -> int:
    """The key of the evaluation after step ``step`` (``Method.evaluating``'s ``epoch``): ``-step``,
    distinct for every step and from every epoch (>= 1), so an evaluation that draws (StoMPP's
    as-trained masks, seeded from (seed, key)) draws the same on every run and resume."""
    return -step


def row(step: int, steps_per_epoch: int, acc: float, n_examples: int) -> dict[str, Any]:
    """One row of ``evals.csv``."""
    return {"step": step, "epoch": step / steps_per_epoch, METRIC: acc, "n_examples": n_examples}


def first(batches: Iterator[Any], limit: int) -> Iterator[Any]:
    """The ``(inputs, targets)`` batches up to ``limit`` examples in all, the last one cut;
    the source is closed when it stops early (a loader's workers end)."""
    seen = 0
    try:
        for inputs, y in batches:
            take = min(len(y), limit - seen)
            yield head(inputs, take), y[:take]
            seen += take
            if seen >= limit:
                return
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def head(inputs: Any, n: int) -> Any:
    """The first ``n`` examples of a batch's inputs (a tensor, or a mapping of tensors)."""
    if isinstance(inputs, Mapping):
        return {name: value[:n] for name, value in inputs.items()}
    return inputs[:n]


def check_resume(recorded: Mapping[str, int] | None, plan: Plan) -> None:
    """Refuse to resume a checkpoint written under another plan: its evals.csv would mix both."""
    before = Plan(**recorded) if recorded else Plan()
    if before != plan:
        raise UserError(
            f"refusing to resume: the checkpoint was written with --eval-every {before.every} "
            f"--eval-subset {before.subset}, this run asks for --eval-every {plan.every} "
            f"--eval-subset {plan.subset}; rerun with those, or delete it (or pass --restart) to start over"
        )


# --------------------------------------------------------------------------- readers
def read(run_dir: Path) -> pd.DataFrame | None:
    """A run's ``evals.csv`` (None when it has none); UserError when it lacks a column."""
    import pandas as pd

    path = Path(run_dir) / FILE
    if not path.exists():
        return None
    table = pd.read_csv(path)
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise UserError(f"{path} lacks the columns {sorted(missing)}")
    return table


def with_fine_curves(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``curves`` (per-epoch rows, ``aggregate.read_curves``) and, when some complete run of
    ``runs`` has an ``evals.csv``, one row per evaluation: ``epoch`` fractional, ``test_acc``
    empty, ``test_acc_as_trained`` from the file, the run's cell and seed, and the columns
    :data:`FINE_COLUMNS` (``curve``: :data:`PER_EPOCH` or :data:`FINE`; ``step``, ``every`` (N)
    and ``n_examples`` on the fine rows). ``curves`` unchanged when no run has the file."""
    import pandas as pd

    frames = []
    for run in runs[runs["complete"]].itertuples(index=False):
        table = read(Path(run.path).parent)
        if table is None or table.empty:
            continue
        rows = pd.DataFrame({"epoch": table["epoch"].astype(float), METRIC: table[METRIC].astype(float)})
        for name in curves.columns:
            if name not in rows:
                rows[name] = getattr(run, name) if name in RUN_KEYS else float("nan")
        rows["epochs"] = run.epochs if pd.notna(run.epochs) else curves["epochs"].max()
        rows[CURVE] = FINE
        rows["step"] = table["step"].astype(int)
        rows["every"] = int(table["step"].min())
        rows["n_examples"] = table["n_examples"].astype(int)
        frames.append(rows)
    if not frames:
        return curves
    epoch_rows = curves.assign(**{CURVE: PER_EPOCH})
    out = pd.concat([epoch_rows, *frames], ignore_index=True)
    out["epoch"] = out["epoch"].astype(float)
    for name in ("step", "every", "n_examples"):
        out[name] = out[name].astype("Int64")
    return out[[*curves.columns, *FINE_COLUMNS]]


def per_epoch(data: pd.DataFrame) -> pd.DataFrame:
    """The per-epoch rows of a curves frame (all of them when it has no fine rows)."""
    return data[data[CURVE] == PER_EPOCH].drop(columns=FINE_COLUMNS) if CURVE in data else data


def fine(data: pd.DataFrame) -> pd.DataFrame:
    """The fine rows (one per evaluation) of a curves frame; empty when it has none."""
    return data[data[CURVE] == FINE] if CURVE in data else data.iloc[0:0]


def describe(rows: pd.DataFrame) -> str:
    """The cadence of fine rows: ``every 2 steps on 360 test images`` (each one, if several)."""
    pairs = rows[["every", "n_examples"]].drop_duplicates().sort_values(["every", "n_examples"])
    return ", ".join(
        f"every {int(n)} steps on {int(k)} test images" for n, k in pairs.itertuples(index=False)
    )


def judged_curve(cell: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The curve a claim judges in ``cell`` (a curves frame of the runs compared) and what it
    is: the fine rows when every run (variant, seed) of the cell has them, else the per-epoch
    rows ("per epoch"; the note says how many runs had a finer curve)."""
    epochs, steps = per_epoch(cell), fine(cell)
    runs = set(epochs[["variant", "seed"]].itertuples(index=False, name=None))
    finer = set(steps[["variant", "seed"]].itertuples(index=False, name=None))
    if runs and finer >= runs:
        return steps, f"evaluated {describe(steps)}"
    if finer:
        return epochs, f"per epoch (only {len(finer & runs)} of {len(runs)} runs have evals.csv)"
    return epochs, "per epoch"
