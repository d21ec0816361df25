"""The facts about each method that the workflow expands its grid with, without importing torch.

Each method declares them on its class (``methods.protocol.Method``): the regimes it runs in
(``("fp",)`` for full precision) and the layer orderings it can freeze in (none for most). The
grid needs them every time Snakemake builds a DAG, but the methods import torch (seconds), so
:func:`of` reads them from a JSON file under ``.snakemake/bnnbench-checked/`` named by the code
fingerprint (``benchmark.checkcache``), written once from the classes themselves
(:func:`declared`) whenever the code or the installed method plugins change. A method that is
not in the file (one registered since, e.g. by a test) makes the facts be read again from the
classes; a name unknown there too raises ``UnknownNameError`` listing the valid methods.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from benchmark.atomic import write_text
from benchmark.checkcache import STAMP_DIR, code_key
from benchmark.identity import FP_REGIME


@dataclasses.dataclass(frozen=True)
class MethodFacts:
    """One method's regimes and orderings, as its class declares them."""

    name: str
    regimes: tuple[str, ...]
    orderings: tuple[str, ...] = ()

    @property
    def full_precision(self) -> bool:
        """Whether the method binarizes nothing (runs in the regime ``fp`` only)."""
        return self.regimes == (FP_REGIME,)

    @property
    def ordered(self) -> bool:
        """Whether the method freezes layers in an order (its runs are crossed with orderings)."""
        return bool(self.orderings)


_known: dict[str, MethodFacts] = {}


def declared() -> dict[str, MethodFacts]:
    """The facts of every registered method (plugins included), read from the classes (imports torch)."""
    import methods

    classes = {name: methods.get_method(name) for name in methods.method_names()}
    return {
        name: MethodFacts(name, tuple(cls.regimes), tuple(cls.orderings)) for name, cls in classes.items()
    }


def cached(root: Path = Path(".")) -> dict[str, MethodFacts]:
    """The facts from the file of this code version under ``root``, written first if missing."""
    path = root / STAMP_DIR / f"facts-{code_key()}.json"
    if path.exists():
        return {n: MethodFacts(n, tuple(f["regimes"]), tuple(f["orderings"])) for n, f in _read(path)}
    facts = declared()
    rows = {name: {"regimes": f.regimes, "orderings": f.orderings} for name, f in facts.items()}
    write_text(path, json.dumps(rows, indent=1, sort_keys=True))
    return facts


def known() -> dict[str, MethodFacts]:
    """The facts of every method registered when they were last read (see :func:`of`)."""
    if not _known:
        _known.update(cached())
    return dict(_known)


def of(method: str) -> MethodFacts:
    """The facts of ``method``: cached, else from the classes; UnknownNameError for no such method."""
    if method not in known():
        _known.update(declared())
    if method not in _known:
        import methods

        methods.get_method(method)  # raises UnknownNameError with the valid names
    return _known[method]


def _read(path: Path) -> list[tuple[str, dict]]:
    return sorted(json.loads(path.read_text()).items())
