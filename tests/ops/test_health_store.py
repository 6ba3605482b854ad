"""``pos-adapter health``'s store checks, on SQLite and PostgreSQL: a write rolled back,
the location's unsent outbox rows, and a locked SQLite store failing fast."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from adapter.ops.health import check_store
from adapter.settings import Settings
from adapter.store import SqlStore
from handlers import WriteSet
from handlers._messages import outgoing
from schemas import PosHealthReported

LOCATION = "health-store"


def report(location_id: str) -> WriteSet:
    payload = PosHealthReported(healthy=True, software_name="pos-adapter",
                                software_version="0", driver="mock", pos_reachable=True,
                                active_streams=0)
    return WriteSet(outbox=[outgoing(payload, location_id=location_id, correlation_id=None,
                                     pos_table_id=None, occurred_at=datetime.now(UTC))])


async def test_the_backlog_counts_the_locations_unsent_rows(store_url: str) -> None:
    store = SqlStore(store_url)
    await store.start()
    try:
        for location in (LOCATION, LOCATION, "another-location"):
            await store.commit(report(location))
    finally:
        await store.close()
    settings = Settings(store_url=store_url, location_id=LOCATION)

    writable, within = await check_store(settings, max_backlog=2, timeout=5)
    _, over = await check_store(settings, max_backlog=1, timeout=5)

    assert writable.ok, writable.detail
    assert within.ok
    assert within.detail.startswith("2 unsent")
    assert not over.ok


async def test_a_locked_sqlite_store_fails_within_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite+aiosqlite:///{path}"
    store = SqlStore(url)
    await store.start()
    await store.close()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        writable, backlog = await check_store(Settings(store_url=url), max_backlog=10,
                                              timeout=0.3)
    finally:
        holder.close()

    assert not writable.ok
    assert "locked" in writable.detail or "within" in writable.detail
    assert not backlog.ok
