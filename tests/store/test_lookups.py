"""SQLite's lookups on the DBAPI cursor read exactly what SQLAlchemy's ``execute`` reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.dialects import sqlite

from adapter.store._lookups import INBOX_ROWS, SUBMISSION, SqliteLookup
from adapter.store._rows import submission_values
from adapter.store._statements import Statements
from adapter.store._tables import metadata
from handlers import CreatedLine, SubmissionRecord, SubmissionState
from tests.store.test_statements import HOSTILE, rows


def submission(submission_id: str) -> dict[str, Any]:
    at = datetime(2026, 11, 21, 19, 0, 0, 123456, tzinfo=UTC)
    return submission_values(SubmissionRecord(
        submission_id=submission_id, location_id="loc", pos_table_id=HOSTILE,
        table_session_id="s-1", message_id="cmd-1", state=SubmissionState.DONE,
        outcome="ACCEPTED", result_payload=b'{"a": 1}', plan=None,
        created_lines=(CreatedLine("l1", "p1"),), pos_order_id=None, created_at=at,
        updated_at=at, request_digest="d",
    ))


def test_the_lookups_read_what_sqlalchemy_reads(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    metadata.create_all(engine)
    statements = Statements(sqlite.insert)
    with engine.begin() as conn:
        statements.claim_inbox(conn, rows()["inbox"])
        statements.write(conn, "submissions", [submission("sub-1"), submission("sub-2")])

    inbox = {"ids_json": json.dumps(["cmd-1", "absent", HOSTILE])}
    one = {"location_id": "loc", "submission_id": "sub-2"}
    with engine.connect() as conn:
        for statement, params in ((INBOX_ROWS, inbox), (SUBMISSION, one)):
            lookup = SqliteLookup(statement, engine.dialect, params)
            expected = [row._asdict() for row in conn.execute(statement, params)]
            assert [row._asdict() for row in lookup.fetch(conn, params)] == expected
            assert len(expected) == 1
    engine.dispose()
