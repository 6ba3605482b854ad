"""The per-command lookups on SQLite, on the DBAPI cursor.

Every command looks its messageId up, every submission its submissionId: through
``Connection.execute`` each lookup cost some 0.3 ms of CPU (an execution context, a
result's metadata, a row object), several times SQLite's own work. A
:class:`SqliteLookup` is compiled once and passes its parameters as the commit's
statements do (``_statements.Prepared``), each value read through its column type's
result processor, so the rows hold exactly what ``Connection.execute`` would give (a
test compares them). The inbox lookup takes its messageIds as one JSON array
(``json_each``), so that one compiled statement serves any number of them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Dialect, Select, bindparam, func, select

from adapter.store._statements import Prepared
from adapter.store._tables import inbox, submissions

INBOX_ROWS = select(inbox).where(
    inbox.c.message_id.in_(select(func.json_each(bindparam("ids_json")).table_valued("value")))
)
"""The inbox rows of the messageIds in the JSON array ``ids_json``."""

SUBMISSION = select(submissions).where(
    submissions.c.location_id == bindparam("location_id"),
    submissions.c.submission_id == bindparam("submission_id"),
)


class SqliteLookup:
    def __init__(
        self, statement: Select[Any], dialect: Dialect, sample: Mapping[str, Any]
    ) -> None:
        """``sample``: parameters with the keys every call gives."""
        self._statement = Prepared(statement, dialect, sample)
        columns = list(statement.selected_columns)
        self._columns: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in columns
        ]
        self._row = namedtuple("_row", [column.key for column in columns])  # type: ignore[misc]

    def fetch(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """The rows, their values named by column (as a ``Row``'s attributes are)."""
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self._statement.sql, self._statement.parameters(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        columns = self._columns
        return [
            self._row(*(value if process is None else process(value)
                        for process, value in zip(columns, row, strict=True)))
            for row in rows
        ]
