"""SQLite's DBAPI-cursor statements store exactly what SQLAlchemy's ``execute`` stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.dialects import sqlite

from adapter.store._rows import inbox_values, journal_values, outbox_values
from adapter.store._statements import SqliteStatements, Statements
from adapter.store._tables import metadata
from handlers import InboxRecord, JournalEntry, OutgoingMessage

LIMA = timezone(timedelta(hours=-5))
HOSTILE = "mesa \ud800 uno\x00"  # a lone surrogate and a NUL: escaped on the way in


def rows() -> dict[str, list[dict[str, Any]]]:
    at = datetime(2026, 11, 21, 19, 0, 0, 123456, tzinfo=UTC)
    result = OutgoingMessage(
        message_id="m-1", message_type="TableOrderSnapshotResolutionResult",
        location_id="loc", correlation_id=None, occurred_at=at.astimezone(LIMA),
        body=b'{"x": "\xc3\xa9"}', pos_table_id=HOSTILE,
    )
    inbox = InboxRecord(message_id="cmd-1", location_id="loc", message_type="T",
                        pos_table_id=HOSTILE, received_at=at, outcome="RESOLVED",
                        result=result)
    entry = JournalEntry(location_id="loc", message_id="cmd-1", message_type=HOSTILE,
                         pos_table_id=None, correlation_id="c", received_at=at,
                         outcome=HOSTILE, body=b"\x00\x01", properties={"h": b"\xff"})
    return {"inbox": [inbox_values(inbox)], "journal": [journal_values(entry)] * 2,
            "outbox": [outbox_values(result, at, None)]}


def write(path: Path, statements: Statements) -> dict[str, list[Any]]:
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    given = rows()
    with engine.begin() as conn:
        written = statements.claim_inbox(conn, given["inbox"])
        again = statements.claim_inbox(conn, given["inbox"])  # answered: not written
        statements.write(conn, "journal", given["journal"])
        ids = statements.insert_outbox(conn, given["outbox"] * 3)
        statements.mark_sent(conn, ids[:2], datetime(2026, 11, 21, 20, 0, tzinfo=UTC))
    with engine.connect() as conn:
        stored = {table: _all(conn, table) for table in ("inbox", "journal", "outbox")}
    engine.dispose()
    return {"claimed": [sorted(written), sorted(again)], "ids": ids, **stored}


def _all(conn: Connection, table: str) -> list[Any]:
    return [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


def test_sqlite_statements_store_what_sqlalchemy_stores(tmp_path: Path) -> None:
    core = write(tmp_path / "core.db", Statements(sqlite.insert))
    cursor = write(tmp_path / "cursor.db", SqliteStatements(sqlite.insert))

    assert cursor == core
    assert core["claimed"] == [["cmd-1"], []]
    assert core["ids"] == [1, 2, 3]
    assert [row[9] is not None for row in core["outbox"]] == [True, True, False]
