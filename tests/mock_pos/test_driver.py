"""MockDriver against a real mock POS: the models it reads and the errors it maps."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from pos_drivers import (
    AddedLines,
    Capability,
    ChangedTables,
    CursorExpired,
    DriverConfig,
    DuplicateReference,
    ItemReason,
    ItemsRejected,
    LineStatus,
    NewLine,
    OrderClosed,
    PosBusinessError,
    PosCheck,
    PosDiscount,
    PosLine,
    PosProduct,
    PosUnavailable,
    PushEvent,
    TableNotFound,
    load_driver,
)
from pos_drivers.mock import MockDriver, MockPosControl, MockPosServer, MockSettings

QUICK_PUSH = MockSettings(push_backoff_initial=0.02, push_backoff_max=0.1)


def _line(product_id: str, quantity: int, price: int, ref: str | None = None) -> NewLine:
    return NewLine(product_id, quantity, price, external_ref=ref)


def _driver(url: str, timeout: float = 2.0, **settings: Any) -> MockDriver:
    return MockDriver(DriverConfig(pos_url=url, request_timeout=timeout),
                      MockSettings(**settings))


def test_registered_as_mock() -> None:
    assert load_driver("mock") is MockDriver
    assert MockDriver.capabilities == {
        Capability.ADD_LINES,
        Capability.PUSH_CHANGES,
        Capability.COMPLETE_PUSH,
        Capability.BATCH_CHANGES,
        Capability.EXTERNAL_REFS,
    }


async def test_read_check_of_a_free_table(driver: MockDriver) -> None:
    assert await driver.read_check("T3") == PosCheck("T3", "Mesa 3", None, "PEN")


async def test_read_check_with_lines_and_discounts(
    driver: MockDriver, control: MockPosControl
) -> None:
    order = await control.add_waiter_lines(
        "T3", [{"productId": "pisco-sour", "quantity": 2, "notes": "sin hielo"}]
    )
    line_id = order["lines"][0]["lineId"]
    await control.patch_line(line_id, status="DELIVERED")
    discount = await control.add_discount("T3", "cortesía", 400, line_id=line_id)

    check = await driver.read_check("T3")

    assert check == PosCheck(
        table_id="T3",
        table_name="Mesa 3",
        order_id=order["orderId"],
        currency="PEN",
        lines=(
            PosLine(
                line_id, "pisco-sour", "Pisco sour", 2, 1800, LineStatus.DELIVERED, "sin hielo"
            ),
        ),
        discounts=(PosDiscount(discount["discountId"], "cortesía", 400, line_id),),
        totals=None,
        version=(await control.table("T3"))["open"]["updatedAt"],
    )
    assert check.version is not None


async def test_a_line_read_again_unchanged_is_the_same_object(
    driver: MockDriver, control: MockPosControl
) -> None:
    """Each answer carries the whole check: its unchanged lines are shared, not rebuilt
    (what the handlers' diff and line conversion count on to skip them)."""
    order = await control.add_waiter_lines(
        "T4", [{"productId": "pisco-sour", "quantity": 1}, {"productId": "chicha", "quantity": 1}]
    )
    first = await driver.read_check("T4")
    await control.patch_line(order["lines"][1]["lineId"], quantity=3)

    again = await driver.read_check("T4")

    assert again.lines[0] is first.lines[0]
    assert again.lines[1] is not first.lines[1]
    assert (again.lines[1].line_id, again.lines[1].quantity) == (first.lines[1].line_id, 3)


async def test_a_check_read_after_each_change_is_what_a_new_driver_reads(
    driver: MockDriver, control: MockPosControl, server: MockPosServer
) -> None:
    """Answers parsed from where the table's last one left off (lines added by the
    driver, by a waiter; a line changed; the check closed and another opened) read as a
    driver that never saw the table reads them."""
    first = await driver.add_lines("T6", None, [_line("ceviche", 1, 3500, "sub-1:a")])
    steps = [
        lambda: driver.add_lines("T6", first.order_id, [_line("causa", 2, 2200, "sub-2:a")]),
        lambda: control.add_waiter_lines("T6", [{"productId": "chicha", "quantity": 1}]),
        lambda: control.patch_line(first.lines[0].line_id, quantity=4),
        lambda: control.add_waiter_lines("T6", [{"productId": "pisco-sour", "quantity": 1}]),
        lambda: control.close_table("T6"),
        lambda: driver.add_lines("T6", None, [_line("inca-kola", 1, 700, "sub-3:a")]),
    ]
    for change in steps:
        await change()
        async with _driver(server.url) as fresh:
            assert await driver.read_check("T6") == await fresh.read_check("T6")
    assert [line.product_id for line in (await driver.read_check("T6")).lines] == ["inca-kola"]


async def test_list_products(driver: MockDriver, control: MockPosControl) -> None:
    await control.set_product("picarones", available=False)

    products = await driver.list_products()

    assert len(products) == 10
    assert products["suspiro"] == PosProduct("suspiro", "Suspiro limeño", 1500, True, 5)
    assert products["picarones"].available is False
    assert products["ceviche"].stock is None


async def test_add_lines_answers_the_created_lines_in_order(
    driver: MockDriver, control: MockPosControl
) -> None:
    await control.add_waiter_lines("T1", [{"productId": "chicha", "quantity": 1}])

    added = await driver.add_lines(
        "T1", None, [_line("ceviche", 2, 3500, "sub-1:a"), _line("causa", 1, 2200, "sub-1:b")]
    )

    assert isinstance(added, AddedLines)
    assert [(x.product_id, x.quantity, x.external_ref) for x in added.lines] == [
        ("ceviche", 2, "sub-1:a"),
        ("causa", 1, "sub-1:b"),
    ]
    again = await driver.add_lines("T1", added.order_id, [_line("inca-kola", 1, 700)])
    assert again.order_id == added.order_id
    assert [x.product_id for x in again.lines] == ["inca-kola"]


async def test_find_lines(driver: MockDriver, control: MockPosControl) -> None:
    added = await driver.add_lines("T1", None, [_line("causa", 1, 2200, "sub-7:a")])
    await control.close_table("T1")
    await driver.add_lines("T1", None, [_line("causa", 1, 2200, "sub-8:a")])

    assert await driver.find_lines("T1", "sub-7:") == added.lines
    assert await driver.find_lines("T1", "sub-9:") == ()


async def test_changes_since(driver: MockDriver, control: MockPosControl) -> None:
    await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
    first = await driver.changes_since(None)
    await control.add_waiter_lines("T2", [{"productId": "causa", "quantity": 1}])
    await control.close_table("T1")

    second = await driver.changes_since(first.cursor)

    assert first.table_ids == {"T1"}
    assert second.table_ids == {"T1", "T2"}
    assert await driver.changes_since(second.cursor) == ChangedTables(frozenset(), second.cursor)


async def test_ping(driver: MockDriver, control: MockPosControl) -> None:
    assert await driver.ping() is True
    await control.set_faults(down=True)
    assert await driver.ping() is False


# -- errors --------------------------------------------------------------------------


async def test_unknown_table_is_table_not_found(driver: MockDriver) -> None:
    for call in (
        driver.read_check("T99"),
        driver.add_lines("T99", None, [_line("causa", 1, 2200)]),
        driver.find_lines("T99", "x"),
    ):
        with pytest.raises(TableNotFound) as raised:
            await call
        assert raised.value.pos_detail == "TABLE_NOT_FOUND"


async def test_stale_order_is_order_closed(driver: MockDriver, control: MockPosControl) -> None:
    added = await driver.add_lines("T1", None, [_line("causa", 1, 2200)])
    await control.close_table("T1")

    with pytest.raises(OrderClosed) as raised:
        await driver.add_lines("T1", added.order_id, [_line("causa", 1, 2200)])

    assert raised.value.pos_detail == "ORDER_CLOSED"


async def test_used_ref_is_duplicate_reference_with_the_lines(driver: MockDriver) -> None:
    added = await driver.add_lines("T1", None, [_line("causa", 1, 2200, "sub-1:a")])

    with pytest.raises(DuplicateReference) as raised:
        await driver.add_lines(
            "T1", None, [_line("causa", 1, 2200, "sub-1:a"), _line("chicha", 1, 900, "sub-1:b")]
        )

    assert raised.value.existing == added.lines
    assert raised.value.pos_detail == "DUPLICATE_REF"


async def test_refused_items_are_items_rejected(
    driver: MockDriver, control: MockPosControl
) -> None:
    await control.set_product("lomo-saltado", available=False)
    await control.set_product("picarones", stock=0)

    with pytest.raises(ItemsRejected) as raised:
        await driver.add_lines(
            "T1",
            None,
            [
                _line("tamales", 1, 100),
                _line("lomo-saltado", 1, 4200),
                _line("picarones", 1, 1400),
                _line("suspiro", 9, 1500),
                _line("ceviche", 1, 3000),
                _line("causa", 1, 2200),
            ],
        )

    reasons = [
        (r.index, r.reason, r.pos_detail, r.available_quantity, r.current_unit_price)
        for r in raised.value.rejections
    ]
    assert reasons == [
        (0, ItemReason.UNKNOWN_PRODUCT, "UNKNOWN_PRODUCT", None, None),
        (1, ItemReason.DELISTED, "DELISTED", None, None),
        (2, ItemReason.OUT_OF_STOCK, "OUT_OF_STOCK", 0, None),
        (3, ItemReason.INSUFFICIENT_STOCK, "INSUFFICIENT_STOCK", 5, None),
        (4, ItemReason.PRICE_CHANGED, "PRICE_CHANGED", None, 3500),
    ]
    assert all(r.message for r in raised.value.rejections)
    assert (await driver.read_check("T1")).order_id is None


async def test_modifiers_are_refused_before_the_call(driver: MockDriver) -> None:
    with pytest.raises(ItemsRejected) as raised:
        await driver.add_lines(
            "T1",
            None,
            [_line("causa", 1, 2200), NewLine("ceviche", 1, 3500, modifier_ids=("extra-limon",))],
        )

    assert [(r.index, r.pos_detail) for r in raised.value.rejections] == [
        (1, "MODIFIERS_NOT_SUPPORTED")
    ]
    assert (await driver.read_check("T1")).order_id is None


async def test_unknown_cursor_is_cursor_expired(
    driver: MockDriver, control: MockPosControl
) -> None:
    cursor = (await driver.changes_since(None)).cursor
    await control.reset()

    with pytest.raises(CursorExpired):
        await driver.changes_since(cursor)


async def test_other_refusals_are_business_errors(driver: MockDriver) -> None:
    with pytest.raises(PosBusinessError) as raised:
        await driver.add_lines("T1", None, [])

    assert raised.value.pos_detail == "INVALID_REQUEST"


@pytest.mark.parametrize(("down", "error_rate"), [(True, 0.0), (False, 1.0)])
async def test_down_and_error_rate_are_unavailable(
    driver: MockDriver, control: MockPosControl, down: bool, error_rate: float
) -> None:
    await control.set_faults(error_rate=error_rate, down=down)
    for call in (
        driver.read_check("T1"),
        driver.list_products(),
        driver.add_lines("T1", None, [_line("causa", 1, 2200)]),
        driver.find_lines("T1", "x"),
        driver.changes_since(None),
    ):
        with pytest.raises(PosUnavailable) as raised:
            await call
        assert raised.value.pos_detail == "UNAVAILABLE"


async def test_timeout_is_unavailable(server: MockPosServer, control: MockPosControl) -> None:
    await control.set_faults(latency_ms=400)

    async with _driver(server.url, timeout=0.05) as driver:
        with pytest.raises(PosUnavailable, match="in time"):
            await driver.read_check("T1")


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async with _driver(f"http://127.0.0.1:{port}") as driver:
        with pytest.raises(PosUnavailable, match="cannot reach") as raised:
            await driver.read_check("T1")
        assert raised.value.pos_detail is None
        assert await driver.ping() is False


@pytest.mark.parametrize(
    ("response", "detail", "retry_after"),
    [
        (
            httpx.Response(
                429, headers={"Retry-After": "3"}, json={"error": "SLOW", "message": "m"}
            ),
            "SLOW",
            3.0,
        ),
        (httpx.Response(500, text="<html>boom</html>"), None, None),
        (httpx.Response(200, text="not json"), None, None),
        (httpx.Response(200, json={"unexpected": True}), None, None),
    ],
)
async def test_answers_the_mock_never_gives(
    response: httpx.Response, detail: str | None, retry_after: float | None
) -> None:
    transport = httpx.MockTransport(lambda request: response)
    config = DriverConfig(pos_url="http://pos.invalid")

    async with MockDriver(config, transport=transport) as driver:
        with pytest.raises(PosUnavailable) as raised:
            await driver.read_check("T1")

    assert (raised.value.pos_detail, raised.value.retry_after) == (detail, retry_after)


# -- push ----------------------------------------------------------------------------


class _EventsWatch(httpx.AsyncBaseTransport):
    """Passes requests to the network and tells when ``/events`` was refused."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.refused = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path == "/events" and response.status_code == 503:
            self.refused.set()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _next(events: AsyncIterator[PushEvent]) -> PushEvent:
    async with asyncio.timeout(5):
        return await anext(events)


async def test_push_events_announce_changes_and_reconnections(
    server: MockPosServer, control: MockPosControl
) -> None:
    watch = _EventsWatch()
    config = DriverConfig(pos_url=server.url)
    async with (
        MockDriver(config, QUICK_PUSH, transport=watch) as driver,
        contextlib.aclosing(driver.push_events()) as events,
    ):
        assert await _next(events) == PushEvent(None)
        order = await control.add_waiter_lines("T6", [{"productId": "causa", "quantity": 1}])
        assert await _next(events) == PushEvent("T6", order["updatedAt"])

        await control.set_faults(down=True)
        pending = asyncio.create_task(_next(events))
        async with asyncio.timeout(5):
            await watch.refused.wait()
        assert not pending.done(), "no reconnection while the POS is down"
        await control.set_faults(down=False)
        assert await pending == PushEvent(None)

        order = await control.add_waiter_lines("T7", [{"productId": "causa", "quantity": 1}])
        assert await _next(events) == PushEvent("T7", order["updatedAt"])


async def test_push_events_survive_a_server_restart() -> None:
    first = MockPosServer()
    await first.start()
    config = DriverConfig(pos_url=first.url)
    async with (
        MockDriver(config, QUICK_PUSH) as driver,
        contextlib.aclosing(driver.push_events()) as events,
    ):
        assert await _next(events) == PushEvent(None)
        await first.stop()
        async with MockPosServer(port=first.port) as second, MockPosControl(second.url) as ctl:
            assert await _next(events) == PushEvent(None)
            order = await ctl.add_waiter_lines("T2", [{"productId": "causa", "quantity": 1}])
            assert await _next(events) == PushEvent("T2", order["updatedAt"])


async def test_push_events_end_when_the_consumer_is_cancelled(driver: MockDriver) -> None:
    received: list[PushEvent] = []
    connected = asyncio.Event()

    async def consume() -> None:
        async for event in driver.push_events():
            received.append(event)
            connected.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await connected.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert received == [PushEvent(None)]


async def test_push_events_end_when_the_driver_is_closed(server: MockPosServer) -> None:
    driver = _driver(server.url)
    await driver.open()
    received: list[PushEvent] = []
    connected = asyncio.Event()

    async def consume() -> None:
        async for event in driver.push_events():
            received.append(event)
            connected.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await connected.wait()
        await driver.aclose()
        await task

    assert received == [PushEvent(None)]


class _SilentEvents:
    """An ``/events`` that answers and then says nothing, not even a ping."""

    def __init__(self) -> None:
        self.connections = 0
        self.stopping = asyncio.Event()
        app = web.Application()
        app.router.add_get("/events", self._events)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    async def __aenter__(self) -> _SilentEvents:
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.stopping.set()
        await self._runner.cleanup()
        self._sock.close()

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.connections += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await self.stopping.wait()
        return response


async def test_a_silent_event_stream_is_dropped_after_the_read_timeout() -> None:
    async with _SilentEvents() as server:
        driver = _driver(server.url, push_read_timeout=0.2, push_backoff_initial=0.01)
        async with driver, contextlib.aclosing(driver.push_events()) as events:
            assert await _next(events) == PushEvent(None)
            assert await _next(events) == PushEvent(None)

        assert server.connections == 2
