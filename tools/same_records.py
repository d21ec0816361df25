"""Do two versions of the code give the same records? For structural changes, which must not
change a number (the check of the structure issue).

``snapshot`` trains a fixed set of short ``bnnbench train`` runs with the code that the
``bnnbench`` command imports (every registered method on digits, ResNet-18 at width 0.125, 2
epochs, seed 0, plus runs that exercise orderings, the BWN regime, augmentation, typed
overrides, a variant name and the recipe schedule scope); ``compare`` says, file by file, whether
``metrics.csv``, ``layers.csv`` and ``result.json`` of two snapshots are identical apart from
timings and provenance::

    python -m tools.same_records snapshot /tmp/before        # on the old commit
    python -m tools.same_records snapshot /tmp/after         # on the new one
    python -m tools.same_records compare /tmp/before /tmp/after

To snapshot another commit without switching branches: ``git worktree add /tmp/old <commit>``
and run the snapshot from there with ``PYTHONPATH=/tmp/old`` (the editable install then imports
that tree). CSV files count as identical when every row has the same values column by column
(a change of column order is reported as such); ``result.json`` when it is equal without
``wall_seconds``, ``steps_per_second`` and ``provenance``. Runs are bit-exact on one machine
only (CPU kernels differ across instruction sets): compare snapshots made on the same CPU.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE = ["--dataset", "digits", "--arch", "resnet18", "--width", "0.125", "--seed", "0", "--epochs", "2"]
BASE += ["--set", "recipe.batch_size=32", "--set", "recipe.augment=false", "--recipe", "mini"]
BASE += ["--threads", "1", "--no-progress", "--checkpoint-seconds", "0"]
BOP_RECIPE = [
    *("--set", "recipe.optimizer=adam", "--set", "recipe.lr=0.01", "--set", "recipe.momentum=0"),
    *("--set", "recipe.weight_decay=0", "--set", "recipe.schedule=step", "--set", "recipe.step_every=1"),
    *("--set", "recipe.schedule_scope=method", "--set", "recipe.batch_size=50", "--recipe", "bopr"),
]
RUNS = {
    **{
        name: ["--method", name] for name in ("fp", "ste", "stompp", "stompp_ste", "hybrid", "reverse_hybrid")
    },
    **{name: ["--method", name] for name in ("ovsw", "bop", "pabt")},
    "stompp_reverse": ["--method", "stompp", "--ordering", "reverse"],
    "stompp_bwn": ["--method", "stompp", "--regime", "bwn"],
    "ste_bwn_augment": ["--method", "ste", "--regime", "bwn", "--set", "recipe.augment=true"],
    "stompp_sets": [
        *("--method", "stompp", "--variant", "stompp_x", "--set", "refresh=5", "--set", "schedule=cosine"),
        *("--set", "scheme=magnitude", "--set", "freeze_end=0.8"),
    ],
    "stompp_set_ordering": ["--method", "stompp", "--set", "ordering=random"],
    "ovsw_ags": ["--method", "ovsw", "--variant", "ovsw_ags", "--set", "sad=false"],
    "ovsw_bwn": ["--method", "ovsw", "--regime", "bwn"],
    "bop_scope_method": ["--method", "bop", *BOP_RECIPE],
    "pabt_random_scope_method": [
        *("--method", "pabt", "--variant", "pabt_random", "--set", "criterion=random", *BOP_RECIPE)
    ],
    "pabt_bwn": ["--method", "pabt", "--regime", "bwn"],
}
RECORDS = ("metrics.csv", "layers.csv", "result.json")
TIMINGS = {"wall_seconds", "steps_per_second", "provenance"}
IDENTICAL, ABSENT = "identical", "absent in both"


def train(name: str, out: Path) -> tuple[str, int]:
    """Train run ``name`` into ``out/<name>``; its command and output go to ``out/<name>.log``."""
    cmd = ["bnnbench", "train", *BASE, *RUNS[name], "--out", str(out / name)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    (out / f"{name}.log").write_text(" ".join(cmd) + "\n" + done.stdout + done.stderr)
    return name, done.returncode


def snapshot(out: Path, jobs: int = 2) -> int:
    """Train every run of RUNS into ``out`` (``jobs`` at a time); the number that failed."""
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda name: train(name, out), RUNS))
    for name, code in results:
        print(f"{name:28s} {'ok' if code == 0 else f'FAILED (exit {code}, see {out / name}.log)'}")
    return sum(code != 0 for _, code in results)


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text()
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(io.StringIO(text))]
    return next(csv.reader(io.StringIO(text))), rows


def compare_file(a: Path, b: Path) -> str:
    """How record file ``a`` compares with ``b`` (IDENTICAL, ABSENT or what differs)."""
    if not (a.exists() or b.exists()):
        return ABSENT
    if a.exists() != b.exists():
        return f"only in {a if a.exists() else b}"
    if a.suffix == ".csv":
        (head_a, rows_a), (head_b, rows_b) = _csv(a), _csv(b)
        if rows_a != rows_b:
            return "DIFFERENT VALUES"
        return IDENTICAL if head_a == head_b else f"same values, column order {head_a} vs {head_b}"
    ja, jb = (json.loads(p.read_text()) for p in (a, b))
    differ = sorted(k for k in (set(ja) | set(jb)) - TIMINGS if ja.get(k) != jb.get(k))
    return IDENTICAL if not differ else f"differs in {differ}"


def compare(a: Path, b: Path) -> int:
    """Print every record file's verdict; the number of files that are not identical."""
    names = sorted({p.name for root in (a, b) for p in root.iterdir() if p.is_dir()})
    bad = 0
    for name in names:
        for record in RECORDS:
            verdict = compare_file(a / name / record, b / name / record)
            bad += verdict not in (IDENTICAL, ABSENT)
            print(f"{name:28s} {record:12s} {verdict}")
    print("ALL IDENTICAL" if not bad else f"{bad} file(s) not identical")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.same_records", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="train the record runs into a directory")
    snap.add_argument("out", type=Path)
    snap.add_argument("--jobs", type=int, default=2, help="runs trained at a time (default 2)")
    both = sub.add_parser("compare", help="compare two snapshots")
    both.add_argument("a", type=Path)
    both.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.command == "snapshot":
        return 1 if snapshot(args.out, args.jobs) else 0
    return 1 if compare(args.a, args.b) else 0


if __name__ == "__main__":
    sys.exit(main())
