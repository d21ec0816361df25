"""The commands that only read results start without torch: ``methods`` imports lazily.

Each check runs in a fresh interpreter, since this process has long imported torch.
"""

from __future__ import annotations

import subprocess
import sys

from tests.workflow_grid import ROOT


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_reading_results_does_not_import_torch():
    out = _python(
        "import sys, methods, methods.registry, benchmark.cli, benchmark.outputs, benchmark.reporting\n"
        "print('torch' in sys.modules)"
    )
    assert out == "False"


def test_every_builtin_registers_on_the_first_lookup_through_the_catalog():
    out = _python("from methods.catalog import method_names\nprint(' '.join(method_names()))")
    builtins = {"fp", "ste", "stompp", "ovsw", "bop", "pabt", "bireal", "hybrid", "random_features"}
    assert builtins <= set(out.split())


def test_public_names_resolve_lazily_and_equal_the_catalog():
    out = _python(
        "import methods\n"
        "from methods import catalog, config, protocol\n"
        "print(methods.get_method is catalog.get_method, methods.Method is protocol.Method,"
        " methods.ConfigError is config.ConfigError, 'ste' in methods.method_names())"
    )
    assert out == "True True True True"


def test_an_unknown_attribute_is_an_attribute_error():
    out = _python("import methods\nprint(hasattr(methods, 'no_such_thing'))")
    assert out == "False"
