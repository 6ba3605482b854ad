"""Engines for the store: SQLite tuned for one writer, or PostgreSQL.

SQLite gets WAL (readers never block the writer), ``synchronous=NORMAL`` (a committed
transaction survives a process crash such as kill -9; only a power loss can drop the
last commits), a busy timeout, and write transactions that begin IMMEDIATE: a deferred
BEGIN that later upgrades to a write lock fails under concurrent writers in WAL.
Writes go through one connection (the group committer), reads through another; the
writers leave checkpoints to a task of the store (``_checkpoint``).

Another process reading the store (the operators' commands) gets an engine of its own,
read-only at the database's level (``PRAGMA query_only`` on SQLite, read-only
transactions on PostgreSQL), so that a mistake in a query can never write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine, make_url

from adapter.store._asyncio import AsyncEngine, create_async_engine

Insert = Callable[[Table], Any]
"""The dialect's INSERT, which has ON CONFLICT (upserts)."""

BUSY_TIMEOUT_MS = 10_000
WRITER_AUTOCHECKPOINT_PAGES = 25_000
"""A writer's commit checkpoints only past this many pages of log (some 100 MB): a safety
net, should the store's checkpoint task not keep up (SQLite's default is 1,000)."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def insert_for(url: str) -> Insert:
    if is_sqlite(url):
        return sqlite.insert
    from sqlalchemy.dialects import postgresql

    return postgresql.insert


def create_engines(url: str) -> tuple[AsyncEngine, AsyncEngine | None]:
    """The (writer, reader) engines for ``url``; reads run in autocommit, so that a
    connection kept open never pins an old snapshot. SQLite has no async reader: its
    reads run on a connection of the synchronous engine (``_on_loop``)."""
    if not is_sqlite(url):
        writer = create_async_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True)
        reader = create_async_engine(
            url, pool_size=2, max_overflow=2, pool_pre_ping=True, isolation_level="AUTOCOMMIT"
        )
        return writer, reader
    writer = create_async_engine(url, pool_size=1, max_overflow=0)
    tune_sqlite(writer.sync_engine, immediate=True)
    return writer, None


def tune_sqlite(
    engine: Engine, *, immediate: bool | None, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    emit_begin: bool = True,
) -> None:
    """WAL and a busy timeout; ``immediate`` True/False: how a transaction begins (None:
    autocommit, no BEGIN at all). A connection that writes (``immediate`` True) leaves
    checkpoints to the store's checkpoint task. ``emit_begin`` False: the caller begins
    its transactions itself (``_thread.SqliteConnection``)."""
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if immediate:
            cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    if immediate is None or not emit_begin:
        return

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_read_only_engine(url: str) -> AsyncEngine:
    """An engine for another process that only reads the store (autocommit reads)."""
    if not is_sqlite(url):
        return create_async_engine(
            url, pool_size=1, max_overflow=1, isolation_level="AUTOCOMMIT",
            connect_args=_read_only_connect_args(url),
        )
    engine = create_async_engine(url, pool_size=1, max_overflow=0)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return engine


def _read_only_connect_args(url: str) -> dict[str, Any]:
    if make_url(url).get_driver_name() == "asyncpg":
        return {"server_settings": {"default_transaction_read_only": "on"}}
    return {}
