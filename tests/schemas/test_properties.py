"""Properties: whatever valid model we build, the wire carries it there and back unchanged."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    MESSAGE_MODELS,
    ChangeType,
    Line,
    LineStatus,
    MessageType,
    OrderStatus,
    OrderSubmissionRequested,
    Snapshot,
    TableOrderSnapshotChanged,
    TableOrderSnapshotRequested,
    build_message,
    compute_totals,
    encode_message,
    parse_command,
)

from .strategies import (
    identifiers,
    lines,
    snapshot_requests,
    snapshots,
    submissions,
    timestamps,
)


@settings(deadline=None)
@given(snapshots())
def test_any_snapshot_dumps_and_parses_back_equal(snapshot: Snapshot) -> None:
    assert Snapshot.model_validate_json(snapshot.model_dump_json()) == snapshot
    assert Snapshot.model_validate(snapshot.model_dump(mode="json")) == snapshot


@settings(deadline=None)
@given(st.one_of(submissions, snapshot_requests), identifiers, timestamps)
def test_any_command_survives_encode_then_parse_command(
    payload: OrderSubmissionRequested | TableOrderSnapshotRequested,
    location_id: str,
    occurred_at: datetime,
) -> None:
    message = build_message(payload, location_id=location_id, occurred_at=occurred_at)
    parsed = parse_command(encode_message(message))
    assert parsed.error is None
    assert parsed.payload == payload
    assert parsed.envelope == message
    assert parsed.location_id == location_id


@settings(deadline=None)
@given(st.lists(lines(), max_size=6))
def test_totals_follow_the_contract(check_lines: list[Line]) -> None:
    totals = compute_totals(check_lines, [])
    live = [line for line in check_lines if line.status is not LineStatus.CANCELLED]
    assert totals.subtotal == sum(line.total_price for line in live)
    assert totals.total == max(0, totals.subtotal)


@settings(deadline=None)
@given(snapshots(), st.integers(1, 10**6))
def test_any_change_message_round_trips(snapshot: Snapshot, sequence: int) -> None:
    closed = snapshot.order_status is OrderStatus.CLOSED
    change = TableOrderSnapshotChanged(
        pos_table_id=snapshot.pos_table_id,
        table_session_id="session",
        stream_id="stream",
        sequence=sequence,
        change_type=ChangeType.ORDER_CLOSED if closed else ChangeType.LINE_UPDATED,
        lines=() if closed else snapshot.lines,
        snapshot=snapshot.model_copy(update={"version": sequence}),
    )
    message = build_message(change, location_id="l", correlation_id="opening-request")
    model = MESSAGE_MODELS[MessageType.TABLE_ORDER_SNAPSHOT_CHANGED]
    assert model.model_validate_json(encode_message(message)) == message
