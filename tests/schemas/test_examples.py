"""The contract's examples parse, and serialise back to the same JSON with the same names."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from schemas import MESSAGE_MODELS, PAYLOAD_MODELS, MessageType, encode_message

from .examples import PAYLOADS, message


def _normalised(value: Any, key: str = "") -> Any:
    """Datetimes compared as instants: ``.120Z`` and ``.120000Z`` are the same time."""
    if isinstance(value, dict):
        return {k: _normalised(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if key.endswith("At") and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


@pytest.mark.parametrize("message_type", list(MessageType))
def test_example_round_trips_with_the_contract_names(message_type: MessageType) -> None:
    raw = message(message_type.value)
    parsed = MESSAGE_MODELS[message_type].model_validate(raw)
    dumped = json.loads(encode_message(parsed))
    assert _normalised(dumped) == _normalised(raw)


def test_every_message_type_has_an_example_and_a_model() -> None:
    assert set(PAYLOADS) == {t.value for t in MessageType} == {t.value for t in PAYLOAD_MODELS}


def test_snake_case_attributes_read_the_camel_case_wire() -> None:
    parsed = MESSAGE_MODELS[MessageType.ORDER_SUBMISSION_REQUESTED].model_validate(
        message("OrderSubmissionRequested")
    )
    assert parsed.location_id == "downtown-lima"
    assert parsed.payload.order_context.pos_table_id == "downtown-lima-15"
    assert parsed.payload.items[0].unit_price == 3500


def test_datetimes_serialise_with_an_offset() -> None:
    parsed = MESSAGE_MODELS[MessageType.POS_HEALTH_REPORTED].model_validate(
        message("PosHealthReported", occurredAt="2026-11-21T14:00:00-05:00")
    )
    occurred = json.loads(encode_message(parsed))["occurredAt"]
    assert occurred == "2026-11-21T14:00:00-05:00"


def test_unknown_fields_are_ignored() -> None:
    raw = message("TableOrderSnapshotRequested", futureField=1)
    raw["payload"]["alsoNew"] = {"x": 1}
    parsed = MESSAGE_MODELS[MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED].model_validate(raw)
    dumped = json.loads(encode_message(parsed))
    assert "futureField" not in dumped
    assert "alsoNew" not in dumped["payload"]
