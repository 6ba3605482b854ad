"""The group commit's statements, built once: through SQLAlchemy's ``Connection.execute``
(any dialect), or on SQLite through the DBAPI cursor.

``Connection.execute`` builds every row's parameters anew in an execution context (a
dict, then a processor call per value), the larger part of a group commit's CPU once
SQLite's hops were gone. :class:`SqliteStatements` compiles each statement once and
passes each row through the column types' own bind processors (so values are stored
exactly as ``Connection.execute`` stores them) to the cursor: ``executemany``, or a
row at a time where RETURNING answers (no hop: it runs where the transaction runs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam, update

from adapter.store._engine import Insert
from adapter.store._tables import inbox, journal, outbox, streams, submissions

PLACEHOLDER = "REDELIVERED"
"""Outcome of an inbox row that only counts redeliveries of a command not answered yet."""

Rows = Sequence[Mapping[str, Any]]


class Statements:
    def __init__(self, insert: Insert) -> None:
        self.claim = _upsert(insert, inbox, ["message_id"], over_placeholder=True).returning(
            inbox.c.message_id
        )
        self.tables = {
            "streams": _upsert(insert, streams, ["stream_id"]),
            "submissions": _upsert(insert, submissions, ["location_id", "submission_id"]),
            "journal": journal.insert(),
        }
        self.outbox = outbox.insert().returning(outbox.c.id, sort_by_parameter_order=True)
        self.mark = (
            update(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True)))
            .values(sent_at=bindparam("now"))
        )

    def mark_sent(self, conn: Connection, ids: list[int], now: datetime) -> None:
        conn.execute(self.mark, {"ids": ids, "now": now})

    def claim_inbox(self, conn: Connection, rows: Rows) -> set[str]:
        """Upsert inbox rows (new, or over a placeholder); the messageIds written."""
        return set(conn.execute(self.claim, rows).scalars())

    def write(self, conn: Connection, table: str, rows: Rows) -> None:
        if rows:
            conn.execute(self.tables[table], rows)

    def insert_outbox(self, conn: Connection, rows: Rows) -> list[int]:
        """The new rows' ids, in the order of ``rows``."""
        return list(conn.execute(self.outbox, rows).scalars())


class SqliteStatements(Statements):
    def __init__(self, insert: Insert) -> None:
        super().__init__(insert)
        self._prepared: dict[int, Prepared] = {}
        self.mark_one = (
            update(outbox).where(outbox.c.id == bindparam("mark_id"))
            .values(sent_at=bindparam("now"))
        )

    def mark_sent(self, conn: Connection, ids: list[int], now: datetime) -> None:
        self._many(conn, self.mark_one, [{"mark_id": id_, "now": now} for id_ in ids])

    def claim_inbox(self, conn: Connection, rows: Rows) -> set[str]:
        return {row[0] for row in self._each(conn, self.claim, rows) if row is not None}

    def write(self, conn: Connection, table: str, rows: Rows) -> None:
        if rows:
            self._many(conn, self.tables[table], rows)

    def insert_outbox(self, conn: Connection, rows: Rows) -> list[int]:
        return [row[0] for row in self._each(conn, self.outbox, rows) if row is not None]

    def _many(self, conn: Connection, statement: Any, rows: Rows) -> None:
        prepared = self._prepare(conn, statement, rows[0])
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(prepared.sql, [prepared.parameters(row) for row in rows])
        finally:
            cursor.close()

    def _each(self, conn: Connection, statement: Any, rows: Rows) -> list[Any]:
        """The RETURNING row of each row (None where nothing was written)."""
        if not rows:
            return []
        prepared = self._prepare(conn, statement, rows[0])
        cursor = conn.connection.cursor()
        try:
            returned = []
            for row in rows:
                cursor.execute(prepared.sql, prepared.parameters(row))
                returned.append(cursor.fetchone())
            return returned
        finally:
            cursor.close()

    def _prepare(self, conn: Connection, statement: Any, row: Mapping[str, Any]) -> Prepared:
        """Compiled on first use, for the keys of its rows (each statement's rows are
        made by one function of ``_rows``, so they always have the same keys)."""
        prepared = self._prepared.get(id(statement))
        if prepared is None:
            prepared = self._prepared[id(statement)] = Prepared(statement, conn.dialect, row)
        return prepared


class Prepared:
    """A statement compiled once for SQLite's DBAPI cursor, for parameters with the keys of
    ``sample``: its SQL, and each row's positional values through the bind processors."""

    def __init__(self, statement: Any, dialect: Dialect, sample: Mapping[str, Any]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(sample))
        assert compiled.positiontup is not None, "SQLite's paramstyle is positional"
        self.sql = compiled.string
        self._slots: list[tuple[str, bool, Any, Callable[[Any], Any] | None]] = [
            (name, name in sample, compiled.params.get(name),
             compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        ]

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, given, fixed, process in self._slots:
            value = row[name] if given else fixed
            values.append(value if process is None else process(value))
        return tuple(values)


def _upsert(
    insert: Insert, table: Table, keys: list[str], *, over_placeholder: bool = False
) -> Any:
    """INSERT … ON CONFLICT DO UPDATE of every column but the keys."""
    statement = insert(table)
    kept = {"created_at", "redeliveries", *keys}
    changed = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in kept}
    where = table.c.outcome == PLACEHOLDER if over_placeholder else None
    return statement.on_conflict_do_update(index_elements=keys, set_=changed, where=where)
