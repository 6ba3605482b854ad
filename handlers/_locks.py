"""One FIFO lock per table, shared by command handlers and the watcher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class TableLocks:
    """Serialises the work on each (location, table); different tables run concurrently.

    ``asyncio.Lock`` wakes waiters in arrival order, and acquiring a free lock does not
    yield, so work that enters ``hold`` before its first await keeps its arrival order.
    Entries are dropped when nobody holds or waits for them, so idle tables cost nothing.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}

    @asynccontextmanager
    async def hold(self, location_id: str, pos_table_id: str) -> AsyncIterator[None]:
        key = (location_id, pos_table_id)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
