"""A SQLite connection used from a thread of its own, a transaction or a read per hop.

Through the async engine (aiosqlite) every statement is three or four hops between the
event loop and aiosqlite's thread (cursor, execute, fetch, close), each a greenlet
switch, a queue and a wake-up of the loop: a group commit (BEGIN, four or five
statements, COMMIT) took some twenty. Here SQLAlchemy's synchronous engine runs a whole
transaction, or a read, in one hop. The dialect is the one aiosqlite's subclasses
(pysqlite), so values are stored exactly as through the async engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import make_url

from adapter.store._engine import tune_sqlite

T = TypeVar("T")


class SqliteThread:
    def __init__(self, url: str, *, name: str, writer: bool) -> None:
        """``writer``: transactions that begin IMMEDIATE; else autocommit reads."""
        sync_url = make_url(url).set(drivername="sqlite")
        options = {} if writer else {"isolation_level": "AUTOCOMMIT"}
        self.engine = create_engine(sync_url, pool_size=1, max_overflow=0, **options)
        tune_sqlite(self.engine, immediate=True if writer else None)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: Connection | None = None

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in one transaction, committed unless it raises."""
        return await self._in_thread(self._transaction, work)

    async def read(self, work: Callable[[Connection], T]) -> T:
        return await self._in_thread(self._read, work)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)

    async def _in_thread(
        self, call: Callable[[Callable[[Connection], T]], T], work: Callable[[Connection], T]
    ) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, work)

    def _connection(self) -> Connection:
        """Kept open (in this thread): a checkout and a reset per hop cost more hops."""
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        conn = self._connection()
        try:
            with conn.begin():
                return work(conn)
        except Exception:
            self._drop_if_broken(conn)
            raise

    def _read(self, work: Callable[[Connection], T]) -> T:
        conn = self._connection()
        try:
            return work(conn)
        except Exception:
            self._drop_if_broken(conn)
            raise
        finally:
            if conn.in_transaction():
                conn.rollback()  # autocommit: ends SQLAlchemy's autobegun transaction only

    def _drop_if_broken(self, conn: Connection) -> None:
        if conn.invalidated or conn.closed:
            self._conn = None
            with contextlib.suppress(Exception):
                conn.close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        self.engine.dispose()
