"""TableOrderSnapshotRequested -> TableOrderSnapshotResolutionResult (contract §4.1/4.2)."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import structlog

from handlers._command import Incoming, answer, pos_rejection, precheck, reject
from handlers._context import HandlerContext
from handlers._deadline import Deadline
from handlers._pos import call_pos
from handlers._records import StreamRecord, WriteSet
from handlers._snapshots import snapshot_of
from handlers._streams import advance_stream, expire_stream, is_expired, open_stream
from pos_drivers import PosError
from schemas import (
    SNAPSHOT_REJECTION_REASONS,
    ParsedCommand,
    Rejection,
    RejectionReason,
    Snapshot,
    SnapshotOutcome,
    TableOrderSnapshotRequested,
    TableOrderSnapshotResolutionResult,
)

log = structlog.get_logger("pos_adapter.snapshot")


class SnapshotHandler:
    def __init__(self, ctx: HandlerContext) -> None:
        self.ctx = ctx

    def rejected(
        self, command: ParsedCommand, why: Rejection
    ) -> TableOrderSnapshotResolutionResult:
        return TableOrderSnapshotResolutionResult(
            pos_table_id=command.pos_table_id,
            table_session_id=command.table_session_id,
            outcome=SnapshotOutcome.REJECTED,
            rejection=why,
        )

    async def handle(self, incoming: Incoming) -> str:
        ctx = self.ctx
        command = incoming.command
        why = precheck(ctx, command)
        if why is not None:
            return await reject(ctx, self, incoming, why)
        request = cast(TableOrderSnapshotRequested, command.payload)
        table = request.pos_table_id
        writes = WriteSet()
        stream = await ctx.store.active_stream(ctx.location_id, table)
        if stream is not None and is_expired(stream, ctx.clock(), ctx.stream_max_age):
            log.info("stream expired", stream_id=stream.stream_id)
            writes.streams.append(expire_stream(stream, ctx.clock()))
            stream = None
        try:
            current = await self._read(table, stream, incoming.deadline)
        except PosError as exc:
            # An expiry decided above is kept even though the read failed.
            return await reject(ctx, self, incoming, pos_rejection(
                exc, SNAPSHOT_REJECTION_REASONS,
                table_unavailable=RejectionReason.TABLE_UNAVAILABLE,
            ), writes)
        stream = self._advance(stream, current, writes)
        if stream is None:
            stream = open_stream(
                location_id=ctx.location_id,
                pos_table_id=table,
                table_session_id=request.table_session_id,
                opening_message_id=command.message_id,
                snapshot=current,
                now=ctx.clock(),
            )
            log.info("stream opened", stream_id=stream.stream_id)
            writes.put_stream(stream)
        elif stream.table_session_id != request.table_session_id:
            stream = _with_session(stream, request.table_session_id)
            writes.put_stream(stream)
        result = TableOrderSnapshotResolutionResult(
            pos_table_id=table,
            table_session_id=request.table_session_id,
            outcome=SnapshotOutcome.RESOLVED,
            stream_id=stream.stream_id,
            snapshot=current.model_copy(update={"version": stream.last_sequence}),
        )
        answer(ctx, incoming, result, SnapshotOutcome.RESOLVED.value, writes)
        await ctx.store.commit(writes)
        ctx.listener.stream_opened(table)
        return SnapshotOutcome.RESOLVED.value

    async def _read(
        self, table: str, stream: StreamRecord | None, deadline: Deadline
    ) -> Snapshot:
        ctx = self.ctx
        check = await call_pos(lambda: ctx.driver.read_check(table), deadline)
        return await snapshot_of(ctx, table, check, stream.baseline if stream else None)

    def _advance(
        self, stream: StreamRecord | None, current: Snapshot, writes: WriteSet
    ) -> StreamRecord | None:
        """Push what the read reveals first; None when the stream's check has closed."""
        if stream is None:
            return None
        advance = advance_stream(stream, current, self.ctx.clock())
        if advance.changed:
            writes.put_stream(advance.stream)
            writes.outbox.extend(advance.messages)
        if advance.closed:
            log.info("stream closed", stream_id=stream.stream_id)
            return None
        return advance.stream


def _with_session(stream: StreamRecord, table_session_id: str) -> StreamRecord:
    sessions = stream.session_ids
    if table_session_id not in sessions:
        sessions = (*sessions, table_session_id)
    return replace(stream, table_session_id=table_session_id, session_ids=sessions)
