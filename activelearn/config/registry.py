"""Pluggables by name: the one registry convention for strategies, models, sources and
jobs. Each extension point keeps a Registry and exposes three functions around it,
`register_x`, `get_x` and `available_x`; an unknown name is a ConfigError (exit 2) that
lists the registered ones. Config loading checks the names in a project file against
the same registries (checks.check_names), so a typo fails before anything runs.

An entry may be registered lazily, as "package.module:attribute": the module is imported
when the entry is first asked for. Built-in models and sources are registered that way,
so listing the names (every command does, to check the config) costs no torch import.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from activelearn.errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class _Lazy:
    """An entry not imported yet: "package.module:attribute"."""

    path: str

    def resolve(self) -> Any:
        module, _, attribute = self.path.partition(":")
        return getattr(importlib.import_module(module), attribute)


class Registry(Generic[T]):
    """name -> entry (a class or a function) of one kind of pluggable ("strategy")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | _Lazy] = {}

    def register(self, name: str, entry: T) -> T:
        """Make entry available as `name` (replacing an entry of that name); returns it."""
        if not name:
            raise ValueError(f"a {self.kind} needs a name")
        self._entries[name] = entry
        return entry

    def register_lazy(self, name: str, path: str) -> None:
        """Register the entry at path ("package.module:attribute"), imported on first use."""
        if ":" not in path:
            raise ValueError(f"{self.kind} {name}: {path!r} is not 'module:attribute'")
        self._entries[name] = _Lazy(path)

    def get(self, name: str) -> T:
        """The entry registered as name; UnknownNameError (listing the names) otherwise."""
        try:
            entry = self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, list(self._entries)) from None
        if isinstance(entry, _Lazy):
            entry = self._entries[name] = entry.resolve()
        return entry

    def available(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)
