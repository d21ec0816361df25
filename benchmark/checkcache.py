"""Remember that a config passed the registry checks, so that Snakemake's DAG building does
not import torch again for a config and code it has already checked.

The registry checks (``benchmark.grid.check_registries``) build every variant's method, which
imports torch: about 2 s, more than Snakemake needs for the DAG of the whole paper grid. The
result depends only on the config and on the code of the registries, so it is stored as an
empty stamp file named by a hash of both: the config as canonical JSON, the bnnbench
version, the size and modification time of every Python file of the ``benchmark`` and
``methods`` packages, and the method plugins installed (entry points of ``bnnbench.methods``).
Any change to one of them makes a new key, and the checks run again. A failed check writes no
stamp. Stamps live under ``.snakemake/bnnbench-checked/`` of the working directory.
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


def check_key(config: Mapping[str, Any]) -> str:
    """Hash of the config, the code and the installed method plugins."""
    plugins = sorted(f"{ep.name}={ep.value}" for ep in entry_points(group="bnnbench.methods"))
    blob = json.dumps(
        {"config": config, "code": code_fingerprint(), "plugins": plugins}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


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
