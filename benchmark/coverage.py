"""Which of the papers' reported numbers a config can attempt (issue 10's count).

A reported number (a row of ``paper/reported/<paper>.csv``) is *attemptable* by a config when
the config's grid has runs of its recipe, dataset, architecture, regime and variant, in the
table that judges that paper (``numbers.tables`` of ``paper/claims.yaml``): the workflow can
then produce the cell the regression report compares it with. Whether the metric is one the
table tabulates (top-5 is not) is the report's business, not this count's.

    python -m benchmark.coverage workflows/config/paper.yaml    # one line per row, and the count
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark import configs, grid

Cell = tuple[str, str, str, str, str]  # recipe, dataset, arch, regime, variant


def table_cells(config: Mapping[str, Any], table: str) -> set[Cell]:
    """The (recipe, dataset, arch, regime, variant) cells of one table of the config."""
    if table not in config["tables"]:
        return set()
    runs = grid.section_runs(config, "tables", table)
    return {(r.recipe, r.dataset, r.arch, r.regime, r.variant) for r in runs}


def attemptable(
    config: Mapping[str, Any], reported: pd.DataFrame, paper_tables: Mapping[str, str]
) -> pd.Series:
    """Per reported row: whether ``config`` trains its cell in the table that judges its paper."""
    cells = {paper: table_cells(config, table) for paper, table in paper_tables.items()}
    variant = reported["variant"] if "variant" in reported else reported["method"]
    columns = [reported[c] for c in ("recipe", "dataset", "arch", "regime")]
    keys = zip(*columns, variant, strict=True)
    return pd.Series(
        [key in cells.get(paper, set()) for paper, key in zip(reported["paper"], keys, strict=True)],
        index=reported.index,
    )


def main(argv: list[str]) -> int:
    """Print every reported row with ``+`` (attemptable) or ``-``, then the count."""
    from benchmark.reporting import read_reported

    config = configs.load(*argv) if argv else configs.load()
    root = Path(__file__).resolve().parent.parent
    paths = config["paper"]["reported"]
    reported = read_reported([root / p for p in ([paths] if isinstance(paths, str) else paths)])
    claims = yaml.safe_load((root / config["paper"]["claims"]).read_text())
    found = attemptable(config, reported, claims["numbers"]["tables"])
    for (_, row), ok in zip(reported.iterrows(), found, strict=True):
        cell = f"{row['recipe']}/{row['dataset']}/{row['arch']}/{row['regime']}/{row['variant']}"
        print(f"{'+' if ok else '-'} {row['paper']:7} {row['where'][:28]:28} {cell} {row['metric']}")
    print(f"attemptable: {int(found.sum())} of {len(found)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
