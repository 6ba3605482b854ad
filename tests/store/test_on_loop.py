"""SQLite on the event loop's thread, in a thread of its own while another connection
holds the lock (real SQLite files; the lock held by a second connection as another
process's would be)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from adapter.store import SqlStore
from adapter.store._on_loop import SqliteOnLoop
from handlers import WriteSet
from tests.store.test_store import inbox, message


@pytest.fixture
def path(tmp_path: Path) -> Path:
    db = tmp_path / "store.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (n INTEGER, thread INTEGER)")
    return db


@pytest.fixture
async def writer(path: Path) -> AsyncIterator[SqliteOnLoop]:
    db = SqliteOnLoop(f"sqlite+aiosqlite:///{path}", name="test-writer", writer=True)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def lock_held_elsewhere(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock until the test commits it."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def insert(n: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t VALUES (:n, :thread)"),
                     {"n": n, "thread": threading.get_ident()})
        return threading.get_ident()
    return work


def rows(conn: Connection) -> list[tuple[int, int]]:
    return [(r.n, r.thread) for r in conn.execute(text("SELECT n, thread FROM t ORDER BY rowid"))]


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (the loop is never blocked meanwhile)."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - a thread's state has no event to wait on
            await asyncio.sleep(0)


async def test_work_runs_on_the_loops_thread(writer: SqliteOnLoop) -> None:
    loop_thread = threading.get_ident()
    assert await writer.transaction(insert(1)) == loop_thread
    assert await writer.read(rows) == [(1, loop_thread)]
    assert writer.handed_over == 0


async def test_on_the_loop_no_lock_is_waited_for(writer: SqliteOnLoop) -> None:
    busy_timeout = await writer.read(lambda c: c.exec_driver_sql("PRAGMA busy_timeout").scalar())
    assert busy_timeout == 0


async def test_a_locked_database_hands_the_work_to_a_thread(
    writer: SqliteOnLoop, lock_held_elsewhere: sqlite3.Connection
) -> None:
    first = asyncio.create_task(writer.transaction(insert(1)))
    await until(lambda: writer.in_thread == 1)
    assert not first.done()

    lock_held_elsewhere.execute("COMMIT")
    loop_thread = threading.get_ident()
    assert await first != loop_thread
    assert writer.handed_over == 1
    assert writer.in_thread == 0
    # The lock gone, work is the loop's again.
    assert await writer.transaction(insert(2)) == loop_thread
    assert [n for n, _ in await writer.read(rows)] == [1, 2]


async def test_calls_keep_their_order_while_one_is_in_the_thread(
    writer: SqliteOnLoop, lock_held_elsewhere: sqlite3.Connection
) -> None:
    first = asyncio.create_task(writer.transaction(insert(1)))
    await until(lambda: writer.in_thread == 1)
    # The lock goes while the first waits in the thread (SQLite's busy handler sleeps
    # between its tries): the second, on the loop, would come before it.
    lock_held_elsewhere.execute("COMMIT")
    second = await writer.transaction(insert(2))
    assert await first != threading.get_ident()
    assert second != threading.get_ident()
    assert [n for n, _ in await writer.read(rows)] == [1, 2]
    assert writer.handed_over == 2


async def test_other_errors_are_raised_where_they_happen(writer: SqliteOnLoop) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        await writer.transaction(lambda c: c.exec_driver_sql("SELECT * FROM missing").all())
    assert writer.handed_over == 0


async def test_the_store_commits_past_a_lock_while_its_loop_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqlStore(f"sqlite+aiosqlite:///{path}", checkpoint_interval=3600.0)
    await store.start()
    try:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        result = message(1)
        commit = asyncio.create_task(store.commit(WriteSet(inbox=inbox(1, result),
                                                           outbox=[result])))
        writer = store._sqlite_writer
        assert writer is not None
        await until(lambda: writer.in_thread == 1)
        for _ in range(100):  # the loop goes on while the commit waits for the lock
            await asyncio.sleep(0)
        assert not commit.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(commit, 10)
        entry = await store.inbox_entry("cmd-1")
        assert entry is not None
    finally:
        await store.close()


def insert_on_the_cursor(n: int) -> Callable[[Connection], None]:
    """As the group commit writes: on the DBAPI cursor, outside SQLAlchemy's transaction."""
    def work(conn: Connection) -> None:
        cursor = conn.connection.cursor()
        cursor.execute("INSERT INTO t VALUES (?, 0)", (n,))
        cursor.close()
    return work


async def test_a_transaction_holds_the_write_lock_from_its_start(
    writer: SqliteOnLoop, path: Path
) -> None:
    def work(conn: Connection) -> None:
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()

    await writer.transaction(work)


@pytest.mark.parametrize("write", [insert, insert_on_the_cursor])
async def test_a_failed_transaction_leaves_nothing_and_the_next_commits(
    writer: SqliteOnLoop, write: Callable[[int], Callable[[Connection], object]]
) -> None:
    def failing(conn: Connection) -> None:
        write(1)(conn)
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError, match="the work failed"):
        await writer.transaction(failing)
    await writer.transaction(write(2))
    await writer.transaction(write(3))
    assert [n for n, _thread in await writer.read(rows)] == [2, 3]
