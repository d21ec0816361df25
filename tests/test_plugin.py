"""Method plugins, for real: a tiny third-party package that registers a method through the
``bnnbench.methods`` entry point is built and installed with pip, then ``bnnbench methods``
lists it and the workflow trains it and gives it its row in the peers table.

The package is installed with ``pip install --target`` into a directory of its own, which
only the processes under test have on their ``PYTHONPATH``: the entry point is found by
``importlib.metadata`` there as in site-packages, but the shared virtual environment never
holds the package, so no other test (nor a concurrent run in the same venv) can see it, and
a crash at any point, even a kill, leaves nothing installed to remove.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pandas as pd
import pytest

from benchmark.checkcache import STAMP_DIR
from methods.catalog import ENTRY_POINT_GROUP
from tests.workflow_grid import ROOT, command, failure, smoke

PLUGIN = "toy_sign"  # the method's name, and the variant that runs it
MODULE = "bnnbench_toy_plugin"
TABLE = "results/table_peers.csv"

PYPROJECT = f"""\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "bnnbench-toy-plugin"
version = "0.0.1"

[project.entry-points."{ENTRY_POINT_GROUP}"]
{PLUGIN} = "{MODULE}"

[tool.setuptools]
py-modules = ["{MODULE}"]
"""

SOURCE = f'''\
"""A third-party method: sign weights and inputs, plain STE, no latent clipping."""

from torch import nn

from methods import Method, register_method
from methods.quantizers import SteSign


@register_method
class ToySign(Method):
    name = "{PLUGIN}"
    summary = "toy plugin: STE sign without latent clipping"
    source = "tests/test_plugin.py"

    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return SteSign()

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module:
        return SteSign()
'''


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a process that has the plugin installed (pip, offline, from source)."""
    src, site = tmp_path_factory.mktemp("plugin_src"), tmp_path_factory.mktemp("plugin_site")
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / f"{MODULE}.py").write_text(SOURCE)
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    proc = subprocess.run([*pip, "--target", str(site), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(site.glob("bnnbench_toy_plugin-*.dist-info/entry_points.txt"))
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    yield {**os.environ, "PYTHONPATH": path}
    shutil.rmtree(site, ignore_errors=True)


def test_the_test_process_does_not_see_the_plugin(plugin_env):
    assert PLUGIN not in {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


def test_bnnbench_methods_lists_the_plugin(plugin_env, tmp_path):
    bnnbench = str(Path(sys.executable).parent / "bnnbench")
    proc = subprocess.run(
        [bnnbench, "methods"], env=plugin_env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{PLUGIN}: toy plugin: STE sign without latent clipping" in proc.stdout
    assert "ste: " in proc.stdout  # the built-in methods are still there


def plugin_grid() -> dict:
    """The smoke config with the plugin as a variant: the peers table is STE and the plugin on
    ResNet-18 on synthetic data, one seed, one epoch."""
    config = smoke()
    config["recipes"][config["recipe"]]["epochs"] = 1
    config["variants"][PLUGIN] = {"method": PLUGIN}
    config["tables"]["peers"].update(
        datasets=["synthetic"], orderings=["forward"], archs=["resnet18"], regimes=["bnn"]
    )
    config["tables"]["peers"]["variants"] = ["ste", PLUGIN]
    return config


def repo_caches_naming(name: str) -> list[Path]:
    """The repository's cached method facts that list method ``name``."""
    return [p for p in (ROOT / STAMP_DIR).glob("facts-*.json") if f'"{name}"' in p.read_text()]


@pytest.mark.workflow
def test_the_workflow_trains_the_plugin_into_the_peers_table(plugin_env, tmp_path):
    cmd, env = command(tmp_path, plugin_grid(), "--cores", "2", TABLE)
    env["PYTHONPATH"] = plugin_env["PYTHONPATH"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, failure(proc, tmp_path)
    table = pd.read_csv(tmp_path / TABLE)
    assert set(table["variant"]) == {"ste", PLUGIN}
    row = table[table["variant"] == PLUGIN].iloc[0]
    assert row["n"] == 1 and math.isfinite(row["mean"]) and 0 <= row["mean"] <= 100
    # the grid was expanded with the plugin's facts, cached in the working directory only
    assert list((tmp_path / STAMP_DIR).glob("facts-*.json"))
    assert all(f'"{PLUGIN}"' in p.read_text() for p in (tmp_path / STAMP_DIR).glob("facts-*.json"))
    assert not repo_caches_naming(PLUGIN)
