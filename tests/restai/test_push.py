"""push_events: the branch WebSocket, its reconnections, and event -> PushEvent(table)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from pos_drivers import DriverConfig, PushEvent
from pos_drivers.restai import RestaiDriver, RestaiSettings
from tests.restai.conftest import MANAGER, make_driver, serve
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item


async def next_event(events: AsyncIterator[PushEvent], timeout: float = 5.0) -> PushEvent:
    async with asyncio.timeout(timeout):
        return await anext(events)


async def take(events: AsyncIterator[PushEvent], count: int) -> list[PushEvent]:
    return [await next_event(events) for _ in range(count)]


@pytest.fixture
async def events(driver: RestaiDriver) -> AsyncIterator[AsyncGenerator[PushEvent, None]]:
    stream = driver.push_events()
    assert await next_event(stream) == PushEvent(None)  # connected: resynchronise
    yield stream
    await stream.aclose()


async def test_events_announce_the_tables_the_adapter_watches(
    driver: RestaiDriver, fake: FakeRestai, events: AsyncIterator[PushEvent]
) -> None:
    qr = fake.table(3)["qr_code"]
    await driver.read_check("3")
    await driver.read_check(qr)
    await fake.staff_order_hook(5, [item(fake, "Pisco Sour")])  # table 5: nobody watches it
    await fake.staff_order_hook(3, [item(fake, "Pisco Sour")])
    # session:started, table:status and order:new of table 3, each under both names
    got = await take(events, 6)
    assert set(got) == {PushEvent("3"), PushEvent(qr)}


async def test_both_kinds_of_line_cancellation_are_announced(
    driver: RestaiDriver, fake: FakeRestai, events: AsyncIterator[PushEvent]
) -> None:
    order = await fake.staff_order_hook(4, [item(fake, "Pisco Sour"), item(fake, "Causa Limeña")])
    await driver.read_check("4")
    first, second = (i["id"] for i in fake.items.values() if i["order_id"] == order["id"])
    await fake.item_status_hook(first, "cancelled", "cliente cambió")  # order:item_status
    assert await next_event(events) == PushEvent("4")
    await fake.kitchen_cancel_hook(second, "se acabó")  # order:item_cancelled
    assert await next_event(events) == PushEvent("4")


async def test_an_order_never_seen_is_looked_up_and_foreign_ones_ignored(
    driver: RestaiDriver, fake: FakeRestai, events: AsyncIterator[PushEvent]
) -> None:
    await driver.read_check("6")
    await fake.broadcast(fake._event("order:updated", {"orderId": str(uuid.uuid4())}))
    order = await fake.staff_order_hook(7, [item(fake, "Pisco Sour")])
    session = fake.sessions[order["table_session_id"]]
    session["table_id"] = fake.table(6)["id"]  # moved without an event
    await fake.broadcast(fake._event("order:updated", {"orderId": order["id"], "status": "ready"}))
    assert await next_event(events) == PushEvent("6")
    assert fake.count("GET", f"/api/orders/{order['id']}") == 1


async def test_reconnects_at_once_after_close_4001(
    driver: RestaiDriver, fake: FakeRestai, events: AsyncIterator[PushEvent]
) -> None:
    await fake.expire_sockets()  # auth:expired, then close 4001
    assert await next_event(events) == PushEvent(None)
    assert driver.stream.expired_closes == 1
    assert fake.ws_accepted == 2
    await driver.read_check("8")
    await fake.staff_order_hook(8, [item(fake, "Pisco Sour")])
    assert await next_event(events) == PushEvent("8")


async def test_reconnects_before_the_token_expires() -> None:
    fake = FakeRestai(access_ttl=2)
    async with serve(fake), make_driver(fake) as driver:
        stream = driver.push_events()
        assert await next_event(stream) == PushEvent(None)
        assert await next_event(stream) == PushEvent(None)  # renewed at ~80 % of 2 s
        assert driver.stream.expired_closes == 0
        assert fake.refreshes >= 1
        assert fake.ws_accepted == 2
        await stream.aclose()


async def test_a_refused_upgrade_renews_the_token(driver: RestaiDriver, fake: FakeRestai) -> None:
    await driver.read_check("1")
    fake.revoke_access_tokens()
    stream = driver.push_events()
    assert await next_event(stream) == PushEvent(None)
    assert fake.ws_refused == 1
    assert fake.refreshes == 1
    await stream.aclose()


async def test_closing_the_iterator_closes_the_socket(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    stream = driver.push_events()
    assert await next_event(stream) == PushEvent(None)
    assert len(fake.clients) == 1
    await stream.aclose()
    await fake.wait_for(lambda: not fake.clients)


async def test_an_unreachable_restai_is_retried_quietly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = DriverConfig(pos_url=f"http://127.0.0.1:{port}", request_timeout=0.5)
    async with RestaiDriver(config, RestaiSettings(**MANAGER)) as driver:
        stream = driver.push_events()
        task = asyncio.ensure_future(anext(stream))
        done, _ = await asyncio.wait({task}, timeout=0.5)
        assert not done  # still retrying with back-off, no exception
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await stream.aclose()


async def test_moves_announce_both_tables_and_noise_is_ignored(
    driver: RestaiDriver, fake: FakeRestai, events: AsyncIterator[PushEvent]
) -> None:
    await driver.read_check("1")
    await driver.read_check("2")
    await fake.broadcast(
        fake._event("table:call_waiter", {"tableId": fake.table(1)["id"], "tableNumber": 1}),
        fake._event("menu:availability", {"menuItemId": "x", "isAvailable": False}),
        fake._event(
            "session:moved",
            {
                "sessionId": "s",
                "fromTableId": fake.table(1)["id"],
                "toTableId": fake.table(2)["id"],
                "toTableNumber": 2,
            },
        ),
    )
    assert set(await take(events, 2)) == {PushEvent("1"), PushEvent("2")}
