"""The inputs of the claims: the tables by name, and the lookups of cells and scopes in them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from benchmark.identity import NAMES


class Tables(dict[str, pd.DataFrame | None]):
    """The aggregated inputs a claim may read, by name (the registered tables and the data of
    the judged figures, ``benchmark.outputs.claim_inputs``): a DataFrame, or None (or no entry)
    where the file was not produced.

    ``Tables(depth_scaling=df)`` has the depth-scaling table and no other.
    """


def find_cell(
    table: pd.DataFrame, dataset: str, arch: str, regime: str, variant: str, ordering: str
) -> pd.Series | None:
    """The table row of one cell; ``ordering`` also matches ``none`` (variants without one)."""
    match = table[
        (table["dataset"] == dataset)
        & (table["arch"] == arch)
        & (table["regime"] == regime)
        & (table["variant"] == variant)
        & table["ordering"].isin([ordering, "none"])
    ]
    return None if match.empty else match.iloc[0]


def directories(*rows: pd.Series) -> tuple[str, ...]:
    """The run directories of table cells without their seeds (``<recipe>/<dataset>/<arch>/
    <regime>/<variant>/<ordering>``, :data:`benchmark.identity.NAMES`), in order; a row without
    those columns (a hand-made table) names none."""
    return tuple("/".join(str(row[k]) for k in NAMES) for row in rows if all(k in row.index for k in NAMES))


def scopes(table: pd.DataFrame, columns: list[str], **where: object) -> list[tuple]:
    """Distinct values of ``columns`` (in table order) among rows matching ``where``
    (a list value matches any of its items)."""
    mask = pd.Series(True, index=table.index)
    for column, value in where.items():
        values = value if isinstance(value, list | tuple) else [value]
        mask &= table[column].isin(list(values))
    rows = table.loc[mask, columns].drop_duplicates()
    return [tuple(r) for r in rows.itertuples(index=False)]


def peer_cell(
    table: pd.DataFrame, recipe: str, dataset: str, arch: str, regime: str, variant: str
) -> pd.Series | None:
    """The row of one cell of a peer table (ordering forward or none), or None."""
    return find_cell(table[table["recipe"] == recipe], dataset, arch, regime, variant, "forward")


def peer_scopes(table: pd.DataFrame, regime: str, variants: Iterable[str]) -> list[tuple[str, str, str]]:
    """(recipe, dataset, arch) scopes of a peer table that have a row for every variant."""
    variants = list(variants)
    rows = table[(table["regime"] == regime) & table["variant"].isin(variants)]
    found = []
    for key, group in rows.groupby(["recipe", "dataset", "arch"], sort=False):
        if set(variants) <= set(group["variant"]):
            found.append(tuple(str(k) for k in key))
    return found
