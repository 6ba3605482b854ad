"""A SQLite connection, and a thread of its own to use it from: a transaction or a read
per hop.

Through the async engine (aiosqlite) every statement is three or four hops between the
event loop and aiosqlite's thread (cursor, execute, fetch, close), each a greenlet
switch, a queue and a wake-up of the loop: a group commit (BEGIN, four or five
statements, COMMIT) took some twenty. Here SQLAlchemy's synchronous engine runs a whole
transaction, or a read, at once: on the event loop itself (``_on_loop``) or, for what
may wait (a checkpoint, a lock another connection holds), in one hop to a thread. The
dialect is the one aiosqlite's subclasses (pysqlite), so values are stored exactly as
through the async engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url

from adapter.store._engine import BUSY_TIMEOUT_MS, tune_sqlite

T = TypeVar("T")


class SqliteConnection:
    """One connection of a synchronous engine, kept open, used from one thread."""

    def __init__(self, url: str, *, writer: bool, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        """``writer``: transactions that begin IMMEDIATE; else autocommit reads."""
        sync_url = make_url(url).set(drivername="sqlite")
        options = {} if writer else {"isolation_level": "AUTOCOMMIT"}
        self.engine: Engine = create_engine(sync_url, pool_size=1, max_overflow=0, **options)
        tune_sqlite(self.engine, immediate=True if writer else None,
                    busy_timeout_ms=busy_timeout_ms, emit_begin=False)
        self._conn: Connection | None = None
        self._begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    def transaction(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in one transaction, committed unless it raises.

        BEGIN IMMEDIATE, COMMIT and ROLLBACK go to the DBAPI connection itself: through
        SQLAlchemy's ``begin()`` and its begin event, BEGIN was a statement's execution
        of its own, and a one-row transaction took 20 µs instead of 12 (bench/README.md,
        step 26). A statement ``work`` runs through SQLAlchemy autobegins there without
        any SQL (the driver's own transaction handling is off), and its commit or
        rollback ends ours."""
        conn = self._connection()
        try:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute(self._begin)
            try:
                result = work(conn)
                if conn.in_transaction():
                    conn.commit()
                raw.commit()
            except BaseException:
                if conn.in_transaction():
                    conn.rollback()
                raw.rollback()
                raise
            return result
        except Exception:
            self._drop_if_broken(conn)
            raise

    def read(self, work: Callable[[Connection], T]) -> T:
        conn = self._connection()
        try:
            return work(conn)
        except Exception:
            self._drop_if_broken(conn)
            raise
        finally:
            if conn.in_transaction():
                conn.rollback()  # autocommit: ends SQLAlchemy's autobegun transaction only

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        self.engine.dispose()

    def _connection(self) -> Connection:
        """Kept open: a checkout and a reset per use cost more than most reads."""
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def _drop_if_broken(self, conn: Connection) -> None:
        if conn.invalidated or conn.closed:
            self._conn = None
            with contextlib.suppress(Exception):
                conn.close()


class SqliteThread:
    """A :class:`SqliteConnection` used from a thread of its own, started on first use."""

    def __init__(self, url: str, *, name: str, writer: bool) -> None:
        self._db = SqliteConnection(url, writer=writer)
        # Not an executor: its futures (a concurrent one chained to an asyncio one) cost
        # more than the read they carry. The loop's future is settled from here directly.
        self._calls: queue.SimpleQueue[tuple[asyncio.Future[Any], Callable[[], Any]] | None]
        self._calls = queue.SimpleQueue()
        self._name = name
        self._thread: threading.Thread | None = None

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        return await self._call(partial(self._db.transaction, work))

    async def read(self, work: Callable[[Connection], T]) -> T:
        return await self._call(partial(self._db.read, work))

    async def close(self) -> None:
        if self._thread is None:
            return
        await self._call(self._db.close)
        self._calls.put(None)  # the thread ends
        self._thread = None

    async def _call(self, call: Callable[[], T]) -> T:
        """``call()`` in the thread, awaited here."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._calls.put((future, call))
        return await future

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call = item
            try:
                settle = partial(_set_result, future, call())
            except BaseException as exc:  # the caller's, whatever it is
                settle = partial(_set_exception, future, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                future.get_loop().call_soon_threadsafe(settle)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # not cancelled meanwhile
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
