"""The SQL store: reads through one connection, writes through the group committer.

On SQLite both are connections of SQLAlchemy's synchronous engine used on the event
loop itself, a thread's only while another connection holds the database's lock
(``_on_loop``).

The active streams of each location are cached: loaded from the store on start and kept
up to date from each commit, which is sound because one process writes a location's
streams (a quorum queue with a single active consumer; a standby's lease reloads them
when it takes over). Whether a messageId was answered is asked of the store itself: the
lookups of concurrent commands share one query (``_inbox``), and the group commit's
inbox upsert refuses a write set whose messageId was answered meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, func, select

from adapter.store._asyncio import AsyncConnection
from adapter.store._checkpoint import CHECKPOINT_INTERVAL, Checkpointer
from adapter.store._committer import Committed, GroupCommitter, Job
from adapter.store._engine import create_engines, insert_for, is_sqlite
from adapter.store._inbox import InboxLookups
from adapter.store._lookups import INBOX_ROWS, SUBMISSION, SqliteLookup
from adapter.store._migrate import migrate
from adapter.store._on_loop import SqliteOnLoop
from adapter.store._rows import (
    OutboxRow,
    inbox_record,
    outbox_row,
    stream_record,
    submission_record,
)
from adapter.store._statements import PLACEHOLDER
from adapter.store._tables import inbox, journal, outbox, streams, submissions
from handlers import (
    InboxRecord,
    StreamRecord,
    StreamStatus,
    SubmissionRecord,
    SubmissionState,
    WriteSet,
)
from schemas import utc_now

_INBOX_ROWS = select(inbox).where(inbox.c.message_id.in_(bindparam("ids", expanding=True)))
"""Built once: the lookups' statement is then found in SQLAlchemy's cache at once."""
_SUBMISSIONS = select(submissions).where(
    submissions.c.location_id == bindparam("location_id"),
    submissions.c.submission_id.in_(bindparam("ids", expanding=True)),
)
"""Built once too."""


class SqlStore:
    """The adapter's store (implements ``handlers.Store``)."""

    def __init__(
        self, url: str, *, migrate_apart: bool = False,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        """``migrate_apart``: a store to migrate is migrated by a child process (the
        worker's choice: alembic is then never loaded into it). ``checkpoint_interval``:
        seconds between SQLite's WAL checkpoints while the store is written."""
        self.url = url
        self._migrate_apart = migrate_apart
        self._writer, self._reader = create_engines(url)
        self._read_conn: AsyncConnection | None = None
        self._read_lock = asyncio.Lock()
        self._inbox_lookups = InboxLookups(self._inbox_rows)
        self._prepared_lookups: dict[Select[Any], SqliteLookup] = {}
        sqlite = is_sqlite(url)
        self._sqlite_writer: SqliteOnLoop | None = None
        self._sqlite_reader: SqliteOnLoop | None = None
        if sqlite:
            self._sqlite_writer = SqliteOnLoop(url, name="store-writer", writer=True)
            self._sqlite_reader = SqliteOnLoop(url, name="store-reader", writer=False)
        self.checkpointer = Checkpointer(url, interval=checkpoint_interval) if sqlite else None
        """SQLite's WAL checkpoints, run in the background (None on PostgreSQL)."""
        self._committer = GroupCommitter(
            self._writer, insert=insert_for(url), on_commit=self._committed,
            sqlite=self._sqlite_writer,
        )
        self._active: dict[str, dict[str, StreamRecord]] = {}
        self._outbox_listeners: list[Callable[[list[OutboxRow]], None]] = []

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await migrate(self._writer, apart=self._migrate_apart)
        if self._reader is not None:
            self._read_conn = await self._reader.connect()
        await self.reload()
        self._committer.start()
        if self.checkpointer is not None:
            self.checkpointer.start()

    async def reload(self) -> None:
        """Load the caches from the store: on start, and when this process takes a
        location over from another adapter (which wrote the store meanwhile)."""
        self._active.clear()
        active = await self._fetch(select(streams).where(streams.c.status == "ACTIVE"))
        for row in active:
            self._cache_stream(stream_record(row))

    @property
    def committer_task(self) -> asyncio.Task[None] | None:
        """The group commit's task, for the worker to watch."""
        return self._committer.task

    async def load_location(self, location_id: str) -> None:
        """Cache the location's active streams afresh (it is served from now on: another
        process may have served it and written the store meanwhile)."""
        rows = await self._fetch(select(streams).where(
            streams.c.status == StreamStatus.ACTIVE.value, streams.c.location_id == location_id
        ))
        self._active[location_id] = {}
        for row in rows:
            self._cache_stream(stream_record(row))

    def forget_location(self, location_id: str) -> None:
        """The location is no longer served here: its cached streams go."""
        self._active.pop(location_id, None)

    async def run_in_transaction(self, job: Job) -> Any:
        """Run ``job(connection)`` in the next group commit's transaction."""
        return await self._committer.run(job)

    async def close(self) -> None:
        await self._committer.stop()
        if self.checkpointer is not None:
            await self.checkpointer.stop()
        for connection in (self._sqlite_writer, self._sqlite_reader):
            if connection is not None:
                await connection.close()
        await self._inbox_lookups.close()
        if self._read_conn is not None:
            await self._read_conn.close()
            self._read_conn = None
        await self._writer.dispose()
        if self._reader is not None:
            await self._reader.dispose()

    def on_outbox(self, listener: Callable[[list[OutboxRow]], None]) -> None:
        """Call ``listener`` with the outbox rows of every commit, in id order."""
        self._outbox_listeners.append(listener)

    def _committed(self, committed: Committed) -> None:
        if self.checkpointer is not None:
            self.checkpointer.written()
        for writes in committed.write_sets:
            for stream in writes.streams:
                self._cache_stream(stream)
        if committed.outbox:
            for listener in self._outbox_listeners:
                listener(committed.outbox)

    def _cache_stream(self, stream: StreamRecord) -> None:
        active = self._active.setdefault(stream.location_id, {})
        if stream.status is StreamStatus.ACTIVE:
            active[stream.pos_table_id] = stream
        elif (cached := active.get(stream.pos_table_id)) and cached.stream_id == stream.stream_id:
            del active[stream.pos_table_id]

    # -- reads -----------------------------------------------------------------------

    async def _fetch(
        self, statement: Any, params: dict[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        if self._sqlite_reader is not None:
            return await self._sqlite_reader.read(
                lambda conn: conn.execute(statement, params).all()
            )
        assert self._read_conn is not None, "SqlStore.start() first"
        async with self._read_lock:
            return (await self._read_conn.execute(statement, params)).all()

    async def _lookup(self, statement: Select[Any], params: dict[str, Any]) -> Sequence[Any]:
        """A per-command lookup: on SQLite on the DBAPI cursor (``_lookups``)."""
        if self._sqlite_reader is None:
            return await self._fetch(statement, params)
        lookup = self._prepared_lookups.get(statement)
        if lookup is None:
            dialect = self._sqlite_reader.engine.dialect
            lookup = self._prepared_lookups[statement] = SqliteLookup(statement, dialect, params)
        return await self._sqlite_reader.read(lambda conn: lookup.fetch(conn, params))

    async def inbox_entry(self, message_id: str) -> InboxRecord | None:
        return await self._inbox_lookups.get(message_id)

    async def _inbox_rows(self, message_ids: list[str]) -> dict[str, InboxRecord]:
        if self._sqlite_reader is None:
            rows = await self._fetch(_INBOX_ROWS, {"ids": message_ids})
        else:
            rows = await self._lookup(INBOX_ROWS, {"ids_json": json.dumps(message_ids)})
        return {row.message_id: inbox_record(row) for row in rows}

    async def active_stream(self, location_id: str, pos_table_id: str) -> StreamRecord | None:
        return self._active.get(location_id, {}).get(pos_table_id)

    async def active_streams(self, location_id: str) -> list[StreamRecord]:
        return list(self._active.get(location_id, {}).values())

    async def active_stream_tables(self, location_id: str) -> list[tuple[str, datetime]]:
        """(posTableId, openedAt) of every active stream."""
        return [(s.pos_table_id, s.opened_at) for s in await self.active_streams(location_id)]

    async def streams(self, location_id: str, status: str | None = None) -> list[StreamRecord]:
        query = select(streams).where(streams.c.location_id == location_id)
        if status:
            query = query.where(streams.c.status == status)
        rows = await self._fetch(query.order_by(streams.c.opened_at))
        return [stream_record(row) for row in rows]

    async def stream_for_session(
        self, location_id: str, pos_table_id: str, table_session_id: str
    ) -> StreamRecord | None:
        active = await self.active_stream(location_id, pos_table_id)
        if active is not None and table_session_id in active.session_ids:
            return active
        rows = await self._fetch(
            select(streams)
            .where(
                streams.c.location_id == location_id,
                streams.c.pos_table_id == pos_table_id,
                streams.c.session_ids.contains(json.dumps(table_session_id)),
            )
            .order_by(streams.c.opened_at.desc())
        )
        for row in rows:
            record = stream_record(row)
            if table_session_id in record.session_ids:
                return record
        return None

    async def submission(self, location_id: str, submission_id: str) -> SubmissionRecord | None:
        rows = await self._lookup(
            SUBMISSION, {"location_id": location_id, "submission_id": submission_id}
        )
        return submission_record(rows[0]) if rows else None

    async def submissions_by_ids(
        self, location_id: str, submission_ids: list[str]
    ) -> list[SubmissionRecord]:
        if not submission_ids:
            return []
        rows = await self._fetch(
            _SUBMISSIONS, {"location_id": location_id, "ids": submission_ids}
        )
        return [submission_record(row) for row in rows]

    async def outbox_from(
        self,
        first_id: int | None,
        limit: int = 1000,
        locations: Sequence[str] | None = None,
        excluding: Sequence[str] = (),
    ) -> list[OutboxRow]:
        """Outbox rows to (re)send: from ``first_id`` on, or from the first unsent row;
        only those of ``locations`` when given, none of ``excluding``."""
        where = [] if locations is None else [outbox.c.location_id.in_(locations)]
        if excluding:
            where.append(outbox.c.location_id.not_in(excluding))
        if first_id is None:
            unsent = outbox.c.sent_at.is_(None)
            rows = await self._fetch(select(func.min(outbox.c.id)).where(unsent, *where))
            first_id = rows[0][0]
            if first_id is None:
                return []
        rows = await self._fetch(
            select(outbox).where(outbox.c.id >= first_id, *where)
            .order_by(outbox.c.id).limit(limit)
        )
        return [outbox_row(row) for row in rows]

    async def outbox_backlog(self) -> int:
        rows = await self._fetch(select(func.count()).where(outbox.c.sent_at.is_(None)))
        return int(rows[0][0])

    # -- writes ----------------------------------------------------------------------

    async def commit(self, writes: WriteSet) -> None:
        await self._committer.write(writes)

    def mark_sent(self, ids: Sequence[int]) -> None:
        """Record confirmed outbox rows; written with the next group commit."""
        self._committer.mark_sent(ids)

    async def count_redelivery(self, message_id: str) -> int:
        """Count one more redelivery of a command not answered yet (classic queues)."""

        async def job(conn: AsyncConnection) -> int:
            statement = insert_for(self.url)(inbox).values(
                message_id=message_id, location_id="", message_type="", received_at=utc_now(),
                outcome=PLACEHOLDER, redeliveries=1,
            )
            statement = statement.on_conflict_do_update(
                index_elements=[inbox.c.message_id],
                set_={"redeliveries": inbox.c.redeliveries + 1},
            )
            await conn.execute(statement)
            result = await conn.execute(
                select(inbox.c.redeliveries).where(inbox.c.message_id == message_id)
            )
            return int(result.scalar_one())

        count: int = await self._committer.run(job)
        return count

    async def prune(self, older_than: datetime) -> None:
        """Forget sent outbox rows, handled messages, journal entries, ended streams and
        finished submissions older than ``older_than``.

        The journal, the largest table by far, goes in chunks of its own transactions, so
        that commands waiting for the group commit never wait behind one long delete.
        """

        async def job(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < older_than)
            )
            await conn.execute(delete(inbox).where(inbox.c.received_at < older_than))
            await conn.execute(
                delete(streams).where(
                    streams.c.status != StreamStatus.ACTIVE.value,
                    streams.c.updated_at < older_than,
                )
            )
            await conn.execute(
                delete(submissions).where(
                    submissions.c.state == SubmissionState.DONE.value,
                    submissions.c.updated_at < older_than,
                )
            )

        await self._committer.run(job)
        while await self._committer.run(partial(_prune_journal, older_than=older_than)):
            pass


PRUNE_CHUNK = 2000


async def _prune_journal(conn: AsyncConnection, *, older_than: datetime) -> bool:
    """Delete up to PRUNE_CHUNK journal entries older than ``older_than``; whether there
    may be more."""
    oldest = (
        select(journal.c.id)
        .where(journal.c.received_at < older_than)
        .order_by(journal.c.received_at)
        .limit(PRUNE_CHUNK)
    )
    result = await conn.execute(delete(journal).where(journal.c.id.in_(oldest.scalar_subquery())))
    return result.rowcount >= PRUNE_CHUNK
