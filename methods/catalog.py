"""The method registry: built-in methods register when their module is imported, which the
first lookup does (``load_builtins``); plugins through the ``bnnbench.methods`` entry-point
group (a module or class whose import registers it)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, TypeVar

from methods.protocol import Method
from methods.registry import Registry

METHODS: Registry[type[Method]] = Registry("method")
M = TypeVar("M", bound=type[Method])
ENTRY_POINT_GROUP = "bnnbench.methods"
BUILTINS = ("bireal", "bop", "fp", "hybrid", "ovsw", "pabt", "random_features", "ste", "stompp")
_plugins_loaded = False


def register_method(cls: M) -> M:
    """Class decorator: register a :class:`Method` subclass under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    METHODS.add(cls.name, cls)
    return cls


def load_builtins() -> None:
    """Import the built-in method modules (each registers its classes); idempotent."""
    for name in BUILTINS:
        importlib.import_module(f"methods.{name}")


def load_plugins() -> None:
    """Import the built-in methods (:func:`load_builtins`), then, once, every entry point of the
    ``bnnbench.methods`` group."""
    global _plugins_loaded
    load_builtins()
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def get_method(name: str) -> type[Method]:
    """The method class registered as ``name`` (plugins included)."""
    load_plugins()
    return METHODS.get(name)


def method_names(pattern: str = "*") -> list[str]:
    load_plugins()
    return METHODS.names(pattern)


def build_method(name: str, overrides: Mapping[str, Any], regime: str, seed: int) -> Method:
    """Instantiate method ``name`` with hyperparameter ``overrides`` on top of its defaults."""
    cls = get_method(name)
    config = cls.config_class.from_dict(dict(overrides))
    return cls(config, regime, seed)
