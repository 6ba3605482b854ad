"""Building and encoding outgoing messages, and the type registry."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas import (
    COMMAND_TYPES,
    MESSAGE_MODELS,
    PAYLOAD_MODELS,
    RESULT_TYPES,
    SCHEMA_VERSION,
    MessageType,
    PosHealthReported,
    Rejection,
    RejectionReason,
    SnapshotOutcome,
    TableOrderSnapshotResolutionResult,
    build_message,
    encode_message,
    message_type_of,
)

from .examples import PAYLOADS


def _health() -> PosHealthReported:
    return PosHealthReported(
        healthy=True,
        software_name="pos-adapter",
        software_version="0.1.0",
        driver="mock",
        pos_reachable=True,
        active_streams=0,
    )


def test_build_message_fills_a_fresh_envelope() -> None:
    before = datetime.now(UTC)
    message = build_message(_health(), location_id="downtown-lima")
    assert message.message_type is MessageType.POS_HEALTH_REPORTED
    assert message.schema_version == SCHEMA_VERSION == 1
    assert uuid.UUID(message.message_id).version == 4
    assert before <= message.occurred_at <= datetime.now(UTC)
    assert message.correlation_id is None
    assert message.payload.active_streams == 0


def test_build_message_keeps_what_it_is_given() -> None:
    at = datetime(2026, 11, 21, 19, 0, tzinfo=timezone(timedelta(hours=-5)))
    result = TableOrderSnapshotResolutionResult(
        outcome=SnapshotOutcome.REJECTED,
        rejection=Rejection.of(RejectionReason.EXPIRED, "expired before it was read"),
    )
    message = build_message(
        result, location_id="l", correlation_id="req-1", message_id="res-1", occurred_at=at
    )
    assert (message.message_id, message.correlation_id, message.occurred_at) == (
        "res-1",
        "req-1",
        at,
    )
    assert message.message_type is MessageType.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT


def test_two_messages_get_two_ids() -> None:
    assert (
        build_message(_health(), location_id="l").message_id
        != build_message(_health(), location_id="l").message_id
    )


def test_encode_is_compact_utf8_json_with_wire_names() -> None:
    at = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    data = encode_message(build_message(_health(), location_id="l", message_id="m", occurred_at=at))
    assert isinstance(data, bytes)
    assert b" " not in data.replace(b"pos-adapter", b"")
    assert json.loads(data) == {
        "messageId": "m",
        "messageType": "PosHealthReported",
        "schemaVersion": 1,
        "locationId": "l",
        "occurredAt": "2026-11-21T19:00:00Z",
        "correlationId": None,
        "expiresAt": None,
        "payload": {
            "healthy": True,
            "softwareName": "pos-adapter",
            "softwareVersion": "0.1.0",
            "driver": "mock",
            "posReachable": True,
            "activeStreams": 0,
        },
    }


def test_encoded_message_parses_back_equal() -> None:
    message = build_message(_health(), location_id="l", correlation_id="c")
    again = MESSAGE_MODELS[MessageType.POS_HEALTH_REPORTED].model_validate_json(
        encode_message(message)
    )
    assert again == message


def test_registry_covers_every_type_and_maps_commands_to_results() -> None:
    assert list(PAYLOAD_MODELS) == list(MessageType)
    assert set(MESSAGE_MODELS) == set(MessageType)
    assert {
        MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED,
        MessageType.ORDER_SUBMISSION_REQUESTED,
    } == COMMAND_TYPES
    assert RESULT_TYPES == {
        MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED: (
            MessageType.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT
        ),
        MessageType.ORDER_SUBMISSION_REQUESTED: MessageType.ORDER_SUBMISSION_RESULT,
    }


@pytest.mark.parametrize("message_type", list(MessageType))
def test_message_type_of_inverts_the_registry(message_type: MessageType) -> None:
    model = PAYLOAD_MODELS[message_type]
    assert MESSAGE_MODELS[message_type].model_fields["payload"].annotation is model
    assert message_type_of(model.model_validate(PAYLOADS[message_type.value])) is message_type


def test_message_type_of_refuses_a_model_that_is_no_payload() -> None:
    with pytest.raises(KeyError):
        message_type_of(Rejection.of(RejectionReason.EXPIRED, "late"))
