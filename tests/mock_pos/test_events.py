"""The SSE push channel: events per change, cut on down, reset and shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse

from pos_drivers.mock import MockPosControl, MockPosServer
from tests.mock_pos.helpers import item, post_lines


async def _rest(events: AsyncIterator[ServerSentEvent]) -> list[ServerSentEvent]:
    """Whatever the stream still carries until the server ends it (bounded)."""
    async with asyncio.timeout(3):
        return [event async for event in events]


async def test_an_event_per_change(http: httpx.AsyncClient, control: MockPosControl) -> None:
    async with aconnect_sse(http, "GET", "/events") as source:
        events = source.aiter_sse()
        order = await control.add_waiter_lines("T4", [{"productId": "chicha", "quantity": 1}])
        line_id = order["lines"][0]["lineId"]
        patched = await control.patch_line(line_id, status="READY")
        added = (await post_lines(http, "T5", item("causa", 1, 2200))).json()

        async with asyncio.timeout(3):
            received = [await anext(events) for _ in range(3)]
        await events.aclose()

    assert source.response.headers["content-type"].startswith("text/event-stream")
    assert [event.json() for event in received[::2]] == [
        {"tableId": "T4", "orderId": order["orderId"], "updatedAt": order["updatedAt"]},
        {"tableId": "T5", "orderId": added["orderId"], "updatedAt": added["updatedAt"]},
    ]
    assert received[1].json()["tableId"] == "T4"
    assert received[1].json()["updatedAt"] > order["updatedAt"]
    assert patched["status"] == "READY"
    cursor = received[0].id
    changes = (await http.get("/orders/changes", params={"since": cursor})).json()
    assert [c["tableId"] for c in changes["changes"]] == ["T4", "T5"]


async def test_down_cuts_the_stream_and_refuses_new_ones(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    async with aconnect_sse(http, "GET", "/events") as source:
        await control.set_faults(down=True)
        assert await _rest(source.aiter_sse()) == []

    refused = await http.get("/events")
    assert (refused.status_code, refused.json()["error"]) == (503, "UNAVAILABLE")
    await control.set_faults(down=False)
    async with aconnect_sse(http, "GET", "/events") as source:
        assert source.response.status_code == 200


async def test_reset_cuts_the_stream(http: httpx.AsyncClient, control: MockPosControl) -> None:
    async with aconnect_sse(http, "GET", "/events") as source:
        await control.reset()
        assert await _rest(source.aiter_sse()) == []


async def test_shutdown_ends_open_streams_promptly() -> None:
    server = MockPosServer()
    await server.start()
    async with (
        httpx.AsyncClient(base_url=server.url, verify=False) as http,
        aconnect_sse(http, "GET", "/events") as source,
    ):
        started = time.monotonic()
        stopping = asyncio.create_task(server.stop())
        assert await _rest(source.aiter_sse()) == []
        async with asyncio.timeout(3):
            await stopping
        assert time.monotonic() - started < 1.5
