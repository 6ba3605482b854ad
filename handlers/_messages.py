"""Turning payloads into outgoing messages and inbox records."""

from __future__ import annotations

from datetime import datetime

from handlers._records import InboxRecord, OutgoingMessage
from schemas import WireModel, build_message, encode_message


def outgoing(
    payload: WireModel,
    *,
    location_id: str,
    correlation_id: str | None,
    pos_table_id: str | None,
    occurred_at: datetime,
) -> OutgoingMessage:
    message = build_message(
        payload, location_id=location_id, correlation_id=correlation_id, occurred_at=occurred_at
    )
    return OutgoingMessage(
        message_id=message.message_id,
        message_type=message.message_type.value,
        location_id=location_id,
        correlation_id=correlation_id,
        occurred_at=occurred_at,
        body=encode_message(message),
        pos_table_id=pos_table_id,
    )


def inbox_entry(
    *,
    message_id: str,
    message_type: str,
    location_id: str,
    pos_table_id: str | None,
    received_at: datetime,
    outcome: str,
    result: OutgoingMessage,
) -> InboxRecord:
    return InboxRecord(
        message_id=message_id,
        location_id=location_id,
        message_type=message_type,
        pos_table_id=pos_table_id,
        received_at=received_at,
        outcome=outcome,
        result=result,
    )
