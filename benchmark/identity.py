"""The identity of a training run and the directory it names (DESIGN 6). No torch, no pandas:
the workflow imports this module every time it builds a DAG.

A run is (recipe, dataset, arch, regime, variant, ordering, seed). Its directory is a pure
function of it and parses back into it::

    <root>/<recipe>/<dataset>/<arch>/<regime>/<variant>/<ordering>/seed<k>

with ``<root>`` = ``results/runs`` in the workflow. Every name is a plain directory name
(:func:`check_name`), so a path never reaches outside its run directory and means the same
on case-insensitive file systems. ``ordering`` is ``none`` for methods that freeze in no order,
``regime`` is ``fp`` for full-precision methods.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path, PurePath
from typing import Any

from benchmark.errors import UserError

RUNS_ROOT = "results/runs"
NO_ORDERING = "none"
FP_REGIME = "fp"
NAMES = ("recipe", "dataset", "arch", "regime", "variant", "ordering")
FIELDS = (*NAMES, "seed")
LAYOUT = "/".join(f"{{{name}}}" for name in NAMES) + "/seed{seed}"
# No separators, no "." or "..", no spaces or upper case, no leading "-".
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
NAME_RULE = "lower-case letters, digits, '_', '.' and '-', starting with a letter or digit"
_SEED_RE = re.compile(r"^seed(\d+)$")


def check_name(key: str, value: str) -> None:
    """Refuse a run-identity component that is not a plain directory name (see NAME_RE)."""
    if not NAME_RE.match(value):
        suggestion = re.sub(r"[^a-z0-9_.-]+", "_", value.lower()).lstrip("_.-") or "run1"
        raise UserError(
            f"{key} '{value}' cannot name a run directory: use only {NAME_RULE} (for example '{suggestion}')"
        )


@dataclasses.dataclass(frozen=True, order=True)
class RunId:
    """One training run's identity; sorts by recipe, dataset, arch, regime, variant, ordering, seed."""

    recipe: str
    dataset: str
    arch: str
    regime: str
    variant: str
    ordering: str
    seed: int

    def check(self) -> None:
        """Refuse names that cannot be directory names and a negative seed (UserError)."""
        for name in NAMES:
            check_name(name, getattr(self, name))
        if self.seed < 0:
            raise UserError(f"seed={self.seed} must be >= 0")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def relative(self) -> str:
        """``<recipe>/<dataset>/<arch>/<regime>/<variant>/<ordering>/seed<k>``."""
        return LAYOUT.format(**self.as_dict())

    @property
    def directory(self) -> str:
        """The run directory in the workflow, relative to its working directory."""
        return f"{RUNS_ROOT}/{self.relative}"

    @property
    def result(self) -> str:
        """The workflow's ``result.json`` of the run: the file that exists only once it finished."""
        return f"{self.directory}/result.json"

    @property
    def label(self) -> str:
        """A short name for logs and progress bars: the directory without the recipe."""
        return self.relative.split("/", 1)[1]

    @classmethod
    def from_directory(cls, directory: str | PurePath) -> RunId:
        """The identity a run directory names (its last seven components); UserError otherwise."""
        parts = PurePath(directory).parts[-len(FIELDS) :]
        seed = _SEED_RE.match(parts[-1]) if len(parts) == len(FIELDS) else None
        if seed is None:
            raise UserError(
                f"cannot tell which run '{directory}' is: it does not follow the layout "
                f"{LAYOUT.replace('{', '<').replace('}', '>')}"
            )
        return cls(*parts[:-1], seed=int(seed.group(1)))

    @classmethod
    def from_result(cls, path: str | Path) -> RunId:
        """The identity of the run whose ``result.json`` (or other record) is at ``path``."""
        return cls.from_directory(PurePath(path).parent)


def pattern(root: str = RUNS_ROOT) -> str:
    """The run directory with Snakemake wildcards: ``<root>/{recipe}/.../seed{seed}``."""
    return f"{root}/{LAYOUT}"
