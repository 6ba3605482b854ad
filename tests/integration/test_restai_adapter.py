"""The adapter with ``POS_ADAPTER_DRIVER=restai`` in front of the RestAI imitation: the
contract end to end through RabbitMQ, the WebSocket events turned into changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapter.testing import OpenAppClient, Received
from handlers.watcher import ChangeMode
from tests.integration.conftest import StartAdapter
from tests.restai.conftest import MANAGER, serve
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"


@pytest.fixture
async def restai() -> AsyncIterator[FakeRestai]:
    fake = FakeRestai()
    async with serve(fake):
        yield fake


def restai_settings(fake: FakeRestai) -> dict[str, Any]:
    return {
        "driver": "restai",
        "pos_url": fake.base_url,
        "driver_settings": MANAGER,
        "change_mode": ChangeMode.PUSH,
        "poll_interval": 1.0,
    }


async def snapshot(openapp: OpenAppClient, table: str, session: str = "s-1") -> Received:
    result = await openapp.result_for(await openapp.send(
        SNAPSHOT, {"posTableId": table, "tableSessionId": session}))
    assert result.payload["outcome"] == "RESOLVED", result.payload
    return result


async def test_a_waiter_order_a_submission_and_the_kitchen_through_rabbitmq(
    start_adapter: StartAdapter, openapp: OpenAppClient, restai: FakeRestai
) -> None:
    order = await restai.staff_order_hook(3, [item(restai, "Ceviche Clásico", 2)])
    async with start_adapter(**restai_settings(restai)):
        opened = await snapshot(openapp, "3")
        stream_id = opened.payload["streamId"]
        first = opened.payload["snapshot"]
        assert [(x["name"], x["quantity"], x["origin"]) for x in first["lines"]] == [
            ("Ceviche Clásico", 2, "POS")]
        assert first["totals"]["taxTotal"] > 0  # RestAI's prices are before tax
        assert first["totals"]["total"] == (
            first["totals"]["subtotal"] - first["totals"]["discountTotal"]
            + first["totals"]["taxTotal"])

        pisco = restai.item_id("Pisco Sour")
        result = await openapp.result_for(await openapp.send("OrderSubmissionRequested", {
            "submissionId": "sub-restai-1",
            "orderContext": {"type": "TABLE", "posTableId": "3", "tableSessionId": "s-1"},
            "items": [{"lineId": "oa-1", "productId": pisco, "quantity": 1,
                       "unitPrice": restai.menu[pisco]["price"]}],
        }))
        assert result.payload["outcome"] == "ACCEPTED", result.payload

        ceviche = next(i["id"] for i in restai.items.values() if i["order_id"] == order["id"])
        await restai.item_status_hook(ceviche, "preparing")
        [status] = await openapp.wait_changes(stream_id, 1, timeout=15)
        await restai.kitchen_cancel_hook(ceviche, "se acabó el pescado")
        changes = await openapp.wait_changes(stream_id, 2, timeout=15)

    assert status.payload["changeType"] == "LINE_STATUS_CHANGED"
    assert status.payload["lines"][0]["status"] == "PREPARING"
    assert changes[1].payload["changeType"] == "LINE_CANCELLED"
    lines = {x["name"]: x for x in changes[1].payload["snapshot"]["lines"]}
    assert lines["Ceviche Clásico"]["status"] == "CANCELLED"
    assert (lines["Pisco Sour"]["origin"], lines["Pisco Sour"]["openAppLineId"]) == (
        "OPENAPP", "oa-1")
    # The submitted line was never announced as a POS line.
    assert all(c.payload["changeType"] != "POS_LINE_ADDED" for c in openapp.changes(stream_id))


async def test_freeing_the_table_closes_the_stream(
    start_adapter: StartAdapter, openapp: OpenAppClient, restai: FakeRestai
) -> None:
    order = await restai.staff_order_hook(5, [item(restai, "Causa Limeña")])
    async with start_adapter(**restai_settings(restai)):
        opened = await snapshot(openapp, "5")
        restai.pay_hook(order["id"], 100_000)  # paying alone closes nothing
        await restai.free_hook(5)
        changes = await openapp.wait_changes(opened.payload["streamId"], 1, timeout=15)

    assert [c.payload["changeType"] for c in changes] == ["ORDER_CLOSED"]
    assert changes[0].payload["snapshot"]["orderStatus"] == "CLOSED"


async def test_an_unknown_table_is_table_not_found(
    start_adapter: StartAdapter, openapp: OpenAppClient, restai: FakeRestai
) -> None:
    async with start_adapter(**restai_settings(restai)):
        result = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "99", "tableSessionId": "s-1"}))

    assert result.payload["rejection"]["reason"] == "TABLE_NOT_FOUND"


async def test_the_token_expiring_loses_no_change(
    start_adapter: StartAdapter, openapp: OpenAppClient, restai: FakeRestai
) -> None:
    order = await restai.staff_order_hook(7, [item(restai, "Causa Limeña")])
    line = next(i["id"] for i in restai.items.values() if i["order_id"] == order["id"])
    async with start_adapter(**restai_settings(restai)):
        opened = await snapshot(openapp, "7")
        sockets_before = restai.ws_accepted
        # RestAI's heartbeat finds the token expired: auth:expired, then close 4001.
        restai.revoke_access_tokens()
        await restai.expire_sockets()
        await restai.item_status_hook(line, "preparing")
        [change] = await openapp.wait_changes(opened.payload["streamId"], 1, timeout=15)
        # The change may come by the batch poll before the socket is back: wait for it.
        await restai.wait_for(lambda: restai.ws_accepted > sockets_before, timeout=15)

    assert change.payload["changeType"] == "LINE_STATUS_CHANGED"
    assert restai.refreshes + restai.logins >= 2
