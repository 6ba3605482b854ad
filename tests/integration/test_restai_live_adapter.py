"""The adapter in front of a running RestAI (``-m restai_live``), through RabbitMQ.

Skipped unless ``RESTAI_URL`` is set (``RESTAI_EMAIL`` / ``RESTAI_PASSWORD`` default to the
seed's branch manager). The restaurant is played through RestAI's own staff API.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from adapter.testing import OpenAppClient
from handlers.watcher import ChangeMode
from tests.integration.conftest import StartAdapter
from tests.restai.test_live import (  # noqa: F401 - fixtures
    EMAIL,
    PASSWORD,
    URL,
    Restaurant,
    restaurant,
    table,
)

pytestmark = [
    pytest.mark.restai_live,
    pytest.mark.rabbitmq,
    pytest.mark.skipif(not os.environ.get("RESTAI_URL"), reason="RESTAI_URL is not set"),
]

WEBSOCKET_BOUND = 2.0
"""Seconds within which a kitchen or cashier action must reach OpenApp (WebSocket path)."""


async def test_live_table_through_the_adapter(
    start_adapter: StartAdapter,
    openapp: OpenAppClient,
    restaurant: Restaurant,  # noqa: F811 - the imported fixture
    table: dict[str, Any],  # noqa: F811 - the imported fixture
) -> None:
    menu = await restaurant.call("GET", "/api/menu/items")
    dishes = [m for m in menu if m["is_available"] and m.get("modifier_group_count", 0) == 0]
    waiter = await restaurant.call("POST", "/api/orders", {
        "tableId": table["id"], "items": [{"menuItemId": dishes[0]["id"], "quantity": 2}]})
    alias = str(table["number"])
    async with start_adapter(
        driver="restai", pos_url=URL, driver_settings={"email": EMAIL, "password": PASSWORD},
        change_mode=ChangeMode.PUSH, poll_interval=2.0, pos_deadline=10, pos_request_timeout=5,
    ):
        opened = await openapp.result_for(await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": alias, "tableSessionId": "live-1"}),
            timeout=20)
        snapshot = opened.payload["snapshot"]
        stream_id = opened.payload["streamId"]
        assert snapshot["posOrderId"] == waiter["table_session_id"]
        assert [(x["productId"], x["quantity"], x["unitPrice"], x["origin"])
                for x in snapshot["lines"]] == [(dishes[0]["id"], 2, dishes[0]["price"], "POS")]
        totals = snapshot["totals"]
        assert totals["subtotal"] == 2 * dishes[0]["price"]
        assert totals["total"] == totals["subtotal"] - totals["discountTotal"] + totals["taxTotal"]

        result = await openapp.result_for(await openapp.send("OrderSubmissionRequested", {
            "submissionId": f"live-{stream_id[-8:]}",
            "orderContext": {"type": "TABLE", "posTableId": alias, "tableSessionId": "live-1"},
            "items": [{"lineId": "oa-1", "productId": dishes[1]["id"], "quantity": 1,
                       "unitPrice": dishes[1]["price"], "notes": "sin hielo"}],
        }), timeout=20)
        assert result.payload["outcome"] == "ACCEPTED", result.payload
        submitted = result.payload["acceptedItems"][0]["posLineId"]
        visit = await restaurant.call("GET", f"/api/tables/{table['id']}/active-session")
        on_restai = {i["id"] for o in visit["orders"] for i in o["items"]}
        assert submitted in on_restai

        waiter_line = waiter["items"][0]["id"]
        timings: dict[str, float] = {}

        async def expect(change_type: str, count: int, action: Any) -> dict[str, Any]:
            started = time.monotonic()
            await action
            changes = await openapp.wait_changes(stream_id, count, timeout=15)
            timings[change_type] = time.monotonic() - started
            assert changes[-1].payload["changeType"] == change_type, [
                c.payload["changeType"] for c in changes]
            payload: dict[str, Any] = changes[-1].payload
            return payload

        await expect("LINE_STATUS_CHANGED", 1, restaurant.call(
            "PATCH", f"/api/kitchen/items/{waiter_line}/status", {"status": "preparing"}))
        order_id = next(o["id"] for o in visit["orders"]
                        if any(i["id"] == submitted for i in o["items"]))
        cancelled = await expect("LINE_CANCELLED", 2, restaurant.call(
            "POST", f"/api/kitchen/orders/{order_id}/items/{submitted}/cancel",
            {"reason": "se acabó"}))
        line = cancelled["lines"][0]
        assert (line["origin"], line["openAppLineId"]) == ("OPENAPP", "oa-1")
        closed = await expect("ORDER_CLOSED", 3, restaurant.call(
            "POST", f"/api/tables/{table['id']}/free?force=true"))

    assert closed["snapshot"]["orderStatus"] == "CLOSED"
    print("live RestAI change latencies (s):", {k: round(v, 3) for k, v in timings.items()})
    assert max(timings.values()) < WEBSOCKET_BOUND, timings
