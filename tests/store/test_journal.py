"""The journal on SQLite and PostgreSQL: written with its write set, read by another
connection, pruned; the migration matches the tables."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from adapter.store import MessageQuery, SqlStore, StoreReader, StoreUnavailable
from adapter.store import _store as store_module
from adapter.store._tables import metadata
from handlers import DuplicateMessage, InboxRecord, JournalEntry, OutgoingMessage, WriteSet

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def result(n: int, *, table: str = "T1", at: datetime = NOW) -> OutgoingMessage:
    body = json.dumps({
        "messageId": f"res-{n}", "messageType": "TableOrderSnapshotResolutionResult",
        "occurredAt": at.isoformat(), "correlationId": f"cmd-{n}",
        "payload": {"posTableId": table},
    }).encode()
    return OutgoingMessage(
        message_id=f"res-{n}", message_type="TableOrderSnapshotResolutionResult",
        location_id="loc", correlation_id=f"cmd-{n}", occurred_at=at, body=body,
        pos_table_id=table,
    )


def entry(n: int, *, table: str = "T1", at: datetime = NOW, outcome: str = "RESOLVED",
          message_type: str = "TableOrderSnapshotRequested") -> JournalEntry:
    return JournalEntry(
        location_id="loc", message_id=f"cmd-{n}", message_type=message_type,
        pos_table_id=table, correlation_id=None, received_at=at, outcome=outcome,
        body=json.dumps({"messageId": f"cmd-{n}"}).encode(),
        properties={"message_id": f"cmd-{n}", "timestamp": at, "delivery_mode": 2,
                    "headers": {"schemaVersion": 1, "raw": b"\x01bytes"}},
        result_message_id=f"res-{n}",
    )


def answered(n: int, *, table: str = "T1", at: datetime = NOW) -> WriteSet:
    """A command's write set as ``answer()`` builds it: inbox row, result, journal entry."""
    res = result(n, table=table, at=at)
    inbox = InboxRecord(
        message_id=f"cmd-{n}", location_id="loc", message_type="TableOrderSnapshotRequested",
        pos_table_id=table, received_at=at, outcome="RESOLVED", result=res,
    )
    return WriteSet(inbox=inbox, outbox=[res], journal=[entry(n, table=table, at=at)])


async def read(store: SqlStore, query: MessageQuery) -> list[Any]:
    async with StoreReader(store.url) as reader:
        return await reader.messages(query)


async def test_a_journal_entry_is_committed_with_its_write_set(store: SqlStore) -> None:
    await store.commit(answered(1))

    found = await read(store, MessageQuery())

    assert [(m.direction, m.message_id) for m in found] == [("in", "cmd-1"), ("out", "res-1")]
    incoming, outgoing = found
    assert incoming.outcome == "RESOLVED"
    assert incoming.result_message_id == "res-1"
    assert incoming.at == NOW
    assert incoming.body == b'{"messageId": "cmd-1"}'
    assert incoming.properties == {
        "message_id": "cmd-1", "timestamp": NOW.isoformat(), "delivery_mode": 2,
        "headers": {"schemaVersion": 1, "raw": "\x01bytes"},
    }
    assert outgoing.correlation_id == "cmd-1"
    assert outgoing.sent_at is None
    assert outgoing.outbox_row().message == result(1)


async def test_a_duplicate_write_set_loses_its_journal_entry(store: SqlStore) -> None:
    await store.commit(answered(1))
    with pytest.raises(DuplicateMessage):
        await store.commit(answered(1))
    await store.commit(WriteSet(journal=[entry(1, outcome="DUPLICATE")]))

    found = await read(store, MessageQuery(direction="in"))

    assert [m.outcome for m in found] == ["RESOLVED", "DUPLICATE"]


async def test_a_group_commit_writes_its_journal_with_one_statement(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    inserts: list[int] = []
    statements = store._committer._sql  # SQLite: the DBAPI cursor's, unseen by SQLAlchemy
    write = statements.write

    def count(conn: Connection, table: str, rows: Any) -> None:
        if table == "journal":
            inserts.append(len(rows))
        write(conn, table, rows)

    monkeypatch.setattr(statements, "write", count)
    await asyncio.gather(*(store.commit(answered(n)) for n in range(10)))

    assert inserts == [10]
    assert len(await read(store, MessageQuery(direction="in"))) == 10


async def test_prune_forgets_old_journal_entries_in_chunks(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "PRUNE_CHUNK", 3)
    old = NOW - timedelta(days=8)
    await store.commit(WriteSet(journal=[entry(n, at=old + timedelta(seconds=n))
                                         for n in range(7)]))
    await store.commit(WriteSet(journal=[entry(100, at=NOW)]))

    await store.prune(NOW - timedelta(days=7))

    assert [m.message_id for m in await read(store, MessageQuery())] == ["cmd-100"]


async def test_the_reader_filters_and_keeps_the_latest(store: SqlStore) -> None:
    for n in range(6):
        if n == 4:
            halfway = datetime.now(UTC)
        await store.commit(answered(n, table=f"T{n % 2}", at=NOW + timedelta(minutes=n)))
    await store.commit(WriteSet(journal=[entry(99, outcome="DEAD_LETTERED:body is not JSON",
                                               message_type="Pizza", table="T9")]))

    def ids(found: list[Any]) -> list[str]:
        return [m.message_id for m in found]

    assert ids(await read(store, MessageQuery(pos_table_id="T1", direction="in"))) == [
        "cmd-1", "cmd-3", "cmd-5"]
    assert ids(await read(store, MessageQuery(
        message_type="TableOrderSnapshotResolutionResult", limit=2))) == ["res-4", "res-5"]
    assert ids(await read(store, MessageQuery(
        since=NOW + timedelta(minutes=2), until=NOW + timedelta(minutes=3), direction="in",
    ))) == ["cmd-2", "cmd-3"]
    # An outgoing message's time is when it was committed for publication.
    assert ids(await read(store, MessageQuery(since=halfway, direction="out"))) == [
        "res-4", "res-5"]
    since_local = (NOW + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=-5)))
    assert ids(await read(store, MessageQuery(since=since_local, direction="in"))) == [
        "cmd-5"]
    assert ids(await read(store, MessageQuery(message_ids=("cmd-2", "res-2")))) == [
        "cmd-2", "res-2"]
    poison = await read(store, MessageQuery(message_type="Pizza"))
    assert [m.outcome for m in poison] == ["DEAD_LETTERED:body is not JSON"]


async def test_the_reader_finds_the_stream_a_request_opened(store: SqlStore) -> None:
    from tests.store.test_store import stream

    await store.commit(WriteSet(streams=[stream("st-9")]))

    async with StoreReader(store.url) as reader:
        opened = await reader.stream_opened_by("cmd-1")
        assert opened is not None
        assert opened.stream_id == "st-9"
        assert [s.stream_id for s in await reader.table_streams("T1")] == ["st-9"]
        assert [s.stream_id for s in await reader.streams("ACTIVE")] == ["st-9"]
        assert await reader.streams("CLOSED") == []


async def test_the_reader_cannot_write(store: SqlStore) -> None:
    await store.commit(answered(1))

    async with StoreReader(store.url) as reader:
        assert reader._conn is not None
        with pytest.raises(Exception, match=r"(?i)read.only|readonly"):
            await reader._conn.execute(text("DELETE FROM journal"))

    assert len(await read(store, MessageQuery())) == 2


async def test_the_migrations_match_the_tables(store: SqlStore) -> None:
    def differences(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with store._writer.connect() as conn:
        diffs = await conn.run_sync(differences)

    mine = {"journal", "outbox"}
    assert [d for d in diffs if _table_of(d) in mine] == []


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name is not None:
            return str(name)
    return None


async def test_the_reader_refuses_a_missing_or_unmigrated_store(tmp_path: Path) -> None:
    missing = f"sqlite+aiosqlite:///{tmp_path / 'nope.db'}"
    with pytest.raises(StoreUnavailable, match="no store at"):
        StoreReader(missing)
    assert not (tmp_path / "nope.db").exists()

    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(StoreUnavailable, match="has no journal"):
        async with StoreReader(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"):
            pass


UNSTORABLE = ["nul\x00here", "lone \ud800 high", "lone \udfff low", "\x00\udc00" * 40]


@pytest.mark.parametrize("text", UNSTORABLE, ids=["nul", "high", "low", "long"])
async def test_the_journal_keeps_text_no_database_would_take_escaped(
    store: SqlStore, text: str
) -> None:
    """Whatever a poison message carried reaches the journal: a lone surrogate (which
    UTF-8 cannot encode) or a NUL (which PostgreSQL refuses) is kept as its escape."""
    kept = JournalEntry(
        location_id="loc", message_id=text[:128], message_type=text[:64], pos_table_id=text,
        correlation_id=text, received_at=NOW, outcome=f"DEAD_LETTERED:{text}",
        body=text.encode("utf-8", "surrogatepass"), properties={"type": text},
    )

    await store.commit(WriteSet(journal=[kept]))

    [stored] = await read(store, MessageQuery(direction="in"))
    escaped = text.replace("\x00", "\\u0000").replace("\ud800", "\\ud800")
    escaped = escaped.replace("\udfff", "\\udfff").replace("\udc00", "\\udc00")
    assert stored.outcome == f"DEAD_LETTERED:{escaped}"
    assert stored.message_id == escaped[:128]
    assert stored.message_type == escaped[:64]
    assert stored.body == kept.body
