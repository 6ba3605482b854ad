"""SQLite's WAL checkpoints, in the background rather than inside a commit.

A checkpoint copies the write-ahead log back into the database file. Left to SQLite, the
commit that takes the log past ``wal_autocheckpoint`` pages (1,000 by default) runs it
before it returns: every 50 to 100 commands at the adapter's pace, one command waited
some 20 ms for it, which was the whole of the p99 at one command in flight. The writer's
own threshold is raised out of the way instead (``WRITER_AUTOCHECKPOINT_PAGES``: a
safety net should this task stop), and this task runs a PASSIVE checkpoint on a
connection and in a thread of its own, about every ``interval`` seconds while the store
is being written and never while it is not. A PASSIVE checkpoint waits for nobody and
nobody waits for it: the writer appends to the log meanwhile, and once a checkpoint has
caught up the writer's next transaction starts the log over.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection

from adapter.store._thread import SqliteThread

log = structlog.get_logger("pos_adapter.store")

CHECKPOINT_INTERVAL = 0.5
"""Seconds between checkpoints while the store is written."""


@dataclass(frozen=True, slots=True)
class WalCheckpoint:
    """What one checkpoint found: pages in the log, and how many of them are now in the
    database file (all of them unless a reader still needed older ones)."""

    busy: bool
    log_pages: int
    checkpointed_pages: int


class Checkpointer:
    def __init__(self, url: str, *, interval: float = CHECKPOINT_INTERVAL) -> None:
        self.interval = interval
        self._thread = SqliteThread(url, name="store-checkpoint", writer=False)
        self._written = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[WalCheckpoint]] = []
        self.checkpoints = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="store-checkpoint")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for waiter in self._waiters:
            waiter.cancel()  # no checkpoint is coming
        self._waiters = []
        await self._thread.close()  # after a checkpoint still running in the thread

    def written(self) -> None:
        """A transaction was committed: the log has pages to copy back."""
        self._written.set()

    async def checkpoint(self) -> WalCheckpoint:
        """One PASSIVE checkpoint now."""
        busy, log_pages, checkpointed = await self._thread.read(_checkpoint)
        return WalCheckpoint(bool(busy), log_pages, checkpointed)

    def next_checkpoint(self) -> asyncio.Future[WalCheckpoint]:
        """What the task's next checkpoint finds, once it is done: waiting from the moment
        of the call (no checkpoint that ends before the caller awaits it is missed)."""
        waiter: asyncio.Future[WalCheckpoint] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    async def _loop(self) -> None:
        while True:
            await self._written.wait()
            await asyncio.sleep(self.interval)  # the commits meanwhile ride along
            self._written.clear()
            try:
                done = await self.checkpoint()
            except Exception as exc:  # a locked or broken file: the next one catches up
                log.warning("WAL checkpoint failed", error=repr(exc))
                continue
            self.checkpoints += 1
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                with contextlib.suppress(asyncio.InvalidStateError):  # cancelled
                    waiter.set_result(done)


def _checkpoint(conn: Connection) -> tuple[int, int, int]:
    busy, log_pages, checkpointed = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    return int(busy), int(log_pages), int(checkpointed)
