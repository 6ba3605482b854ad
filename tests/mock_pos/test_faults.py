"""Faults apply to the POS API only: latency, error rate, down."""

from __future__ import annotations

import asyncio
import time

import httpx
from httpx_sse import aconnect_sse

from pos_drivers.mock import MockPosControl
from tests.mock_pos.helpers import item, post_lines


async def test_latency_applies_the_change_before_answering(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    async with aconnect_sse(http, "GET", "/events") as source:
        events = source.aiter_sse()
        await control.set_faults(latency_ms=300)
        started = time.monotonic()
        answer = asyncio.create_task(post_lines(http, "T1", item("causa", 1, 2200)))

        async with asyncio.timeout(5):
            event = await anext(events)

        assert event.json()["tableId"] == "T1"
        assert not answer.done(), "the change is announced before the answer is sent"
        assert (await answer).status_code == 201
        assert time.monotonic() - started >= 0.3
        await events.aclose()


async def test_latency_never_delays_the_control_api(control: MockPosControl) -> None:
    await control.set_faults(latency_ms=5_000)

    async with asyncio.timeout(2):
        await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
        assert (await control.table("T1"))["open"] is not None


async def test_error_rate_one_refuses_everything_without_applying(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    await control.set_faults(error_rate=1.0)

    responses = [
        await http.get("/products"),
        await http.get("/tables/T1/order"),
        await post_lines(http, "T1", item("causa", 1, 2200)),
        await http.get("/events"),
    ]

    assert [r.status_code for r in responses] == [503] * 4
    assert responses[2].json()["error"] == "UNAVAILABLE"
    assert (await control.table("T1"))["open"] is None


async def test_error_rate_half_refuses_some(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    await control.set_faults(error_rate=0.5)

    statuses = {(await http.get("/tables/T1/order")).status_code for _ in range(60)}

    assert statuses == {200, 503}


async def test_down_answers_503_at_once_and_spares_the_control_api(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    await control.set_faults(latency_ms=5_000, down=True)

    async with asyncio.timeout(2):
        for path in ("/products", "/tables", "/tables/T1/order", "/orders/changes"):
            response = await http.get(path)
            assert (response.status_code, response.json()["error"]) == (503, "UNAVAILABLE")
        assert (await post_lines(http, "T1", item("causa", 1, 2200))).status_code == 503
        assert await control.health()
        await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])

    faults = await control.set_faults()
    assert faults == {"latencyMs": 0, "errorRate": 0.0, "down": False}
    assert (await http.get("/tables/T1/order")).json()["lines"][0]["createdBy"] == "waiter"
