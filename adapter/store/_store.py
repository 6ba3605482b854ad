"""The SQL store: reads through a pool, writes through one group committer.

Concurrent handlers each hand a write set to :meth:`SqlStore.commit` and wait; a single
committer task writes every write set that is waiting in one transaction and commits
once (group commit). One transaction per command cannot keep up with the broker; one
commit per batch can, and SQLite allows one writer anyway. A write set that fails is
retried alone, so one bad write set never fails its neighbours.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from adapter.store._engine import create_engines, is_sqlite
from adapter.store._migrate import migrate
from adapter.store._tables import inbox, outbox, streams, submissions
from handlers import (
    CreatedLine,
    DuplicateMessage,
    InboxRecord,
    OutgoingMessage,
    StreamRecord,
    StreamStatus,
    SubmissionRecord,
    SubmissionState,
    WriteSet,
)
from schemas import Snapshot

log = structlog.get_logger("pos_adapter.store")

MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox row as committed: its id orders publication."""

    id: int
    message: OutgoingMessage


Job = Callable[[AsyncConnection], Awaitable[Any]]


@dataclass(slots=True)
class _Pending:
    job: Job
    future: asyncio.Future[Any]


def now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SqlStore:
    """The adapter's store (implements ``handlers.Store``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._writer, self._reader = create_engines(url)
        self._insert = sqlite.insert if is_sqlite(url) else postgresql.insert
        self._pending: list[_Pending] = []
        self._sent_ids: list[int] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outbox_listeners: list[Callable[[list[OutboxRow]], None]] = []

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await migrate(self._writer)
        self._task = asyncio.create_task(self._run_committer(), name="store-committer")

    async def close(self) -> None:
        if self._task is not None:
            await self._drain()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._writer.dispose()
        await self._reader.dispose()

    def on_outbox(self, listener: Callable[[list[OutboxRow]], None]) -> None:
        """Call ``listener`` with the outbox rows of every commit, in id order."""
        self._outbox_listeners.append(listener)

    # -- reads -----------------------------------------------------------------------

    async def _fetch(self, statement: Any) -> Sequence[Row[Any]]:
        async with self._reader.connect() as conn:
            return (await conn.execute(statement)).all()

    async def inbox_entry(self, message_id: str) -> InboxRecord | None:
        rows = await self._fetch(select(inbox).where(inbox.c.message_id == message_id))
        return _inbox_record(rows[0]) if rows else None

    async def active_stream(self, location_id: str, pos_table_id: str) -> StreamRecord | None:
        rows = await self._fetch(
            select(streams).where(
                streams.c.location_id == location_id,
                streams.c.pos_table_id == pos_table_id,
                streams.c.status == StreamStatus.ACTIVE.value,
            )
        )
        return _stream_record(rows[0]) if rows else None

    async def active_streams(self, location_id: str) -> list[StreamRecord]:
        rows = await self._fetch(
            select(streams).where(
                streams.c.location_id == location_id,
                streams.c.status == StreamStatus.ACTIVE.value,
            )
        )
        return [_stream_record(row) for row in rows]

    async def active_stream_tables(self, location_id: str) -> list[tuple[str, datetime]]:
        """(posTableId, openedAt) of every active stream, without the baselines."""
        rows = await self._fetch(
            select(streams.c.pos_table_id, streams.c.opened_at).where(
                streams.c.location_id == location_id,
                streams.c.status == StreamStatus.ACTIVE.value,
            )
        )
        return [(row.pos_table_id, _utc(row.opened_at) or now()) for row in rows]

    async def streams(self, location_id: str, status: str | None = None) -> list[StreamRecord]:
        query = select(streams).where(streams.c.location_id == location_id)
        if status:
            query = query.where(streams.c.status == status)
        rows = await self._fetch(query.order_by(streams.c.opened_at))
        return [_stream_record(row) for row in rows]

    async def stream_for_session(
        self, location_id: str, pos_table_id: str, table_session_id: str
    ) -> StreamRecord | None:
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
            record = _stream_record(row)
            if table_session_id in record.session_ids:
                return record
        return None

    async def submission(self, location_id: str, submission_id: str) -> SubmissionRecord | None:
        rows = await self._fetch(
            select(submissions).where(
                submissions.c.location_id == location_id,
                submissions.c.submission_id == submission_id,
            )
        )
        return _submission_record(rows[0]) if rows else None

    async def submissions_by_ids(
        self, location_id: str, submission_ids: list[str]
    ) -> list[SubmissionRecord]:
        if not submission_ids:
            return []
        rows = await self._fetch(
            select(submissions).where(
                submissions.c.location_id == location_id,
                submissions.c.submission_id.in_(submission_ids),
            )
        )
        return [_submission_record(row) for row in rows]

    async def outbox_from(self, first_id: int | None, limit: int = 1000) -> list[OutboxRow]:
        """Outbox rows to (re)send: from ``first_id`` on, or from the first unsent row."""
        if first_id is None:
            unsent = outbox.c.sent_at.is_(None)
            rows = await self._fetch(select(func.min(outbox.c.id)).where(unsent))
            first_id = rows[0][0]
            if first_id is None:
                return []
        rows = await self._fetch(
            select(outbox).where(outbox.c.id >= first_id).order_by(outbox.c.id).limit(limit)
        )
        return [_outbox_row(row) for row in rows]

    async def outbox_backlog(self) -> int:
        rows = await self._fetch(select(func.count()).where(outbox.c.sent_at.is_(None)))
        return int(rows[0][0])

    # -- writes ----------------------------------------------------------------------

    async def commit(self, writes: WriteSet) -> None:
        await self._submit(lambda conn: self._apply(conn, writes))

    async def count_redelivery(self, message_id: str) -> int:
        async def job(conn: AsyncConnection) -> int:
            stmt = self._insert(inbox).values(
                message_id=message_id,
                location_id="",
                message_type="",
                received_at=now(),
                outcome="REDELIVERED",
                redeliveries=1,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[inbox.c.message_id],
                set_={"redeliveries": inbox.c.redeliveries + 1},
            )
            await conn.execute(stmt)
            rows = (
                await conn.execute(
                    select(inbox.c.redeliveries).where(inbox.c.message_id == message_id)
                )
            ).all()
            return int(rows[0][0])

        result: int = await self._submit(job)
        return result

    def mark_sent(self, ids: Sequence[int]) -> None:
        """Record confirmed outbox rows; written with the next group commit."""
        self._sent_ids.extend(ids)
        self._wakeup.set()

    async def prune(self, older_than: datetime) -> None:
        """Forget sent outbox rows and handled messages older than ``older_than``."""

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

        await self._submit(job)

    async def _submit(self, job: Job) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(job, future))
        self._wakeup.set()
        return await future

    async def _drain(self) -> None:
        """Wait until everything submitted so far is written (a batch may be mid-commit)."""
        await self._submit(_noop)

    # -- the committer ---------------------------------------------------------------

    async def _run_committer(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending or self._sent_ids:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                sent, self._sent_ids = self._sent_ids, []
                await self._commit_batch(batch, sent)

    async def _commit_batch(self, batch: list[_Pending], sent: list[int]) -> None:
        try:
            results = await self._transaction(batch, sent)
        except Exception as exc:
            if len(batch) > 1 or (batch and sent):
                # Isolate the failure: every write set alone, the sent marks on their own.
                if sent:
                    await self._commit_batch([], sent)
                for pending in batch:
                    await self._commit_one(pending)
                return
            log.exception("store write failed", sent_marks=len(sent))
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        self._settle(batch, results)

    async def _commit_one(self, pending: _Pending) -> None:
        try:
            results = await self._transaction([pending], [])
        except Exception as exc:
            log.exception("store write failed")
            if not pending.future.done():
                pending.future.set_exception(exc)
            return
        self._settle([pending], results)

    async def _transaction(self, batch: list[_Pending], sent: list[int]) -> list[Any]:
        async with self._writer.begin() as conn:
            if sent:
                await conn.execute(
                    update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=now())
                )
            return [await _run_job(pending.job, conn) for pending in batch]

    def _settle(self, batch: list[_Pending], results: list[Any]) -> None:
        committed: list[OutboxRow] = []
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, _Outcome):
                committed.extend(result.rows)
                value: Any = None if result.error is None else result.error
            else:
                value = result
            if pending.future.done():
                continue
            if isinstance(value, BaseException):
                pending.future.set_exception(value)
            else:
                pending.future.set_result(value)
        if committed:
            for listener in self._outbox_listeners:
                listener(committed)

    async def _apply(self, conn: AsyncConnection, writes: WriteSet) -> _Outcome:
        if writes.inbox is not None and not await self._insert_inbox(conn, writes.inbox):
            return _Outcome([], DuplicateMessage(writes.inbox.message_id))
        for stream in writes.streams:
            await self._upsert_stream(conn, stream)
        for submission in writes.submissions:
            await self._upsert_submission(conn, submission)
        rows: list[OutboxRow] = []
        if writes.outbox:
            created = now()
            ids = (
                await conn.execute(
                    outbox.insert().returning(outbox.c.id, sort_by_parameter_order=True),
                    [_outbox_values(message, created) for message in writes.outbox],
                )
            ).scalars()
            rows = [OutboxRow(id_, msg) for id_, msg in zip(ids, writes.outbox, strict=True)]
        return _Outcome(rows, None)

    async def _insert_inbox(self, conn: AsyncConnection, record: InboxRecord) -> bool:
        result = record.result
        values = {
            "message_id": record.message_id,
            "location_id": record.location_id,
            "message_type": record.message_type,
            "pos_table_id": record.pos_table_id,
            "received_at": record.received_at,
            "outcome": record.outcome,
            "result_message_id": result.message_id if result else None,
            "result_type": result.message_type if result else None,
            "result_body": result.body if result else None,
        }
        # A row left by count_redelivery (outcome REDELIVERED) is a placeholder: fill it.
        stmt = self._insert(inbox).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[inbox.c.message_id],
            set_={key: value for key, value in values.items() if key != "message_id"},
            where=and_(inbox.c.outcome == "REDELIVERED"),
        )
        outcome = await conn.execute(stmt)
        return bool(outcome.rowcount)

    async def _upsert_stream(self, conn: AsyncConnection, stream: StreamRecord) -> None:
        values = {
            "stream_id": stream.stream_id,
            "location_id": stream.location_id,
            "pos_table_id": stream.pos_table_id,
            "status": stream.status.value,
            "table_session_id": stream.table_session_id,
            "session_ids": json.dumps(list(stream.session_ids)),
            "opening_message_id": stream.opening_message_id,
            "last_sequence": stream.last_sequence,
            "baseline": stream.baseline.model_dump_json(),
            "opened_at": stream.opened_at,
            "updated_at": stream.updated_at,
            "closed_at": stream.closed_at,
        }
        stmt = self._insert(streams).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[streams.c.stream_id],
            set_={key: value for key, value in values.items() if key != "stream_id"},
        )
        await conn.execute(stmt)

    async def _upsert_submission(self, conn: AsyncConnection, record: SubmissionRecord) -> None:
        values = {
            "location_id": record.location_id,
            "submission_id": record.submission_id,
            "pos_table_id": record.pos_table_id,
            "table_session_id": record.table_session_id,
            "message_id": record.message_id,
            "state": record.state.value,
            "outcome": record.outcome,
            "result_payload": record.result_payload,
            "plan": record.plan,
            "created_lines": json.dumps(
                [[line.line_id, line.pos_line_id] for line in record.created_lines]
            ),
            "pos_order_id": record.pos_order_id,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }
        stmt = self._insert(submissions).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[submissions.c.location_id, submissions.c.submission_id],
            set_={
                key: value
                for key, value in values.items()
                if key not in ("location_id", "submission_id", "created_at")
            },
        )
        await conn.execute(stmt)


@dataclass(slots=True)
class _Outcome:
    rows: list[OutboxRow]
    error: BaseException | None


async def _noop(_conn: AsyncConnection) -> None:
    return None


async def _run_job(job: Job, conn: AsyncConnection) -> Any:
    return await job(conn)


def _outbox_values(message: OutgoingMessage, created: datetime) -> dict[str, Any]:
    return {
        "location_id": message.location_id,
        "message_id": message.message_id,
        "message_type": message.message_type,
        "correlation_id": message.correlation_id,
        "pos_table_id": message.pos_table_id,
        "occurred_at": message.occurred_at,
        "body": message.body,
        "created_at": created,
    }


def _outbox_row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(
        row.id,
        OutgoingMessage(
            message_id=row.message_id,
            message_type=row.message_type,
            location_id=row.location_id,
            correlation_id=row.correlation_id,
            occurred_at=_utc(row.occurred_at) or now(),
            body=row.body,
            pos_table_id=row.pos_table_id,
        ),
    )


def _inbox_record(row: Row[Any]) -> InboxRecord:
    result = None
    if row.result_body is not None:
        result = OutgoingMessage.from_body(row.result_body, location_id=row.location_id)
    return InboxRecord(
        message_id=row.message_id,
        location_id=row.location_id,
        message_type=row.message_type,
        pos_table_id=row.pos_table_id,
        received_at=_utc(row.received_at) or now(),
        outcome=row.outcome,
        result=result,
    )


def _stream_record(row: Row[Any]) -> StreamRecord:
    return StreamRecord(
        stream_id=row.stream_id,
        location_id=row.location_id,
        pos_table_id=row.pos_table_id,
        status=StreamStatus(row.status),
        table_session_id=row.table_session_id,
        session_ids=tuple(json.loads(row.session_ids)),
        opening_message_id=row.opening_message_id,
        last_sequence=row.last_sequence,
        baseline=Snapshot.model_validate_json(row.baseline),
        opened_at=_utc(row.opened_at) or now(),
        updated_at=_utc(row.updated_at) or now(),
        closed_at=_utc(row.closed_at),
    )


def _submission_record(row: Row[Any]) -> SubmissionRecord:
    return SubmissionRecord(
        submission_id=row.submission_id,
        location_id=row.location_id,
        pos_table_id=row.pos_table_id,
        table_session_id=row.table_session_id,
        message_id=row.message_id,
        state=SubmissionState(row.state),
        outcome=row.outcome,
        result_payload=row.result_payload,
        plan=row.plan,
        created_lines=tuple(CreatedLine(a, b) for a, b in json.loads(row.created_lines)),
        pos_order_id=row.pos_order_id,
        created_at=_utc(row.created_at) or now(),
        updated_at=_utc(row.updated_at) or now(),
    )
