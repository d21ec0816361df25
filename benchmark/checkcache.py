"""Remember what Snakemake's DAG building learnt by importing torch, so that it does not import
torch again for a config and code it has already seen.

Two things need the registries, which import torch (about 2 s, more than Snakemake needs for
the DAG of the whole paper grid): the registry checks of a config
(``benchmark.config_checks.check_registries``, which build every variant's method) and the method facts
the grid expands with (``benchmark.facts``). Both depend only on the code of the registries
and, for the checks, on the config, so they are kept under ``.snakemake/bnnbench-checked/`` of
the working directory, named by a hash: an empty stamp file per passed config
(:func:`check_key`: the config as canonical JSON and the code) and one JSON file of facts per
code version (:func:`code_key`). The code is the size and modification time of every Python
file of the ``benchmark`` and ``methods`` packages and the method plugins installed (entry
points of ``bnnbench.methods``); any change to one of them makes a new key. A failed check
writes no stamp.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
STAMP_DIR = Path(".snakemake", "bnnbench-checked")


def code_fingerprint() -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every Python file of the two packages, sorted."""
    files = sorted(p for pkg in ("benchmark", "methods") for p in (PACKAGE_ROOT / pkg).rglob("*.py"))
    return [(str(p.relative_to(PACKAGE_ROOT)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]


def code_key() -> str:
    """Hash of the code and the installed method plugins (what the method facts depend on)."""
    return _hash({"code": code_fingerprint(), "plugins": _plugins()})


def check_key(config: Mapping[str, Any]) -> str:
    """Hash of the config, the code and the installed method plugins."""
    return _hash({"config": config, "code": code_fingerprint(), "plugins": _plugins()})


def _plugins() -> list[str]:
    return sorted(f"{ep.name}={ep.value}" for ep in entry_points(group="bnnbench.methods"))


def _hash(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def checked_once(
    config: Mapping[str, Any], check: Callable[[Mapping[str, Any]], None], root: Path = Path(".")
) -> bool:
    """Run ``check(config)`` unless it already passed for this config and code; returns
    whether it ran. A check that raises leaves no stamp."""
    stamp = root / STAMP_DIR / check_key(config)
    if stamp.exists():
        return False
    check(config)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    return True
