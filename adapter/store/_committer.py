"""Group commit: every write waiting when a transaction starts goes into it.

Handlers each hand a write set to :meth:`GroupCommitter.write` and wait; one task writes
all the write sets that are waiting in one transaction, a few statements per table
(executemany), and commits once. One transaction per command cannot keep up with the
broker; one commit per batch can, and SQLite has one writer anyway. When the last batch
had several write sets, a transaction waits a moment (``GATHER_DELAY``) for a few more;
one command at a time never waits. A batch that fails is retried one write set at a
time, so one bad write set never fails its neighbours.

The inbox rows go first, in one upsert that returns the messageIds it wrote: a write set
whose messageId was answered already (by this process or another) is refused with
DuplicateMessage, and nothing else of it is written, its journal entry neither (the
dispatcher journals the duplicate itself).

On SQLite a batch of write sets is one call of the store's writer connection, on the
event loop (``_on_loop``), its statements on the DBAPI cursor (``_statements``); a batch
with a job (``run``) goes through the async engine's connection, as every batch does on
PostgreSQL.

A write set's outbox rows keep the trace context of the task that handed it over (the
command's, ``adapter.tracing.current``); with tracing on, its wait and transaction are
the command's ``store commit`` span.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection

from adapter import tracing
from adapter.store._asyncio import AsyncConnection, AsyncEngine
from adapter.store._engine import Insert
from adapter.store._on_loop import SqliteOnLoop
from adapter.store._rows import (
    OutboxRow,
    inbox_values,
    journal_values,
    outbox_values,
    stream_values,
    submission_values,
)
from adapter.store._statements import SqliteStatements, Statements
from handlers import DuplicateMessage, WriteSet
from schemas import utc_now

if TYPE_CHECKING:
    from opentelemetry.trace import Span

log = structlog.get_logger("pos_adapter.store")

Job = Callable[[AsyncConnection], Awaitable[Any]]
MAX_BATCH = 256
GATHER_DELAY = 0.001
GATHER_TARGET = 3
"""When commands run side by side (the last batch had several write sets), a transaction
waits up to ``GATHER_DELAY`` seconds until this many (or as many as the last batch, if
fewer) are waiting: a submission's two commits, a POS call apart, otherwise came one or
two to a transaction, each paying for its BEGIN, COMMIT and pages (bench/README.md,
step 23)."""
MARK_DELAY = 0.2
"""Seconds "sent" marks wait for a transaction to ride on: a crash before they are written
only means those rows are published again (consumers de-duplicate)."""


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[Any]
    writes: WriteSet | None = None
    job: Job | None = None
    trace: tracing.TraceContext | None = None
    span: Span | None = None


@dataclass(slots=True)
class Committed:
    """What one transaction wrote: the write sets applied and their outbox rows."""

    write_sets: list[WriteSet] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)


class GroupCommitter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        insert: Insert,
        on_commit: Callable[[Committed], None],
        sqlite: SqliteOnLoop | None = None,
    ) -> None:
        """``sqlite``: writes a batch without jobs in one call of that connection."""
        self._engine = engine
        self._sqlite = sqlite
        self._on_commit = on_commit
        self._sql = SqliteStatements(insert) if sqlite is not None else Statements(insert)
        self._pending: list[_Pending] = []
        self._sent_ids: list[int] = []
        self._wakeup = asyncio.Event()
        self._gathered = asyncio.Event()
        self._last_batch = 0
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="store-committer")

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The committing task: if it ended, every commit would wait for ever."""
        return self._task

    async def stop(self) -> None:
        if self._task is None:
            return
        if not self._task.done():  # a committer that died cannot drain anything
            await self.drain()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        pending, self._pending = self._pending, []
        _fail(pending, RuntimeError("the store is closed"))
        await self._disconnect()

    async def _connection(self) -> AsyncConnection:
        """The committer's own connection, kept open: checking one out of the pool and
        resetting it on return cost two more round trips to the database per batch."""
        if self._conn is None:
            self._conn = await self._engine.connect()
        return self._conn

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def write(self, writes: WriteSet) -> None:
        """Commit ``writes``; DuplicateMessage if its inbox row exists already."""
        pending = _Pending(self._future(), writes=writes, trace=tracing.current.get())
        if pending.trace is None or not tracing.enabled():
            await self._submit(pending)
            return
        with tracing.commit_span(self._engine.dialect.name, len(writes.outbox)) as span:
            pending.span = span
            await self._submit(pending)

    async def run(self, job: Job) -> Any:
        """Run ``job`` inside the next transaction."""
        return await self._submit(_Pending(self._future(), job=job))

    def mark_sent(self, ids: Sequence[int]) -> None:
        """Record confirmed outbox rows; written with the next transaction."""
        self._sent_ids.extend(ids)
        self._wakeup.set()

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (a batch may be mid-commit)."""
        await self.run(_noop)

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _submit(self, pending: _Pending) -> Any:
        self._pending.append(pending)
        self._wakeup.set()
        if len(self._pending) >= self._gather_target():
            self._gathered.set()
        return await pending.future

    def _gather_target(self) -> int:
        return min(self._last_batch, GATHER_TARGET)

    async def _gather(self) -> None:
        """Wait (``GATHER_DELAY`` at most) for the write sets of commands running side by
        side, so that they share a transaction. One command at a time never waits: its
        last batch had one write set."""
        if self._last_batch <= 1 or len(self._pending) >= self._gather_target():
            return
        self._gathered.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._gathered.wait(), GATHER_DELAY)

    async def _loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._pending:
                # Only "sent" marks: give them a moment to ride on a transaction.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), MARK_DELAY)
                self._wakeup.clear()
            await self._gather()
            while self._pending or self._sent_ids:
                self._last_batch = min(len(self._pending), MAX_BATCH)
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                sent, self._sent_ids = self._sent_ids, []
                try:
                    await self._commit(batch, sent)
                except Exception as exc:
                    # Whatever went wrong, nobody waits for ever and the loop goes on.
                    log.exception("group commit failed unexpectedly")
                    _fail(batch, exc)

    async def _commit(self, batch: list[_Pending], sent: list[int]) -> None:
        try:
            results, committed = await self._transaction(batch, sent)
        except Exception as exc:
            if len(batch) > 1 or (batch and sent):
                if sent:
                    await self._commit([], sent)
                for pending in batch:
                    await self._commit([pending], [])
                return
            log.exception("store write failed", sent_marks=len(sent))
            _fail(batch, exc)
            return
        self._on_commit(committed)
        for pending, result in zip(batch, results, strict=True):
            if pending.span is not None:
                tracing.batch_committed(pending.span, len(batch))
            if pending.future.done():
                continue
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)

    async def _transaction(
        self, batch: list[_Pending], sent: list[int]
    ) -> tuple[list[Any], Committed]:
        writes = [(p.writes, p.trace) for p in batch if p.writes is not None]
        if self._sqlite is not None and len(writes) == len(batch):
            errors, committed = await self._sqlite.transaction(
                lambda conn: self._apply(conn, writes, sent)
            )
            return list(errors), committed
        conn = await self._connection()
        try:
            async with conn.begin():
                # One greenlet for all the write sets' statements, not one per statement.
                errors, committed = await conn.run_sync(self._apply, writes, sent)
                outcomes = iter(errors)
                results = [
                    next(outcomes) if p.writes is not None else await _run(p.job, conn)
                    for p in batch
                ]
                return results, committed
        except Exception:
            # A broken connection (a database restart) is replaced on the next batch.
            if conn.invalidated or conn.closed:
                await self._disconnect()
            raise

    def _apply(
        self, conn: Connection, writes: list[tuple[WriteSet, tracing.TraceContext | None]],
        sent: list[int],
    ) -> tuple[list[BaseException | None], Committed]:
        """Write the "sent" marks and the write sets (the inbox rows first: a write set
        whose messageId is answered already is refused, and nothing else of it written)."""
        if sent:
            self._sql.mark_sent(conn, sent, utc_now())
        errors = self._claim_inbox(conn, [ws for ws, _ in writes])
        applied = [w for w, error in zip(writes, errors, strict=True) if error is None]
        kept = [ws for ws, _ in applied]
        self._sql.write(conn, "streams", [stream_values(s) for ws in kept for s in ws.streams])
        self._sql.write(conn, "submissions", [submission_values(s) for ws in kept
                                              for s in ws.submissions])
        self._sql.write(conn, "journal", [journal_values(e) for ws in kept for e in ws.journal])
        messages = [(message, trace) for ws, trace in applied for message in ws.outbox]
        rows: list[OutboxRow] = []
        if messages:
            created = utc_now()
            ids = self._sql.insert_outbox(
                conn, [outbox_values(message, created, trace) for message, trace in messages]
            )
            rows = [OutboxRow(id_, message, trace)
                    for id_, (message, trace) in zip(ids, messages, strict=True)]
        return errors, Committed(kept, rows)

    def _claim_inbox(
        self, conn: Connection, write_sets: list[WriteSet]
    ) -> list[BaseException | None]:
        """Upsert the inbox rows; DuplicateMessage for each write set whose messageId was
        answered already: the upsert only writes a new row or over a placeholder, and
        returns the ids it wrote, so the check needs no query of its own and sees what
        another process committed."""
        claimed: set[str] = set()
        rows: list[dict[str, Any]] = []
        errors: list[BaseException | None] = []
        for ws in write_sets:
            message_id = ws.inbox.message_id if ws.inbox is not None else None
            if message_id in claimed:  # a second delivery in the same batch
                errors.append(DuplicateMessage(message_id))
                continue
            if ws.inbox is not None:
                claimed.add(ws.inbox.message_id)
                rows.append(inbox_values(ws.inbox))
            errors.append(None)
        if not rows:
            return errors
        written = self._sql.claim_inbox(conn, rows)
        return [
            DuplicateMessage(ws.inbox.message_id)
            if error is None and ws.inbox is not None and ws.inbox.message_id not in written
            else error
            for ws, error in zip(write_sets, errors, strict=True)
        ]


def _fail(batch: list[_Pending], exc: Exception) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)


async def _noop(_conn: AsyncConnection) -> None:
    return None


async def _run(job: Job | None, conn: AsyncConnection) -> Any:
    assert job is not None
    return await job(conn)
