"""claims.yaml: the registry of checks by name, and the typed parsing of each claim."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmark.claims.cells import Tables
from benchmark.claims.check import Check
from benchmark.claims.forms import Forms, LaptopForm
from benchmark.claims.peers import (
    AtLeast,
    Beats,
    BeatsOnEach,
    Components,
    Convergence,
    SilentWeights,
    SilentWeightsCut,
)
from benchmark.claims.sawtooth import Sawtooth, SawtoothContrast
from benchmark.claims.stompp import (
    Collapse,
    CollapseToControl,
    GainGrowsWithDepth,
    GlobalFreezing,
    OrderInsensitive,
    Ranking,
)
from benchmark.claims.verdicts import Outcome
from benchmark.errors import UserError
from benchmark.outputs import claim_inputs

CHECKS: dict[str, type[Check]] = {
    "gain_grows_with_depth": GainGrowsWithDepth,
    "collapse": Collapse,
    "collapse_to_control": CollapseToControl,
    "order_insensitive": OrderInsensitive,
    "global_freezing": GlobalFreezing,
    "ranking": Ranking,
    "sawtooth": Sawtooth,
    "sawtooth_contrast": SawtoothContrast,
    "silent_weights": SilentWeights,
    "silent_weights_cut": SilentWeightsCut,
    "components": Components,
    "convergence": Convergence,
    "beats": Beats,
    "beats_on_each": BeatsOnEach,
    "at_least": AtLeast,
}
_CASTS = {"str": str, "float": float, "int": int}
LAPTOP_KEYS = ("datasets", "reason", "check", "params")


@dataclass(frozen=True)
class Claim:
    """One entry of claims.yaml: id, description, the typed parameters of its check (the paper
    form) and, optionally, its laptop form (judged instead on the laptop form's datasets,
    :mod:`benchmark.claims.forms`)."""

    id: str
    check: str
    description: str
    params: Check = field(repr=False)
    laptop: LaptopForm | None = field(default=None, repr=False)

    @property
    def judged_by(self) -> Check:
        """The check that judges the claim: the paper form's, or both forms split by dataset."""
        if self.laptop is None:
            return self.params
        return Forms(self.params, self.laptop.params, self.laptop.datasets)

    def evaluate(self, tables: Tables) -> list[Outcome]:
        return self.judged_by.evaluate(tables)


def _convert(value: object, type_name: str, where: str) -> object:
    """Check and convert one YAML value to a field type (str, float, int, tuple[str, ...])."""
    if type_name == "tuple[str, ...]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where} must be a list of names, got {value!r}")
        return tuple(value)
    ok = {
        "str": isinstance(value, str),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
    }[type_name]
    if not ok:
        raise UserError(f"{where} must be of type {type_name}, got {value!r}")
    return _CASTS[type_name](value)


def build_params(
    cls: type[Check], mapping: dict, claim_id: str, tables: Collection[str] | None = None
) -> Check:
    """A check (its frozen parameter dataclass) from its YAML mapping; every field required,
    and a ``table`` parameter must be one of ``tables`` (default: every input a claim may read,
    :func:`benchmark.outputs.claim_inputs`)."""
    tables = claim_inputs() if tables is None else tables
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    missing = sorted(set(fields) - set(mapping))
    if unknown or missing:
        raise UserError(
            f"claim {claim_id}: unknown keys {unknown}, missing keys {missing}; "
            f"a '{cls.__name__}' check takes {sorted(fields)}"
        )
    params = cls(**{k: _convert(v, fields[k], f"claim {claim_id}: '{k}'") for k, v in mapping.items()})
    if "table" in fields and params.table not in tables:
        raise UserError(f"claim {claim_id}: 'table' must be one of {', '.join(tables)}, got {params.table!r}")
    return params


def parse_claim(entry: dict, tables: Collection[str] | None = None) -> Claim:
    """One claims.yaml entry (id, check, description, params, optionally laptop) as a
    :class:`Claim`; ``tables``: the names a claim's ``table`` may take (default:
    :func:`benchmark.outputs.claim_inputs`)."""
    if not isinstance(entry, dict) or not {"id", "check", "description"} <= set(entry):
        raise UserError(f"each claim needs 'id', 'check', 'description' and 'params': {entry!r}")
    if entry["check"] not in CHECKS:
        raise UserError(f"claim {entry['id']}: unknown check '{entry['check']}'. Valid: {', '.join(CHECKS)}")
    params = build_params(CHECKS[entry["check"]], entry.get("params") or {}, entry["id"], tables)
    laptop = parse_laptop(entry["laptop"], params, entry["id"], tables) if "laptop" in entry else None
    return Claim(str(entry["id"]), entry["check"], str(entry["description"]), params, laptop)


def parse_laptop(
    mapping: object, paper: Check, claim_id: str, tables: Collection[str] | None = None
) -> LaptopForm:
    """A claim's ``laptop:`` mapping: exactly ``datasets`` (a non-empty list of dataset names),
    ``reason`` (non-empty text), ``check`` (a registered check reading ``paper``'s table) and its
    ``params``; UserError naming the claim and the key otherwise."""
    where = f"claim {claim_id}: 'laptop'"
    if not isinstance(mapping, dict):
        raise UserError(f"{where} must be a mapping with keys {', '.join(LAPTOP_KEYS)}, got {mapping!r}")
    unknown = sorted(set(mapping) - set(LAPTOP_KEYS))
    missing = [k for k in LAPTOP_KEYS if k not in mapping]
    if unknown or missing:
        raise UserError(
            f"{where}: unknown keys {unknown}, missing keys {missing}; "
            f"a laptop form takes {list(LAPTOP_KEYS)}"
        )
    datasets = _convert(mapping["datasets"], "tuple[str, ...]", f"{where}.datasets")
    if not datasets:
        raise UserError(f"{where}.datasets must name at least one dataset (the laptop datasets it judges)")
    reason = mapping["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise UserError(f"{where}.reason must say why the claim has a laptop form, got {reason!r}")
    name = mapping["check"]
    if name not in CHECKS:
        raise UserError(f"{where}.check: unknown check {name!r}. Valid: {', '.join(CHECKS)}")
    if not isinstance(mapping["params"], dict):
        raise UserError(
            f"{where}.params must be a mapping of the check's parameters, got {mapping['params']!r}"
        )
    params = build_params(CHECKS[name], mapping["params"], f"{claim_id} (laptop form)", tables)
    if params.table != paper.table:
        raise UserError(
            f"{where}.check '{name}' reads table {params.table!r}; a laptop form judges other rows of "
            f"the paper form's table {paper.table!r}"
        )
    return LaptopForm(tuple(datasets), " ".join(reason.split()), name, params)  # type: ignore[arg-type]


def load_claims(path: Path, tables: Collection[str] | None = None) -> tuple[list[Claim], dict]:
    """The claims and the ``numbers`` settings (e.g. tolerance_pp) of a claims.yaml; ``tables``:
    the table names that claims and ``numbers.tables`` may name (default: every input a claim may
    read, :func:`benchmark.outputs.claim_inputs`)."""
    tables = claim_inputs() if tables is None else tables
    if not Path(path).exists():
        raise UserError(f"claims file not found: {path}")
    doc = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise UserError(f"{path}: expected a mapping with a 'claims' list")
    numbers = doc.get("numbers") or {}
    if not isinstance(numbers.get("tolerance_pp"), int | float):
        raise UserError(f"{path}: 'numbers.tolerance_pp' (a number of points) is required")
    paper_tables = numbers.get("tables", {})
    if not isinstance(paper_tables, dict) or not set(paper_tables.values()) <= set(tables):
        raise UserError(
            f"{path}: 'numbers.tables' must map each paper to a table ({', '.join(tables)}), "
            f"got {paper_tables!r}"
        )
    claims = [parse_claim(e, tables) for e in doc["claims"]]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise UserError(f"{path}: claim ids must be unique, got {ids}")
    return claims, numbers


def load_half_width_target(path: Path) -> float:
    """``power.half_width_pp`` of a claims.yaml: the 95% half-width (points) that the report's
    ``seeds_needed`` plans for; NaN when the file names none."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    power = doc.get("power") if isinstance(doc, dict) else None
    if power is None:
        return float("nan")
    value = power.get("half_width_pp") if isinstance(power, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UserError(f"{path}: 'power.half_width_pp' must be a number of points above 0, got {value!r}")
    return float(value)
