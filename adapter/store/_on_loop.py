"""SQLite work on the event loop's own thread, in a thread only while the database is
locked by another connection.

A transaction of the group commit (well under a millisecond at one command in flight)
or a lookup (a tenth of one) was one hop to a thread of its own, and the hop cost more
than the work: SQLite lets the GIL go around every statement, and the thread then waits
to get it back from the event loop, which holds it while it runs, up to the
interpreter's switch interval (5 ms). With ten commands in flight a commit waited some
6 ms for its 0.7 ms of work (bench/README.md, step 16). On the loop the work waits for
nothing: in WAL mode with ``synchronous=NORMAL`` a commit appends to the log without a
sync, and the checkpoints, which sync, are the checkpoint task's, in a thread of its own
(a writer checkpoints itself only past 25,000 pages of log: should that task stop).

What would stop the loop is a lock another connection holds (an operator's command
writing, another process): the connection here waits for none (busy timeout 0). When the
database is busy the work goes to a thread that waits with the usual busy timeout
(:class:`SqliteThread`), and so does every call made while one is there, so that calls
keep their order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from adapter.store._thread import SqliteConnection, SqliteThread

T = TypeVar("T")
Work = Callable[[Connection], T]


class SqliteOnLoop:
    def __init__(self, url: str, *, name: str, writer: bool) -> None:
        """``writer``: transactions that begin IMMEDIATE; else autocommit reads.
        ``name``: the thread's, should the database be locked."""
        self._url, self._name, self._writer = url, name, writer
        self._db = SqliteConnection(url, writer=writer, busy_timeout_ms=0)
        self._thread: SqliteThread | None = None  # made when first needed
        self._in_thread = 0
        self.handed_over = 0
        """Calls that went to the thread (the database was locked, or a call before
        them was in the thread)."""

    @property
    def engine(self) -> Engine:
        return self._db.engine

    @property
    def in_thread(self) -> int:
        """Calls in the thread now."""
        return self._in_thread

    async def transaction(self, work: Work[T]) -> T:
        """``work(connection)`` in one transaction, committed unless it raises. ``work``
        may run twice: a transaction refused by a lock is rolled back and run again."""
        return await self._run(work, read=False)

    async def read(self, work: Work[T]) -> T:
        return await self._run(work, read=True)

    async def close(self) -> None:
        self._db.close()
        if self._thread is not None:
            await self._thread.close()

    async def _run(self, work: Work[T], *, read: bool) -> T:
        if not self._in_thread:
            try:
                return self._db.read(work) if read else self._db.transaction(work)
            except (OperationalError, sqlite3.OperationalError) as exc:
                if not _is_busy(exc):
                    raise
        return await self._hand_over(work, read=read)

    async def _hand_over(self, work: Work[T], *, read: bool) -> T:
        if self._thread is None:
            self._thread = SqliteThread(self._url, name=self._name, writer=self._writer)
        thread = self._thread
        self._in_thread += 1
        self.handed_over += 1
        try:
            return await (thread.read(work) if read else thread.transaction(work))
        finally:
            self._in_thread -= 1


def _is_busy(exc: OperationalError | sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or one of its extended codes: another connection holds the lock (the
    driver's error, or SQLAlchemy's around it)."""
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_BUSY
