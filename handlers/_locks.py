"""FIFO locks per table (shared by command handlers and the watcher) and per submission."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from handlers._deadline import Deadline


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class LockTimeout(Exception):
    """The lock was not free before the command's deadline."""


class TableLocks:
    """Serialises the work on each (location, table); different tables run concurrently.

    ``asyncio.Lock`` wakes waiters in arrival order, and acquiring a free lock does not
    yield, so work that enters ``hold`` before its first await keeps its arrival order.
    A waiter with a deadline gives up (:class:`LockTimeout`) when it passes. Entries are
    dropped when nobody holds or waits for them, so idle tables cost nothing.

    A submissionId has a lock of its own (:meth:`hold_submission`), taken inside the
    table's: the same submission carried by messages naming different tables is still
    one submission, handled once at a time.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], _Entry] = {}

    def hold(
        self, location_id: str, pos_table_id: str, deadline: Deadline | None = None
    ) -> AbstractAsyncContextManager[None]:
        return self._hold(("table", location_id, pos_table_id), deadline)

    def hold_submission(
        self, location_id: str, submission_id: str, deadline: Deadline | None = None
    ) -> AbstractAsyncContextManager[None]:
        return self._hold(("submission", location_id, submission_id), deadline)

    @asynccontextmanager
    async def _hold(
        self, key: tuple[str, str, str], deadline: Deadline | None
    ) -> AsyncIterator[None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            await _acquire(entry.lock, deadline)
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


async def _acquire(lock: asyncio.Lock, deadline: Deadline | None) -> None:
    if deadline is None:
        await lock.acquire()
        return
    try:
        async with asyncio.timeout_at(deadline.at):
            await lock.acquire()
    except TimeoutError:
        raise LockTimeout from None
