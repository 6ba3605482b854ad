"""parse_command: poison is dead-lettered, everything else can be answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import (
    MessageType,
    OrderSubmissionRequested,
    ParsedCommand,
    PoisonMessage,
    SnapshotReason,
    TableOrderSnapshotRequested,
    parse_command,
)

from .examples import body, message


def _parse(raw: dict[str, Any]) -> ParsedCommand:
    return parse_command(body(raw))


def _poison_reason(data: bytes, **kwargs: Any) -> str:
    with pytest.raises(PoisonMessage) as caught:
        parse_command(data, **kwargs)
    return caught.value.reason


# -- poison ------------------------------------------------------------------------------


def _with(**changes: Any) -> bytes:
    raw = message("TableOrderSnapshotRequested")
    for key, value in changes.items():
        if value is ...:
            del raw[key]
        else:
            raw[key] = value
    return body(raw)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"messageId": ', "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (_with(messageId=...), "messageId"),
        (_with(messageId=42), "messageId"),
        (_with(messageId=""), "messageId"),
        (_with(messageId="x" * 129), "messageId"),
        (_with(messageType=...), "messageType is missing"),
        (_with(messageType="TableOrderSnapshotDeleted"), "unknown messageType"),
        (_with(messageType=["x"]), "unknown messageType"),
        (_with(messageType="OrderSubmissionResult"), "not a command"),
        (_with(messageType="PosHealthReported"), "not a command"),
        (_with(schemaVersion=...), "schemaVersion"),
        (_with(schemaVersion=2), "schemaVersion"),
        (_with(schemaVersion="1"), "schemaVersion"),
        (_with(schemaVersion=True), "schemaVersion"),
        (_with(schemaVersion=1.0), "schemaVersion"),
    ],
)
def test_poison_says_why(data: bytes, reason: str) -> None:
    assert reason in _poison_reason(data)


def test_poison_over_the_size_limit() -> None:
    data = _with()
    assert "over the limit" in _poison_reason(data, max_bytes=len(data) - 1)
    assert parse_command(data, max_bytes=len(data)).error is None


def test_deeply_nested_json_is_poison_not_a_crash() -> None:
    assert "not JSON" in _poison_reason(b"[" * 100_000 + b"]" * 100_000)


# -- valid -------------------------------------------------------------------------------


def test_valid_snapshot_request() -> None:
    parsed = _parse(message("TableOrderSnapshotRequested"))
    assert parsed.error is None
    assert parsed.message_type is MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED
    assert isinstance(parsed.payload, TableOrderSnapshotRequested)
    assert parsed.payload.reason is SnapshotReason.SESSION_START
    assert parsed.envelope is not None
    assert parsed.envelope.location_id == "downtown-lima"
    assert (parsed.location_id, parsed.pos_table_id) == ("downtown-lima", "downtown-lima-15")


def test_snapshot_reason_defaults_to_refresh() -> None:
    raw = message("TableOrderSnapshotRequested")
    del raw["payload"]["reason"]
    parsed = _parse(raw)
    assert isinstance(parsed.payload, TableOrderSnapshotRequested)
    assert parsed.payload.reason is SnapshotReason.REFRESH


def test_valid_submission_with_hints() -> None:
    parsed = _parse(message("OrderSubmissionRequested", correlationId="c-1"))
    assert parsed.error is None
    assert isinstance(parsed.payload, OrderSubmissionRequested)
    assert parsed.correlation_id == "c-1"
    assert parsed.submission_id == "sub-2f6a"
    assert parsed.pos_table_id == "downtown-lima-15"
    assert parsed.table_session_id == "660e8400-e29b-41d4-a716-446655440000"
    assert parsed.order_context == message("OrderSubmissionRequested")["payload"]["orderContext"]


@pytest.mark.parametrize(("written", "offset"), [
    ("2026-11-21T19:00:30+01:00", timedelta(hours=1)),
    ("2026-11-21T19:00:30-05:00", timedelta(hours=-5)),
    ("2026-11-21T19:00:30+05:45", timedelta(hours=5, minutes=45)),
    ("2026-11-21T19:00:30Z", timedelta(0)),
])
def test_expires_at_is_parsed_with_its_offset(written: str, offset: timedelta) -> None:
    parsed = _parse(message("TableOrderSnapshotRequested", expiresAt=written))
    assert parsed.envelope is not None
    expires_at = parsed.envelope.expires_at
    assert expires_at is not None
    assert expires_at.utcoffset() == offset
    assert expires_at == datetime(2026, 11, 21, 19, 0, 30, tzinfo=UTC) - offset  # the instant


# -- invalid: answered INVALID_REQUEST ---------------------------------------------------


def test_envelope_problems_are_not_poison() -> None:
    raw = message("TableOrderSnapshotRequested", occurredAt="2026-11-21T19:00:00")
    del raw["locationId"]
    parsed = _parse(raw)
    assert parsed.envelope is None
    assert parsed.payload is None
    assert parsed.error == (
        "locationId: required; occurredAt: must be an RFC 3339 date-time with an offset, "
        "like 2026-11-21T19:00:00Z"
    )


@pytest.mark.parametrize("payload", [[], "x", None, 3])
def test_payload_not_an_object(payload: Any) -> None:
    parsed = _parse(message("TableOrderSnapshotRequested", payload=payload))
    assert parsed.error == "payload: must be an object"
    assert parsed.envelope is not None


def test_missing_payload() -> None:
    raw = message("OrderSubmissionRequested")
    del raw["payload"]
    assert _parse(raw).error == "payload: required"


def test_payload_errors_keep_the_envelope_and_the_hints() -> None:
    raw = message("TableOrderSnapshotRequested")
    raw["payload"] = {"posTableId": "t-1", "tableSessionId": "", "reason": "LATER"}
    parsed = _parse(raw)
    assert parsed.payload is None
    assert parsed.envelope is not None
    assert parsed.error == (
        "payload.tableSessionId: must not be empty; "
        "payload.reason: must be one of 'SESSION_START', 'REFRESH' or 'PRE_PAYMENT'"
    )
    assert (parsed.pos_table_id, parsed.table_session_id) == ("t-1", None)


def test_every_field_in_error_is_named_at_once() -> None:
    raw = message("OrderSubmissionRequested", locationId="", expiresAt=1700000000)
    payload = raw["payload"]
    del payload["orderContext"]["posTableId"]
    payload["items"] = [
        {"lineId": "a", "productId": "p", "quantity": 2, "unitPrice": 100},
        {"lineId": "b", "productId": "p", "quantity": 100, "unitPrice": "100"},
        {"lineId": "a", "productId": "p", "quantity": 1, "unitPrice": 1.5, "notes": "n" * 501},
    ]
    payload["payment"] = {"paymentId": "pay", "amount": 10, "currency": "pen", "method": "CARD"}
    parsed = _parse(raw)
    assert parsed.envelope is None
    assert parsed.error is not None
    assert parsed.error.split("; ") == [
        "locationId: must not be empty",
        "expiresAt: must be an RFC 3339 date-time with an offset, like 2026-11-21T19:00:00Z",
        "payload.orderContext.posTableId: required for a TABLE order context",
        "payload.items[1].quantity: must be at most 99",
        "payload.items[1].unitPrice: must be an integer",
        "payload.items[2].lineId: repeats items[0].lineId",
        "payload.items[2].unitPrice: must be an integer",
        "payload.items[2].notes: must be at most 500 characters",
        "payload.payment.currency: must match ^[A-Z]{3}$",
        "payload.payment.paidAt: required",
    ]
    # what can still be echoed in the rejection
    assert parsed.submission_id == "sub-2f6a"
    assert parsed.pos_table_id is None
    assert parsed.table_session_id == "660e8400-e29b-41d4-a716-446655440000"
    assert parsed.location_id is None


def test_hints_skip_values_that_cannot_be_echoed() -> None:
    raw = message("OrderSubmissionRequested")
    raw["payload"]["submissionId"] = 7
    raw["payload"]["orderContext"] = {"type": "TABLE", "posTableId": "t" * 129}
    parsed = _parse(raw)
    assert parsed.error is not None
    assert (parsed.submission_id, parsed.pos_table_id, parsed.table_session_id) == (
        None,
        None,
        None,
    )
    assert parsed.order_context == {"type": "TABLE", "posTableId": "t" * 129}


def test_hints_when_the_payload_is_not_an_object() -> None:
    parsed = _parse(message("OrderSubmissionRequested", payload="oops"))
    assert (parsed.submission_id, parsed.order_context, parsed.pos_table_id) == (None, None, None)
    assert parsed.location_id == "downtown-lima"


def test_body_is_parsed_once_as_utf8_json() -> None:
    raw = message("OrderSubmissionRequested")
    raw["payload"]["items"][0]["notes"] = "sin cebolla, ají aparte 🌶"
    parsed = parse_command(json.dumps(raw, ensure_ascii=False).encode("utf-8"))
    assert isinstance(parsed.payload, OrderSubmissionRequested)
    assert parsed.payload.items[0].notes == "sin cebolla, ají aparte 🌶"
