"""Pluggable BNN training methods behind one protocol (see ``methods.protocol``).

The package imports lazily (PEP 562): ``import methods`` or ``from methods.registry import
Registry`` does not import torch, so the commands that only read results (``bnnbench table``,
``figure``, ``check``) start without it. The built-in methods register on the first lookup
(``methods.catalog.load_builtins``), or when a public name below is first read.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "METHODS": "methods.catalog",
    "build_method": "methods.catalog",
    "get_method": "methods.catalog",
    "method_names": "methods.catalog",
    "register_method": "methods.catalog",
    "ConfigError": "methods.config",
    "MethodConfig": "methods.config",
    "hp": "methods.config",
    "Method": "methods.protocol",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """A public name, once the built-in methods have registered; or a submodule, imported."""
    if name in _PUBLIC:
        importlib.import_module("methods.catalog").load_builtins()
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
