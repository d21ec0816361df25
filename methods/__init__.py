"""Pluggable BNN training methods behind one protocol (see ``methods.protocol``)."""

from methods import bireal, bop, fp, hybrid, ovsw, pabt, random_features, ste, stompp  # noqa: F401  (built-ins register on import)
from methods.catalog import METHODS, build_method, get_method, method_names, register_method
from methods.config import ConfigError, MethodConfig, hp
from methods.protocol import Method

__all__ = [
    "METHODS",
    "ConfigError",
    "Method",
    "MethodConfig",
    "build_method",
    "get_method",
    "hp",
    "method_names",
    "register_method",
]
