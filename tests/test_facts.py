"""Method facts (benchmark/facts.py): declared once by each method, read without torch at DAG time."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import methods
from benchmark import configs, facts, grid
from benchmark.facts import MethodFacts
from methods.catalog import METHODS
from methods.config import MethodConfig, hp
from methods.protocol import Method

CONFIGS = Path(__file__).resolve().parents[1] / "workflows" / "config"


@dataclasses.dataclass(frozen=True)
class SweepConfig(MethodConfig):
    ordering: str = hp("forward", "which end freezes first", "a test", ("forward", "reverse"))


class Sweep(Method):
    """A third-party method: BNNs only, two orderings of its own."""

    name = "sweep_plugin"
    summary = "a plugin"
    source = "a test"
    config_class = SweepConfig
    regimes = ("bnn",)


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> type[Method]:
    """``Sweep`` registered for one test (as an entry point's import would register it)."""
    monkeypatch.setitem(METHODS._items, Sweep.name, Sweep)
    monkeypatch.setattr(facts, "_known", {})
    return Sweep


def test_the_exported_facts_equal_the_declarations(tmp_path: Path, plugin: type[Method]) -> None:
    written = facts.cached(tmp_path)  # from the classes, then kept in a file
    (kept,) = (tmp_path / ".snakemake" / "bnnbench-checked").glob("facts-*.json")
    read = facts.cached(tmp_path)  # from the file
    assert read == written
    assert set(read) == set(methods.method_names()) and Sweep.name in read
    for name in methods.method_names():
        cls = methods.get_method(name)
        assert read[name] == MethodFacts(name, tuple(cls.regimes), tuple(cls.orderings)), name
        assert read[name].ordered == cls.has_ordering
    assert read[Sweep.name] == MethodFacts(Sweep.name, ("bnn",), ("forward", "reverse"))
    assert read["stompp"].orderings == ("forward", "reverse", "global", "random")
    assert read["fp"].full_precision and not read["ste"].full_precision and not read["ste"].ordered
    assert read["hybrid"].regimes == ("bnn",)
    assert kept.stat().st_size > 0


def test_a_plugin_method_is_crossed_with_its_own_orderings(plugin: type[Method]) -> None:
    config = configs.shipped("default")
    config["variants"]["mine"] = {"method": Sweep.name}
    config["tables"]["ordering"]["variants"] = ["stompp", "mine"]
    runs = grid.section_runs(config, "tables", "ordering")
    mine = {(r.regime, r.ordering) for r in runs if r.variant == "mine"}
    assert mine == {("bnn", "forward"), ("bnn", "reverse")}  # no bwn, no global/random
    assert {r.ordering for r in runs if r.variant == "stompp"} == {"forward", "reverse", "global", "random"}


def test_an_unknown_method_is_named_with_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="unknown method 'stomp'. Did you mean 'stompp'"):
        facts.of("stomp")


def test_the_grid_reads_the_facts_without_importing_torch(tmp_path: Path) -> None:
    facts.cached(tmp_path)
    code = (
        "import sys; from benchmark import configs, grid; "
        "config = configs.shipped('paper'); "
        "runs = grid.all_runs(config); "
        "assert len(runs) > 900, len(runs); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
