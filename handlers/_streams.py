"""A table's change stream: opening it, and advancing it to a new read of the POS.

Both the snapshot handler and the watcher advance streams, always under the table's
lock, so a result's version and the changes around it never contradict each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from handlers._messages import outgoing
from handlers._records import OutgoingMessage, StreamRecord, StreamStatus
from handlers._snapshots import own_lines_of, same_lines, to_line
from handlers.diff import closed_snapshot, diff_snapshots
from pos_drivers import PosLine
from schemas import (
    ChangeType,
    OrderStatus,
    Snapshot,
    TableOrderSnapshotChanged,
    compute_totals,
)


@dataclass(frozen=True, slots=True)
class Advance:
    """The stream after a read, and the change messages to publish (in order)."""

    stream: StreamRecord
    messages: list[OutgoingMessage]
    changed: bool

    @property
    def closed(self) -> bool:
        return self.stream.status is not StreamStatus.ACTIVE


def open_stream(
    *,
    location_id: str,
    pos_table_id: str,
    table_session_id: str,
    opening_message_id: str,
    snapshot: Snapshot,
    now: datetime,
) -> StreamRecord:
    return StreamRecord(
        stream_id=f"st-{uuid.uuid4()}",
        location_id=location_id,
        pos_table_id=pos_table_id,
        status=StreamStatus.ACTIVE,
        table_session_id=table_session_id,
        session_ids=(table_session_id,),
        opening_message_id=opening_message_id,
        last_sequence=0,
        baseline=snapshot.model_copy(update={"version": 0}),
        opened_at=now,
        updated_at=now,
    )


def own_line_ids(snapshot: Snapshot) -> frozenset[str]:
    return frozenset(own_lines_of(snapshot))


def _same_check(a: Snapshot, b: Snapshot) -> bool:
    return (
        a.pos_order_id == b.pos_order_id
        and a.order_status == b.order_status
        and a.lines == b.lines
        and a.discounts == b.discounts
        and a.totals == b.totals
    )


def advance_stream(stream: StreamRecord, current: Snapshot, now: datetime) -> Advance:
    """Diff ``current`` against the baseline: the changes, numbered from the next sequence.

    Lines our submissions created join the baseline silently (no message, no version).
    ``ORDER_CLOSED`` ends the stream; its snapshot is the check as last seen.
    """
    changes = diff_snapshots(stream.baseline, current, own_line_ids(current))
    sequence = stream.last_sequence
    messages: list[OutgoingMessage] = []
    closed = False
    for change in changes:
        sequence += 1
        if change.change_type is ChangeType.ORDER_CLOSED:
            closed = True
            snapshot = closed_snapshot(
                stream.baseline, version=sequence, captured_at=current.captured_at
            )
        else:
            snapshot = current.model_copy(update={"version": sequence})
        payload = TableOrderSnapshotChanged(
            pos_table_id=stream.pos_table_id,
            table_session_id=stream.table_session_id or stream.session_ids[-1],
            stream_id=stream.stream_id,
            sequence=sequence,
            change_type=change.change_type,
            lines=change.lines,
            discounts=change.discounts,
            snapshot=snapshot,
        )
        messages.append(
            outgoing(
                payload,
                location_id=stream.location_id,
                correlation_id=stream.opening_message_id,
                pos_table_id=stream.pos_table_id,
                occurred_at=now,
            )
        )
    if closed:
        updated = replace(
            stream,
            status=StreamStatus.CLOSED,
            last_sequence=sequence,
            updated_at=now,
            closed_at=now,
        )
        return Advance(updated, messages, True)
    baseline_moved = not _same_check(stream.baseline, current)
    if not messages and not baseline_moved:
        return Advance(stream, [], False)
    baseline = current.model_copy(update={"version": sequence})
    same_lines(baseline, current)
    updated = replace(stream, last_sequence=sequence, baseline=baseline, updated_at=now)
    return Advance(updated, messages, True)


def join_own_lines(
    stream: StreamRecord,
    lines: Sequence[PosLine],
    open_app_line_ids: Mapping[str, str],
    order_id: str | None,
    now: datetime,
) -> StreamRecord:
    """The stream with a submission's lines in its baseline: no message, no new version.

    Their later changes are then diffs against the lines as the POS created them, however
    soon after the submission they happen.
    """
    baseline = stream.baseline
    known = {line.pos_line_id for line in baseline.lines}
    joined = tuple(
        to_line(line, open_app_line_ids.get(line.line_id))
        for line in lines
        if line.line_id not in known
    )
    if not joined and (order_id is None or order_id == baseline.pos_order_id):
        return stream
    all_lines = (*baseline.lines, *joined)
    updated = baseline.model_copy(
        update={
            "lines": all_lines,
            "pos_order_id": order_id or baseline.pos_order_id,
            "order_status": OrderStatus.OPEN,
            "totals": compute_totals(all_lines, baseline.discounts),
        }
    )
    return replace(stream, baseline=updated, updated_at=now)


def expire_stream(stream: StreamRecord, now: datetime) -> StreamRecord:
    return replace(stream, status=StreamStatus.EXPIRED, updated_at=now, closed_at=now)


def is_expired(stream: StreamRecord, now: datetime, max_age: float) -> bool:
    return (now - stream.opened_at).total_seconds() > max_age
