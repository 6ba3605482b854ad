"""Records to table rows and back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Row

from adapter.tracing import TraceContext
from handlers import (
    CreatedLine,
    InboxRecord,
    JournalEntry,
    OutgoingMessage,
    StreamRecord,
    StreamStatus,
    SubmissionRecord,
    SubmissionState,
)
from schemas import Snapshot, as_utc, snapshot_json, utc_now


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox row as committed: its id orders publication; ``trace`` is the context of
    the command that caused it (published as its ``traceparent`` / ``tracestate``)."""

    id: int
    message: OutgoingMessage
    trace: TraceContext | None = None


def inbox_values(record: InboxRecord) -> dict[str, Any]:
    result = record.result
    return {
        "message_id": record.message_id,
        "location_id": record.location_id,
        "message_type": record.message_type,
        "pos_table_id": record.pos_table_id,
        "received_at": record.received_at,
        "outcome": record.outcome,
        "result_message_id": result.message_id if result else None,
        "result_type": result.message_type if result else None,
        "result_body": result.body if result else None,
        "redeliveries": 0,
    }


def stream_values(stream: StreamRecord) -> dict[str, Any]:
    return {
        "stream_id": stream.stream_id,
        "location_id": stream.location_id,
        "pos_table_id": stream.pos_table_id,
        "status": stream.status.value,
        "table_session_id": stream.table_session_id,
        "session_ids": json.dumps(list(stream.session_ids)),
        "opening_message_id": stream.opening_message_id,
        "last_sequence": stream.last_sequence,
        "baseline": snapshot_json(stream.baseline),
        "opened_at": stream.opened_at,
        "updated_at": stream.updated_at,
        "closed_at": stream.closed_at,
    }


def submission_values(record: SubmissionRecord) -> dict[str, Any]:
    return {
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
        "request_digest": record.request_digest,
    }


def outbox_values(
    message: OutgoingMessage, created: datetime, trace: TraceContext | None
) -> dict[str, Any]:
    return {
        "location_id": message.location_id,
        "message_id": message.message_id,
        "message_type": message.message_type,
        "correlation_id": message.correlation_id,
        "pos_table_id": message.pos_table_id,
        "occurred_at": message.occurred_at,
        "body": message.body,
        "created_at": created,
        "traceparent": trace.traceparent if trace else None,
        "tracestate": trace.tracestate if trace else None,
    }


def journal_values(entry: JournalEntry) -> dict[str, Any]:
    return {
        "direction": "in",
        "location_id": entry.location_id,
        "message_id": entry.message_id,
        "message_type": entry.message_type,
        "pos_table_id": entry.pos_table_id,
        "correlation_id": entry.correlation_id,
        "received_at": entry.received_at,
        "outcome": entry.outcome,
        "body": entry.body,
        "properties": properties_json(entry.properties),
        "result_message_id": entry.result_message_id,
    }


def properties_json(properties: Any) -> str | None:
    """AMQP properties as JSON text: headers may hold bytes, decimals and datetimes."""
    if properties is None:
        return None
    return json.dumps(dict(properties), default=_jsonable, separators=(",", ":"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return list(value)
    return repr(value)


def outbox_row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(
        row.id,
        OutgoingMessage(
            message_id=row.message_id,
            message_type=row.message_type,
            location_id=row.location_id,
            correlation_id=row.correlation_id,
            occurred_at=as_utc(row.occurred_at) or utc_now(),
            body=row.body,
            pos_table_id=row.pos_table_id,
        ),
        TraceContext(row.traceparent, row.tracestate) if row.traceparent else None,
    )


def inbox_record(row: Row[Any]) -> InboxRecord:
    result = None
    if row.result_body is not None:
        result = OutgoingMessage.from_body(row.result_body, location_id=row.location_id)
    return InboxRecord(
        message_id=row.message_id,
        location_id=row.location_id,
        message_type=row.message_type,
        pos_table_id=row.pos_table_id,
        received_at=as_utc(row.received_at) or utc_now(),
        outcome=row.outcome,
        result=result,
    )


def stream_record(row: Row[Any]) -> StreamRecord:
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
        opened_at=as_utc(row.opened_at) or utc_now(),
        updated_at=as_utc(row.updated_at) or utc_now(),
        closed_at=as_utc(row.closed_at),
    )


def submission_record(row: Row[Any]) -> SubmissionRecord:
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
        created_at=as_utc(row.created_at) or utc_now(),
        updated_at=as_utc(row.updated_at) or utc_now(),
        request_digest=row.request_digest,
    )
