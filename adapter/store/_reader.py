"""Reading the store from another process: what the operators' commands show and replay.

The reader never writes. It does not migrate (a store the adapter has not brought to
this version yet is reported, not upgraded), does not touch SQLite's journal mode (the
adapter set WAL, in which a reader in another process never blocks the writer), refuses
a SQLite file that does not exist rather than creating an empty one, and its connections
are read-only at the database's level.

Messages come from two tables: the journal (every message received: direction ``in``)
and the outbox (every message published, kept until the retention prunes it: direction
``out``). A message published twice (a duplicate command answered again, a result
resent) has two outbox rows with the same messageId.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from sqlalchemy import ColumnElement, Row, Select, Table, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from adapter.store._asyncio import AsyncConnection
from adapter.store._engine import create_read_only_engine, is_sqlite
from adapter.store._rows import OutboxRow, stream_record
from adapter.store._tables import journal, outbox, streams
from handlers import OutgoingMessage, StreamRecord
from schemas import as_utc, utc_now

Direction = Literal["in", "out"]


class StoreUnavailable(Exception):
    """The store cannot be read: missing, unreachable, or not migrated to this version."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as the store keeps it.

    ``at`` is when it was received (``in``) or committed for publication (``out``).
    Incoming messages have an ``outcome``, the ``result_message_id`` of their answer and
    the AMQP ``properties`` they arrived with (when the consumer passed them); outgoing
    ones have ``sent_at`` (None: still owed) and ``occurred_at`` (their envelope's time,
    which their AMQP timestamp mirrors).
    """

    direction: Direction
    row_id: int
    location_id: str
    message_id: str | None
    message_type: str | None
    pos_table_id: str | None
    correlation_id: str | None
    at: datetime
    body: bytes | None
    outcome: str | None = None
    result_message_id: str | None = None
    properties: dict[str, Any] | None = None
    sent_at: datetime | None = None
    occurred_at: datetime | None = None

    def outbox_row(self) -> OutboxRow:
        """The outbox row of an outgoing message (to publish it as the relay does)."""
        assert self.direction == "out", "only an outgoing message has an outbox row"
        assert self.message_id is not None
        assert self.message_type is not None
        message = OutgoingMessage(
            message_id=self.message_id,
            message_type=self.message_type,
            location_id=self.location_id,
            correlation_id=self.correlation_id,
            occurred_at=self.occurred_at or self.at,
            body=self.body or b"",
            pos_table_id=self.pos_table_id,
        )
        return OutboxRow(self.row_id, message)


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Which messages: every condition given must hold. ``limit`` keeps the latest."""

    pos_table_id: str | None = None
    location_id: str | None = None
    message_type: str | None = None
    direction: Direction | None = None
    since: datetime | None = None
    until: datetime | None = None
    message_ids: tuple[str, ...] = field(default_factory=tuple)
    limit: int | None = None


class StoreReader:
    """``async with StoreReader(url) as reader``: read-only access to an adapter's store."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._shown = make_url(url).render_as_string(hide_password=True)
        if is_sqlite(url):
            _check_sqlite_file(url)
        self._engine = create_read_only_engine(url)
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self._engine.connect()
            has_journal = await self._conn.run_sync(
                lambda conn: inspect(conn).has_table("journal")
            )
        except (SQLAlchemyError, OSError) as exc:
            await self._engine.dispose()
            raise StoreUnavailable(f"cannot read the store at {self._shown}: {exc}") from exc
        if not has_journal:
            await self.__aexit__(None, None, None)
            raise StoreUnavailable(
                f"the store at {self._shown} has no journal: start this version of the "
                "adapter on it once (it migrates the store on start)"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        await self._engine.dispose()

    async def _fetch(self, statement: Any) -> Sequence[Row[Any]]:
        assert self._conn is not None, "use StoreReader as an async context manager"
        return (await self._conn.execute(statement)).all()

    # -- messages --------------------------------------------------------------------

    async def messages(self, query: MessageQuery) -> list[StoredMessage]:
        """The messages ``query`` selects, oldest first (the latest ``limit`` of them)."""
        found: list[StoredMessage] = []
        if query.direction in (None, "in"):
            found += [_incoming(row) for row in await self._fetch(_journal_query(query))]
        if query.direction in (None, "out"):
            found += [_outgoing(row) for row in await self._fetch(_outbox_query(query))]
        found.sort(key=lambda m: (m.at, m.direction, m.row_id))
        return found[-query.limit:] if query.limit is not None else found

    async def stream_opened_by(self, message_id: str) -> StreamRecord | None:
        """The stream a snapshot request opened."""
        rows = await self._fetch(select(streams).where(streams.c.opening_message_id == message_id))
        return stream_record(rows[0]) if rows else None

    # -- streams ---------------------------------------------------------------------

    async def streams(
        self, status: str | None = None, location_id: str | None = None
    ) -> list[StreamRecord]:
        """Every stream kept (ended ones until the retention prunes them), oldest first;
        of one location when ``location_id`` is given."""
        query = select(streams).order_by(streams.c.opened_at, streams.c.stream_id)
        if status is not None:
            query = query.where(streams.c.status == status)
        if location_id is not None:
            query = query.where(streams.c.location_id == location_id)
        return [stream_record(row) for row in await self._fetch(query)]

    async def table_streams(
        self, pos_table_id: str, location_id: str | None = None
    ) -> list[StreamRecord]:
        """The streams of one table (of any location, or of ``location_id``), newest first."""
        query = (
            select(streams)
            .where(streams.c.pos_table_id == pos_table_id)
            .order_by(streams.c.opened_at.desc(), streams.c.stream_id)
        )
        if location_id is not None:
            query = query.where(streams.c.location_id == location_id)
        return [stream_record(row) for row in await self._fetch(query)]


def _check_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise StoreUnavailable(f"{url} is not a store file another process can read")
    if not Path(database).is_file():
        raise StoreUnavailable(
            f"no store at {Path(database).resolve()}: POS_ADAPTER_STORE_URL must name the "
            "adapter's store"
        )


def _journal_query(query: MessageQuery) -> Select[Any]:
    order = (journal.c.received_at.desc(), journal.c.id.desc())
    return _filtered(journal, journal.c.received_at, order, query)


def _outbox_query(query: MessageQuery) -> Select[Any]:
    # The id orders publication (and creation): no index on created_at is needed.
    return _filtered(outbox, outbox.c.created_at, (outbox.c.id.desc(),), query)


def _filtered(
    table: Table, time: ColumnElement[Any], order: tuple[Any, ...], query: MessageQuery
) -> Select[Any]:
    """The journal's and the outbox's rows that match ``query``, newest first."""
    statement = select(table)
    if query.message_ids:
        statement = statement.where(table.c.message_id.in_(query.message_ids))
    if query.pos_table_id is not None:
        statement = statement.where(table.c.pos_table_id == query.pos_table_id)
    if query.location_id is not None:
        statement = statement.where(table.c.location_id == query.location_id)
    if query.message_type is not None:
        statement = statement.where(table.c.message_type == query.message_type)
    if query.since is not None:
        statement = statement.where(time >= as_utc(query.since))
    if query.until is not None:
        statement = statement.where(time <= as_utc(query.until))
    statement = statement.order_by(*order)
    return statement.limit(query.limit) if query.limit is not None else statement


def _incoming(row: Row[Any]) -> StoredMessage:
    return StoredMessage(
        direction="in",
        row_id=row.id,
        location_id=row.location_id,
        message_id=row.message_id,
        message_type=row.message_type,
        pos_table_id=row.pos_table_id,
        correlation_id=row.correlation_id,
        at=as_utc(row.received_at) or utc_now(),
        body=row.body,
        outcome=row.outcome,
        result_message_id=row.result_message_id,
        properties=json.loads(row.properties) if row.properties else None,
    )


def _outgoing(row: Row[Any]) -> StoredMessage:
    return StoredMessage(
        direction="out",
        row_id=row.id,
        location_id=row.location_id,
        message_id=row.message_id,
        message_type=row.message_type,
        pos_table_id=row.pos_table_id,
        correlation_id=row.correlation_id,
        at=as_utc(row.created_at) or utc_now(),
        body=row.body,
        sent_at=as_utc(row.sent_at),
        occurred_at=as_utc(row.occurred_at),
    )
