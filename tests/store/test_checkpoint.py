"""SQLite's WAL checkpoints: off the commits' path, run by the store's own task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapter.store import SqlStore
from adapter.store._checkpoint import Checkpointer
from handlers import WriteSet
from tests.store.test_store import inbox, message

SQLITE_DEFAULT_AUTOCHECKPOINT = 1_000
"""Pages of log after which a commit checkpoints, unless told otherwise."""


def bulky(n: int) -> WriteSet:
    """A command's write set whose result is about 60 KB: some 15 pages of log."""
    result = message(n)
    result = replace(result, body=result.body + b" " * 60_000)
    return WriteSet(inbox=inbox(n, result), outbox=[result])


async def write(store: SqlStore, count: int) -> None:
    for n in range(count):
        await store.commit(bulky(n))


@pytest.fixture
async def quiet_store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A SQLite store whose checkpoint task never gets to run during a test."""
    store = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
                     checkpoint_interval=3600.0)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def test_commits_leave_the_log_to_the_checkpoint_task(
    quiet_store: SqlStore, tmp_path: Path
) -> None:
    await write(quiet_store, 100)

    # Had a commit checkpointed, the log would have started over since: fewer pages.
    outsider = Checkpointer(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        found = await outsider.checkpoint()
    finally:
        await outsider.stop()
    assert found.log_pages > SQLITE_DEFAULT_AUTOCHECKPOINT + 100
    assert found.checkpointed_pages == found.log_pages


async def test_the_task_checkpoints_while_the_store_is_written(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    store = SqlStore(f"sqlite+aiosqlite:///{database}", checkpoint_interval=0.01)
    await store.start()
    try:
        checkpointer = store.checkpointer
        assert checkpointer is not None
        await write(store, 5)

        # In WAL mode only a checkpoint writes the database file: the results get there
        # once the task has checkpointed after the last commit (a timeout if it never does).
        # The waiter is registered right after the size is read, with no await between:
        # a checkpoint ending meanwhile either grew the file already or resolves it.
        while database.stat().st_size <= 5 * 60_000:
            done = await asyncio.wait_for(checkpointer.next_checkpoint(), 10)
            assert not done.busy
        assert checkpointer.checkpoints >= 1
    finally:
        await store.close()


async def test_postgresql_has_no_checkpoint_task(store: SqlStore) -> None:
    assert (store.checkpointer is None) == (not store.url.startswith("sqlite"))
