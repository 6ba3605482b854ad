"""Test helpers shipped with the package: play OpenApp's side of the contract on a broker.

    async with OpenAppClient(amqp_url, "downtown") as openapp:
        message_id = await openapp.send("TableOrderSnapshotRequested", {...})
        result = await openapp.result_for(message_id)

The client binds its own exclusive queue to the events exchange before anything is
sent, and keeps every message it receives (``received``) with its AMQP properties.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import aio_pika
from aio_pika import ExchangeType
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Received:
    """A message the adapter published, as OpenApp sees it."""

    body: dict[str, Any]
    properties: dict[str, Any]
    routing_key: str

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.body["payload"]
        return payload

    @property
    def message_type(self) -> str:
        return str(self.body["messageType"])


def command(
    message_type: str,
    payload: dict[str, Any],
    *,
    location_id: str,
    message_id: str | None = None,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """A command envelope as OpenApp would send it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "messageType": message_type,
        "schemaVersion": 1,
        "locationId": location_id,
        "occurredAt": datetime.now(UTC).isoformat(),
        "correlationId": None,
        "expiresAt": expires_at.isoformat() if expires_at else None,
        "payload": payload,
    }


class OpenAppClient:
    def __init__(
        self,
        amqp_url: str,
        location_id: str,
        *,
        commands_exchange: str = "openapp.commands",
        events_exchange: str = "openapp.events",
    ) -> None:
        self.amqp_url = amqp_url
        self.location_id = location_id
        self.commands_exchange = commands_exchange
        self.events_exchange = events_exchange
        self.received: list[Received] = []
        self._arrived = asyncio.Condition()
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._commands: AbstractExchange | None = None

    async def __aenter__(self) -> Self:
        self._connection = await aio_pika.connect_robust(self.amqp_url)
        self._channel = await self._connection.channel()
        self._commands = await self._channel.declare_exchange(
            self.commands_exchange, ExchangeType.TOPIC, durable=True
        )
        events = await self._channel.declare_exchange(
            self.events_exchange, ExchangeType.TOPIC, durable=True
        )
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(events, routing_key=f"{self.location_id}.#")
        await queue.consume(self._on_message)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            await self._connection.close()

    @property
    def channel(self) -> AbstractChannel:
        assert self._channel is not None, "use OpenAppClient as an async context manager"
        return self._channel

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            properties = {
                "message_id": message.message_id,
                "correlation_id": message.correlation_id,
                "type": message.type,
                "app_id": message.app_id,
                "content_type": message.content_type,
                "delivery_mode": int(message.delivery_mode or 0),
                "headers": dict(message.headers or {}),
                "timestamp": message.timestamp,
            }
            received = Received(json.loads(message.body), properties, message.routing_key or "")
            async with self._arrived:
                self.received.append(received)
                self._arrived.notify_all()

    async def send(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        message_id: str | None = None,
        location_id: str | None = None,
        expires_at: datetime | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish a command (``headers``: AMQP headers, a ``traceparent`` say); its
        messageId."""
        body = command(
            message_type,
            payload,
            location_id=location_id or self.location_id,
            message_id=message_id,
            expires_at=expires_at,
        )
        await self.send_raw(json.dumps(body).encode(), message_type=message_type,
                            message_id=body["messageId"], headers=headers)
        return str(body["messageId"])

    async def send_raw(
        self, body: bytes, *, message_type: str = "raw", message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Publish any bytes on the command exchange (for poison tests)."""
        assert self._commands is not None
        await self._commands.publish(
            aio_pika.Message(body, content_type="application/json", message_id=message_id,
                             type=message_type, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             headers=dict(headers) if headers else None),
            routing_key=f"{self.location_id}.{message_type}",
        )

    async def wait_for(
        self, predicate: Callable[[Received], bool], *, timeout: float = DEFAULT_TIMEOUT
    ) -> Received:
        """The first received message (already here or still to come) matching ``predicate``."""
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                for message in self.received:
                    if predicate(message):
                        return message
                await self._arrived.wait()

    async def wait_count(
        self, predicate: Callable[[Received], bool], count: int, *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> list[Received]:
        """Wait until ``count`` received messages match; all of them, in arrival order."""
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                matching = [m for m in self.received if predicate(m)]
                if len(matching) >= count:
                    return matching
                await self._arrived.wait()

    async def result_for(self, message_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> Received:
        """The result that answers the command ``message_id``."""
        return await self.wait_for(
            lambda m: m.body.get("correlationId") == message_id
            and m.message_type.endswith("Result"),
            timeout=timeout,
        )

    def changes(self, stream_id: str) -> list[Received]:
        """The TableOrderSnapshotChanged messages of a stream received so far."""
        return [
            m for m in self.received
            if m.message_type == "TableOrderSnapshotChanged"
            and m.payload.get("streamId") == stream_id
        ]

    async def wait_changes(
        self, stream_id: str, count: int, *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[Received]:
        """Wait for ``count`` distinct changes of the stream (by messageId); in arrival order."""
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                unique = _unique(self.changes(stream_id))
                if len(unique) >= count:
                    return unique
                await self._arrived.wait()


def _unique(messages: list[Received]) -> list[Received]:
    seen: set[str] = set()
    unique = []
    for message in messages:
        if message.body["messageId"] not in seen:
            seen.add(message.body["messageId"])
            unique.append(message)
    return unique
