"""A strict name registry: refuses duplicates, lists names with a wildcard, suggests on typos.

Modelled on timm's ``list_models``: one registry per kind of thing (methods, architectures,
datasets), so every name a user types resolves in exactly one place.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is not registered; the message lists the valid names and the closest one."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        close = difflib.get_close_matches(name, valid, n=1) or [v for v in valid if v.startswith(name)][:1]
        hint = f" Did you mean '{close[0]}'?" if close else ""
        self.message = f"unknown {kind} '{name}'.{hint} Valid {kind}s: {', '.join(valid)}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class Registry(Generic[T]):
    """Maps names to objects of one kind.

    >>> archs = Registry[int]("architecture")
    >>> archs.add("resnet18", 18)
    >>> archs.get("resnet18")
    18
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> None:
        """Register ``item`` under ``name``; a name can be registered only once."""
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._items[name] = item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            self.add(name, item)
            return item

        return deco

    def get(self, name: str) -> T:
        """The object registered as ``name``; raises :class:`UnknownNameError` otherwise."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard, sorted."""
        return sorted(n for n in self._items if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
