"""A received message published again (the consumer's dead-letter copy, ``dlq replay``):
one recipe, so that both keep the same properties."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractIncomingMessage


def persistent_copy(message: AbstractIncomingMessage, headers: Mapping[str, Any]) -> Message:
    """``message``'s body and properties (messageId kept, so that an inbox recognises it)
    with ``headers``, persistent; no expiration (a copy is made to arrive) and no user_id
    (the broker checks it against the publishing connection's user)."""
    return Message(
        message.body,
        headers={name: publishable(value) for name, value in headers.items()},
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )


def publishable(value: Any) -> Any:
    """A header value as the client can send it again: a value that was not UTF-8 text
    arrives as ``bytes``, which the encoder refuses; ``bytearray`` goes out as bytes."""
    if isinstance(value, bytes):
        return bytearray(value)
    if isinstance(value, dict):
        return {key: publishable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [publishable(item) for item in value]
    return value
