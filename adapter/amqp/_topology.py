"""The exchanges and queues of contract §1, declared idempotently on every start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
import structlog
from aio_pika import ExchangeType
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustChannel,
)

from adapter.settings import QueueType, Settings

log = structlog.get_logger("pos_adapter.topology")


@dataclass(frozen=True, slots=True)
class Topology:
    commands: AbstractExchange
    events: AbstractExchange
    dead_letter: AbstractExchange
    command_queue: AbstractQueue
    dead_letter_queue: AbstractQueue


def command_queue_arguments(settings: Settings) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": settings.dead_letter_exchange,
        "x-dead-letter-routing-key": settings.location_id,
        "x-single-active-consumer": True,
    }
    if settings.queue_type is QueueType.QUORUM:
        arguments["x-queue-type"] = "quorum"
        arguments["x-delivery-limit"] = settings.max_redeliveries
    return arguments


async def declare_topology(channel: AbstractChannel, settings: Settings) -> Topology:
    location = settings.location_id
    commands = await channel.declare_exchange(
        settings.commands_exchange, ExchangeType.TOPIC, durable=True
    )
    events = await channel.declare_exchange(
        settings.events_exchange, ExchangeType.TOPIC, durable=True
    )
    dead_letter = await channel.declare_exchange(
        settings.dead_letter_exchange, ExchangeType.DIRECT, durable=True
    )
    dead_letter_queue = await _declare_keeping_type(
        channel, settings.dead_letter_queue, settings.dead_letter_queue_type
    )
    await dead_letter_queue.bind(dead_letter, routing_key=location, **_once(channel))
    command_queue = await channel.declare_queue(
        settings.command_queue, durable=True, arguments=command_queue_arguments(settings)
    )
    await command_queue.bind(commands, routing_key=f"{location}.#")
    if settings.inbox_queue:
        inbox = await channel.declare_queue(
            settings.openapp_inbox_queue,
            durable=True,
            arguments={"x-message-ttl": int(settings.inbox_ttl * 1000)},
            **_once(channel),
        )
        await inbox.bind(events, routing_key=f"{location}.#", **_once(channel))
    return Topology(commands, events, dead_letter, command_queue, dead_letter_queue)


async def _declare_keeping_type(
    channel: AbstractChannel, name: str, queue_type: QueueType
) -> AbstractQueue:
    """A durable queue of ``queue_type``; one that exists with another type is kept as it
    is (the broker refuses to change a queue's type, and its messages matter more)."""
    try:
        return await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": queue_type.value}, **_once(channel)
        )
    except aio_pika.exceptions.ChannelPreconditionFailed:
        log.warning("the queue exists with another type: kept as it is", queue=name,
                    wanted=queue_type.value)
        await channel.reopen()
        return await channel.declare_queue(name, passive=True, **_once(channel))


def _once(channel: AbstractChannel) -> dict[str, Any]:
    """Declared now, not again at each reconnection: a classic queue lives on one node of
    a cluster, and declaring it again while that node is down would fail the whole
    reconnection (the command queue, a quorum queue, is restored with its consumer)."""
    return {"robust": False} if isinstance(channel, AbstractRobustChannel) else {}
