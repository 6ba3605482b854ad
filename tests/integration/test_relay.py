"""The outbox relay against the real broker: order with confirms in flight, and rows
kept owed while the broker cannot route them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest
from aio_pika import ExchangeType
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from adapter.amqp import OutboxRelay, _relay
from adapter.store import SqlStore
from handlers import OutgoingMessage, WriteSet

pytestmark = pytest.mark.rabbitmq


def outgoing(location: str, n: int) -> OutgoingMessage:
    message_id = f"m-{n}"
    body = json.dumps({"messageId": message_id, "messageType": "TableOrderSnapshotChanged",
                       "occurredAt": "2026-11-21T19:00:00+00:00", "payload": {"n": n}})
    return OutgoingMessage(
        message_id=message_id, message_type="TableOrderSnapshotChanged", location_id=location,
        correlation_id="c", occurred_at=datetime.now(UTC), body=body.encode(),
    )


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        yield connection


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    await opened.start()
    yield opened
    await opened.close()


@pytest.fixture
def exchange_name() -> str:
    return f"test.relay.{uuid.uuid4().hex[:8]}"


async def run_relay(
    store: SqlStore, connection: AbstractRobustConnection, exchange: str
) -> tuple[OutboxRelay, asyncio.Task[None]]:
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    relay = OutboxRelay(store, channel, exchange, window=64)  # type: ignore[arg-type]
    return relay, asyncio.create_task(relay.run())


async def collect(
    connection: AbstractRobustConnection, exchange: str, location: str
) -> asyncio.Queue[int]:
    channel = await connection.channel()
    declared = await channel.declare_exchange(exchange, ExchangeType.TOPIC, auto_delete=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(declared, routing_key=f"{location}.#")
    numbers: asyncio.Queue[int] = asyncio.Queue()

    async def on_message(message: AbstractIncomingMessage) -> None:
        await message.ack()
        await numbers.put(json.loads(message.body)["payload"]["n"])

    await queue.consume(on_message)
    return numbers


async def test_many_rows_in_flight_arrive_in_order(
    store: SqlStore, connection: AbstractRobustConnection, exchange_name: str
) -> None:
    numbers = await collect(connection, exchange_name, "loc")
    relay, task = await run_relay(store, connection, exchange_name)

    await asyncio.gather(*(store.commit(WriteSet(outbox=[outgoing("loc", n)]))
                           for n in range(500)))
    received = [await asyncio.wait_for(numbers.get(), 10) for _ in range(500)]
    flushed = await relay.flush(10)
    task.cancel()

    assert received == list(range(500))
    assert flushed
    assert relay.published == 500
    await store.commit(WriteSet())
    assert await store.outbox_backlog() == 0


async def test_unroutable_rows_stay_owed_and_go_out_in_order_once_routable(
    store: SqlStore, connection: AbstractRobustConnection, exchange_name: str
) -> None:
    channel = await connection.channel()
    await channel.declare_exchange(exchange_name, ExchangeType.TOPIC, auto_delete=True)
    relay, task = await run_relay(store, connection, exchange_name)
    for n in range(5):
        await store.commit(WriteSet(outbox=[outgoing("loc", n)]))

    assert not await relay.flush(0.5)
    await store.commit(WriteSet())
    assert await store.outbox_backlog() == 5

    numbers = await collect(connection, exchange_name, "loc")
    await store.commit(WriteSet(outbox=[outgoing("loc", 5)]))
    assert await relay.flush(15)
    # A last row, once nothing is refused any more: everything routed before it is
    # delivered before it (one queue, one channel).
    await store.commit(WriteSet(outbox=[outgoing("loc", 6)]))
    received = [await asyncio.wait_for(numbers.get(), 15)]
    while received[-1] != 6:
        received.append(await asyncio.wait_for(numbers.get(), 15))
    assert await relay.flush(10)
    task.cancel()

    # The route may appear while a wave is in flight: rows after a returned one can then
    # arrive before it, and go again after it. The last delivery of each is in order.
    last_seen = sorted(set(received), key=lambda n: max(i for i, m in enumerate(received)
                                                         if m == n))
    assert last_seen == list(range(7))
    await store.commit(WriteSet())
    assert await store.outbox_backlog() == 0


async def test_a_backlog_is_paged_in_from_the_store_in_order(
    store: SqlStore,
    connection: AbstractRobustConnection,
    exchange_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_relay, "PAGE", 40)
    for first in range(0, 300, 100):  # owed before the relay starts (a broker outage)
        await store.commit(WriteSet(outbox=[outgoing("loc", n) for n in range(first, first + 100)]))
    numbers = await collect(connection, exchange_name, "loc")
    relay, task = await run_relay(store, connection, exchange_name)
    held: list[int] = []

    received = []
    for _ in range(300):
        received.append(await asyncio.wait_for(numbers.get(), 10))
        held.append(relay.in_memory)
    await asyncio.gather(*(store.commit(WriteSet(outbox=[outgoing("loc", n)]))
                           for n in range(300, 400)))  # live traffic once it is caught up
    for _ in range(100):
        received.append(await asyncio.wait_for(numbers.get(), 10))
    assert await relay.flush(10)
    task.cancel()

    assert received == list(range(400))
    assert max(held) <= 40 + 40 // 2  # the backlog: a page and a half at most in memory


async def test_an_unroutable_location_does_not_hold_the_others_up(
    store: SqlStore, connection: AbstractRobustConnection, exchange_name: str
) -> None:
    numbers = await collect(connection, exchange_name, "open")  # only "open" is bound
    relay, task = await run_relay(store, connection, exchange_name)
    for n in range(5):
        await store.commit(WriteSet(outbox=[outgoing("closed", 100 + n)]))
        await store.commit(WriteSet(outbox=[outgoing("open", n)]))

    received = [await asyncio.wait_for(numbers.get(), 10) for _ in range(5)]
    parked = await collect(connection, exchange_name, "closed")  # someone binds it now
    late = []
    while len(late) < 5:
        n = await asyncio.wait_for(parked.get(), 15)
        if n not in late:
            late.append(n)
    assert await relay.flush(10)
    task.cancel()

    assert received == list(range(5))
    assert late == [100, 101, 102, 103, 104]
