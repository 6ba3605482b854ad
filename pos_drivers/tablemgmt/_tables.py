"""Which table a ``posTableId`` names, and the names the adapter used for each table.

A ``posTableId`` is a table's ``id`` or its ``table_name`` (unique within an outlet).
The API has no lookup by name, so the outlet's table list is kept here and re-read on
a miss, at most every ``refresh_seconds`` (unknown ids must not hammer the POS). Ids
take precedence over names; a name two tables share (the API forbids it) resolves to
neither. Change reports carry every name the adapter used for a table, since those are
what the watcher watches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved ``posTableId``: the table's id, and whether it was named by name."""

    table_id: str
    by_name: bool


class TableDirectory:
    def __init__(
        self, *, refresh_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._names: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self._aliases: dict[str, set[str]] = {}
        self.loaded_at: float | None = None
        self.generation = 0
        """How many times the list was loaded."""

    def replace(self, tables: Iterable[tuple[str, str]]) -> None:
        """Take ``(id, table_name)`` pairs as the outlet's complete list."""
        names: dict[str, str] = {}
        by_name: dict[str, str] = {}
        shared: set[str] = set()
        for table_id, name in tables:
            names[table_id] = name
            if name in by_name and by_name[name] != table_id:
                shared.add(name)
            by_name[name] = table_id
        for name in shared:
            del by_name[name]
        self._names, self._by_name = names, by_name
        self.loaded_at = self._clock()
        self.generation += 1

    def lookup(self, alias: str) -> Target | None:
        if alias in self._names:
            return Target(alias, by_name=False)
        table_id = self._by_name.get(alias)
        return Target(table_id, by_name=True) if table_id is not None else None

    def is_empty(self) -> bool:
        return not self._names

    def may_refresh(self) -> bool:
        """Whether a miss may re-read the list now."""
        return self.loaded_at is None or self._clock() - self.loaded_at >= self._refresh_seconds

    def remember(self, alias: str, table_id: str) -> None:
        self._aliases.setdefault(table_id, set()).add(alias)

    def forget(self, table_id: str) -> None:
        """Drop a table the POS no longer has."""
        name = self._names.pop(table_id, None)
        if name is not None and self._by_name.get(name) == table_id:
            del self._by_name[name]

    def aliases(self, table_id: str) -> frozenset[str]:
        """The names the adapter used for the table."""
        return frozenset(self._aliases.get(table_id, ()))
