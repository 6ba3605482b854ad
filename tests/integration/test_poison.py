"""Poison messages and commands that keep crashing the handler end on the dead-letter
queue, with the reason, and the worker keeps running (contract §5)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from adapter.amqp import _consumer
from adapter.settings import QueueType, Settings
from adapter.testing import OpenAppClient, command
from handlers import Incoming, SnapshotHandler
from tests.integration.conftest import StartAdapter

pytestmark = pytest.mark.rabbitmq


class DeadLetters:
    """Collects what reaches the location's dead-letter queue (once the adapter declared it)."""

    def __init__(self, channel: AbstractChannel, queue_name: str) -> None:
        self.channel = channel
        self.queue_name = queue_name
        self.messages: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

    async def attach(self) -> None:
        queue = await self.channel.get_queue(self.queue_name, ensure=True)
        await queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        await message.ack()
        await self.messages.put(message)

    async def next(self, timeout: float = 10.0) -> AbstractIncomingMessage:
        return await asyncio.wait_for(self.messages.get(), timeout)


@pytest.fixture
async def dead_letters(amqp_url: str, settings: Settings) -> AsyncIterator[DeadLetters]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        yield DeadLetters(await connection.channel(), settings.dead_letter_queue)


def envelope(**overrides: Any) -> dict[str, Any]:
    body = command("TableOrderSnapshotRequested",
                   {"posTableId": "T1", "tableSessionId": "s-1"}, location_id="x")
    body.update(overrides)
    return body


POISON = [
    pytest.param(b"{not json", "JSON", id="not-json"),
    pytest.param(b"\xff\xfe\x00", "UTF-8", id="not-utf8"),
    pytest.param(b"[1, 2, 3]", "object", id="not-an-object"),
    pytest.param(json.dumps(envelope(messageId=None)).encode(), "messageId", id="no-message-id"),
    pytest.param(json.dumps(envelope(messageType="PizzaOrdered")).encode(), "messageType",
                 id="unknown-type"),
    pytest.param(json.dumps(envelope(messageType="TableOrderSnapshotChanged")).encode(),
                 "command", id="not-a-command"),
    pytest.param(json.dumps(envelope(schemaVersion=2)).encode(), "schemaVersion",
                 id="unsupported-schema-version"),
    pytest.param(b'{"pad": "' + b"x" * 300_000 + b'"}', "limit", id="over-size-limit"),
]


@pytest.mark.parametrize(("body", "why"), POISON)
async def test_poison_is_dead_lettered_with_its_reason(
    start_adapter: StartAdapter,
    openapp: OpenAppClient,
    dead_letters: DeadLetters,
    body: bytes,
    why: str,
) -> None:
    async with start_adapter():
        await dead_letters.attach()
        await openapp.send_raw(body, message_id="amqp-id-1")

        dead = await dead_letters.next()

        assert dead.body == body
        assert dead.message_id == "amqp-id-1"
        reason = str((dead.headers or {})["x-pos-adapter-error"])
        assert why.lower() in reason.lower(), reason
        # The worker keeps running and answers the next command.
        message_id = await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": "T1", "tableSessionId": "s-1"}
        )
        result = await openapp.result_for(message_id)
        assert result.payload["outcome"] == "RESOLVED"


@pytest.mark.parametrize("queue_type", [QueueType.QUORUM, QueueType.CLASSIC])
async def test_a_command_that_keeps_crashing_is_dead_lettered(
    start_adapter: StartAdapter,
    openapp: OpenAppClient,
    dead_letters: DeadLetters,
    monkeypatch: pytest.MonkeyPatch,
    queue_type: QueueType,
) -> None:
    attempts: list[str] = []
    original = SnapshotHandler.handle

    async def crash_on_t13(self: SnapshotHandler, incoming: Incoming) -> str:
        if incoming.command.pos_table_id == "T13":
            attempts.append(incoming.command.message_id)
            raise RuntimeError("bug triggered by T13")
        return await original(self, incoming)

    monkeypatch.setattr(SnapshotHandler, "handle", crash_on_t13)
    monkeypatch.setattr(_consumer, "CRASH_PAUSE", 0.01)
    async with start_adapter(queue_type=queue_type, max_redeliveries=2):
        await dead_letters.attach()
        message_id = await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": "T13", "tableSessionId": "s"},
            message_id=str(uuid.uuid4()),
        )

        dead = await dead_letters.next(timeout=20)

        assert json.loads(dead.body)["messageId"] == message_id
        why = str((dead.headers or {})["x-pos-adapter-error"])
        assert "the handler failed on each of 3 deliveries" in why
        assert "bug triggered by T13" in why
        assert len(attempts) == 3  # the first delivery and max_redeliveries more
        ok = await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": "T1", "tableSessionId": "s"}
        )
        assert (await openapp.result_for(ok)).payload["outcome"] == "RESOLVED"


async def test_poison_with_binary_headers_is_dead_lettered_with_its_reason(
    start_adapter: StartAdapter, amqp_url: str, settings: Settings, dead_letters: DeadLetters
) -> None:
    async with start_adapter():
        await dead_letters.attach()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            commands = await channel.get_exchange(settings.commands_exchange)
            await commands.publish(
                aio_pika.Message(b"not json", headers={"x-bin": bytearray(b"\xff\x00\xfe")}),
                routing_key=f"{settings.location_id}.raw",
            )

        dead = await dead_letters.next()

    headers = dead.headers or {}
    assert "JSON" in str(headers["x-pos-adapter-error"])
    assert bytes(headers["x-bin"]) == b"\xff\x00\xfe"  # type: ignore[arg-type]
