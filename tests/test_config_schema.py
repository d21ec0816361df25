"""The workflow config schema: shipped configs validate, broken ones name the bad key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from benchmark import config_checks, configs, grid

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflows" / "schemas" / "config.schema.yaml"
CONFIGS = sorted((ROOT / "workflows" / "config").glob("*.yaml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def check(config: dict) -> None:
    validate(config, str(SCHEMA))
    config_checks.check_config(config)


def test_the_three_configs_ship():
    assert {p.stem for p in CONFIGS} >= {"default", "smoke", "paper"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_validates(path):
    check(configs.load(path))  # laid over the default, as `--configfile` is


def test_the_default_config_is_complete():
    """Every other config is an overlay of the default, which sets every key of the schema."""
    assert set(load(configs.DEFAULT)) == set(load(SCHEMA)["properties"])


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_an_overlay_names_only_schema_keys(path):
    assert set(load(path)) <= set(load(SCHEMA)["properties"]), path.stem


def test_defaults_are_filled_in():
    config = load(ROOT / "workflows" / "config" / "default.yaml")
    for key in ("threads", "resources", "paper", "data_root"):
        config.pop(key)
    validate(config, str(SCHEMA))
    assert config["threads"] == 1
    assert config["paper"]["reported"] == [
        f"paper/reported/{p}.csv" for p in ("stompp", "ovsw", "bop", "pabt")
    ]
    assert config["variants"]["ste"]["set"] == {}


def _broken(edit) -> dict:
    config = load(ROOT / "workflows" / "config" / "default.yaml")
    edit(config)
    return config


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c: c["recipes"]["mini"].update(lr="fast"), "lr"),
        (lambda c: c["recipes"]["mini"].update(epochs=0), "epochs"),
        (lambda c: c["recipes"]["mini"].pop("batch_size"), "batch_size"),
        (lambda c: c["recipes"]["mini"].update(lrr=0.1), "lrr"),
        (lambda c: c.update(regimes=["bnn", "ternary"]), "regimes"),
        (lambda c: c["tables"]["ordering"].update(orderings=["sideways"]), "orderings"),
        (lambda c: c["variants"]["stompp"].update(set={"freeze_end": [0.8]}), "freeze_end"),
        (lambda c: c.update(width=-1), "width"),
        (lambda c: c.update(seeds=[0, 0]), "seeds"),
        (lambda c: c.update(threds=2), "threds"),
        (lambda c: c["tables"]["peers"].update(recipe="bad name"), "recipe"),
        (lambda c: c["tables"]["ovsw"]["parts"][0].update(orderings=["sideways"]), "orderings"),
        (lambda c: c["tables"]["ovsw"]["parts"][2].pop("archs"), "archs"),
        (lambda c: c["tables"]["ovsw"].update(variantz=["ste"]), "variantz"),
        (lambda c: c["tables"]["bop"]["parts"][0].pop("variants"), "variants"),
        (lambda c: c.update(method_regimes={"hybrid": ["bnn"]}), "method_regimes"),
        (lambda c: c["paper"].update(reported=[]), "reported"),
    ],
)
def test_broken_config_names_the_key(edit, named):
    """The schema names the key; what it cannot check (an ordering no method has) the grid does."""
    with pytest.raises((WorkflowError, grid.ConfigError)) as error:
        check(_broken(edit))
    assert named in str(error.value)


def _properties(schema: dict, where: str) -> Iterator[tuple[str, dict]]:
    """Every named key of the schema (properties and definitions), with its path."""
    for key in ("properties", "$defs"):
        for name, sub in schema.get(key, {}).items():
            yield f"{where}.{name}", sub
            yield from _properties(sub, f"{where}.{name}")
    for key in ("additionalProperties", "items"):
        if isinstance(schema.get(key), dict):
            yield from _properties(schema[key], f"{where}[{key}]")
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _properties(sub, f"{where}.{key}[{i}]")


def test_every_schema_key_has_a_description():
    schema = load(SCHEMA)
    keys = list(_properties(schema, "config"))
    assert len(keys) > 40
    undocumented = [path for path, sub in keys if not str(sub.get("description", "")).strip()]
    assert undocumented == []


def test_every_config_key_is_in_the_schema():
    """No key in a shipped config escapes validation (additionalProperties is false)."""
    schema = load(SCHEMA)
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    assert all(defs[name]["additionalProperties"] is False for name in ("recipe", "variant", "grid"))


def test_readme_documents_every_top_level_key():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [key for key in load(SCHEMA)["properties"] if f"`{key}" not in section]
    assert missing == []
