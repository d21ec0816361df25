"""Typed, frozen method configs: defaults are the source paper's, each field cites its source.

Every hyperparameter is a dataclass field with ``metadata={"help": ..., "source": ...}`` and,
for a fixed set of values, ``"choices"``. Configs round-trip through JSON unchanged.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

C = TypeVar("C", bound="MethodConfig")


class ConfigError(ValueError):
    """A hyperparameter that is unknown, of the wrong type or out of range."""


def hp(default: Any, help: str, source: str, choices: tuple[str, ...] | None = None) -> Any:
    """A hyperparameter field with its documentation and citation."""
    meta: dict[str, Any] = {"help": help, "source": source}
    if choices is not None:
        meta["choices"] = choices
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Base of every method config. Subclasses add fields made with :func:`hp`."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices is not None and value not in choices:
                raise ConfigError(f"{f.name}={value!r} is not one of {', '.join(choices)}")
        self.validate()

    def validate(self) -> None:
        """Range checks; subclasses raise :class:`ConfigError` naming the key."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def choices_of(cls, name: str) -> tuple[str, ...]:
        """The values field ``name`` may take (empty when there is no such field or no choices)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        return tuple(fields[name].metadata.get("choices", ())) if name in fields else ()

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Build from a mapping, coercing strings (``--set key=value``) to each field's type."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(
                f"unknown hyperparameter(s) {', '.join(unknown)} for this method; "
                f"valid: {', '.join(fields) or '(none)'}"
            )
        hints = typing.get_type_hints(cls)
        kwargs = {k: coerce(k, v, hints[k]) for k, v in values.items()}
        return cls(**kwargs)


def coerce(key: str, value: Any, annotation: Any) -> Any:
    """Coerce ``value`` to ``annotation`` (bool, int, float, str, Literal or Optional of those)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return coerce(key, value, type(typing.get_args(annotation)[0]))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return coerce(key, value, args[0])
    try:
        if annotation is bool:
            return _to_bool(value)
        if isinstance(value, bool):
            raise ValueError(value)  # True is not a number here
        if annotation is int:
            number = float(value)  # accepts "100" and "1e3"
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        return annotation(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={value!r} is not a valid {annotation.__name__}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(value)


def describe(config_cls: type[MethodConfig]) -> list[dict[str, Any]]:
    """One dict per hyperparameter: name, type, default, help, source, choices."""
    hints = typing.get_type_hints(config_cls)
    return [
        {
            "name": f.name,
            "type": getattr(hints[f.name], "__name__", str(hints[f.name])),
            "default": f.default,
            "help": f.metadata.get("help", ""),
            "source": f.metadata.get("source", ""),
            "choices": f.metadata.get("choices"),
        }
        for f in dataclasses.fields(config_cls)
    ]
