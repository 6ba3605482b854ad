"""The adapter with ``POS_ADAPTER_DRIVER=tablemgmt`` in front of the imitation: the contract
end to end through RabbitMQ, changes found by polling the occupied list."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from adapter.drivers import ConfiguredDriver
from adapter.settings import Settings
from adapter.testing import OpenAppClient, Received
from adapter.worker import EXIT_CONFIGURATION, Worker
from pos_drivers.tablemgmt import (
    SEED_OUTLET_ID,
    TableMgmtControl,
    TableMgmtDriver,
    TableMgmtSettings,
    mint_token,
)
from tests.integration.conftest import StartAdapter
from tests.tablemgmt.integration.conftest import POLL_INTERVAL

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"
OCCUPIED = f"/api/v1/outlets/{SEED_OUTLET_ID}/tables/occupied"


async def snapshot(openapp: OpenAppClient, table: str, session: str = "s-1") -> Received:
    result = await openapp.result_for(await openapp.send(
        SNAPSHOT, {"posTableId": table, "tableSessionId": session, "reason": "SESSION_START"}))
    assert result.payload["outcome"] == "RESOLVED", result.payload
    return result


async def test_snapshots_by_id_and_by_name(
    start_adapter: StartAdapter, openapp: OpenAppClient, restaurant: TableMgmtControl,
    tablemgmt: dict[str, Any],
) -> None:
    table = await restaurant.table_id("Table 21")
    order = await restaurant.open_order(table, [
        {"product_id": "nasi-goreng", "quantity": 2},
        {"product_id": "kopi-susu", "quantity": 1, "notes": "less sugar"},
    ], money_format="number")
    async with start_adapter(**tablemgmt):
        by_name = (await snapshot(openapp, "Table 21")).payload["snapshot"]
        by_id = (await snapshot(openapp, table)).payload["snapshot"]
        free = (await snapshot(openapp, "Table 22")).payload["snapshot"]

    assert by_name["posOrderId"] == by_id["posOrderId"] == order["id"]
    assert (by_name["tableName"], by_name["orderStatus"], by_name["currency"]) == (
        "Table 21", "OPEN", "IDR")
    assert [(x["name"], x["quantity"], x["unitPrice"], x["totalPrice"], x["origin"])
            for x in by_name["lines"]] == [
        ("Nasi Goreng Spesial", 2, 4500000, 9000000, "POS"),
        ("Es Kopi Susu", 1, 2250050, 2250050, "POS")]
    assert by_name["totals"] == {"subtotal": 11250050, "discountTotal": 0, "taxTotal": 1125005,
                                 "total": 12375055}
    assert by_id["lines"] == by_name["lines"]
    assert (free["orderStatus"], free["posOrderId"], free["lines"]) == ("NONE", None, [])


async def test_a_waiters_changes_then_the_release_close_the_stream(
    start_adapter: StartAdapter, openapp: OpenAppClient, restaurant: TableMgmtControl,
    tablemgmt: dict[str, Any],
) -> None:
    table = await restaurant.table_id("Table 4")
    order = await restaurant.open_order(table, [{"product_id": "sate-ayam"}])
    satay = order["order_items"][0]["id"]
    async with start_adapter(**tablemgmt):
        opened = await snapshot(openapp, "Table 4")
        stream_id = opened.payload["streamId"]
        expected: list[str] = []

        async def step(change_type: str, action: Any) -> Received:
            await action
            expected.append(change_type)
            changes = await openapp.wait_changes(stream_id, len(expected), timeout=15)
            assert changes[-1].payload["changeType"] == change_type
            return changes[-1]

        added = await step("POS_LINE_ADDED", restaurant.add_item(table, "es-teh", 2))
        await step("LINE_STATUS_CHANGED", restaurant.set_item_status(satay, "preparing"))
        await step("LINE_CANCELLED", restaurant.cancel_item(satay))
        tea = added.payload["lines"][0]["posLineId"]
        await step("LINE_DELIVERED", restaurant.serve_item(tea))
        closed = await step("ORDER_CLOSED", restaurant.release(table))

    changes = openapp.changes(stream_id)
    assert [c.payload["changeType"] for c in changes] == expected
    assert [c.payload["sequence"] for c in changes] == list(range(1, len(expected) + 1))
    assert all(c.payload["snapshot"]["version"] == c.payload["sequence"] for c in changes)
    assert closed.payload["snapshot"]["orderStatus"] == "CLOSED"
    assert closed.payload["snapshot"]["posOrderId"] == order["id"]
    assert [x["status"] for x in closed.payload["snapshot"]["lines"]] == [
        "CANCELLED", "DELIVERED"]


async def test_a_new_order_on_the_table_closes_the_stream(
    start_adapter: StartAdapter, openapp: OpenAppClient, restaurant: TableMgmtControl,
    tablemgmt: dict[str, Any],
) -> None:
    table = await restaurant.table_id("Table 6")
    await restaurant.open_order(table, [{"product_id": "es-teh"}])
    async with start_adapter(**tablemgmt):
        opened = await snapshot(openapp, table)
        # Released and seated again between two polls: another order, same table.
        await restaurant.release(table)
        await restaurant.open_order(table, [{"product_id": "mie-goreng"}])
        [closed] = await openapp.wait_changes(opened.payload["streamId"], 1, timeout=15)

    assert closed.payload["changeType"] == "ORDER_CLOSED"
    assert closed.payload["snapshot"]["lines"][0]["productId"] == "es-teh"


async def test_one_occupied_list_request_per_poll_and_no_table_reads_when_nothing_changes(
    start_adapter: StartAdapter, openapp: OpenAppClient, restaurant: TableMgmtControl,
    tablemgmt: dict[str, Any],
) -> None:
    names = [f"Table {n}" for n in range(10, 16)]
    for name in names:
        await restaurant.open_order(await restaurant.table_id(name), [{"product_id": "es-teh"}])
    async with start_adapter(**tablemgmt):
        for name in names:
            await snapshot(openapp, name)
        await restaurant.clear_requests()
        window = 1.0
        await asyncio.sleep(window)  # the measurement itself: requests over a second
        requests = await restaurant.requests()

    polls = requests.pop(f"GET {OCCUPIED}", 0)
    assert 1 <= polls <= window / POLL_INTERVAL + 2, polls
    assert requests == {}  # six watched tables, not one read each


async def test_a_submission_is_not_supported_without_a_pos_request(
    start_adapter: StartAdapter, openapp: OpenAppClient, restaurant: TableMgmtControl,
    tablemgmt: dict[str, Any],
) -> None:
    await restaurant.open_order(await restaurant.table_id("Table 2"), [{"product_id": "es-teh"}])
    async with start_adapter(**tablemgmt):
        await snapshot(openapp, "Table 2")
        await restaurant.clear_requests()
        result = await openapp.result_for(await openapp.send("OrderSubmissionRequested", {
            "submissionId": "sub-tm-1",
            "orderContext": {"type": "TABLE", "posTableId": "Table 2", "tableSessionId": "s-1"},
            "items": [{"lineId": "oa-1", "productId": "es-teh", "quantity": 1,
                       "unitPrice": 800000}],
        }))
        requests = await restaurant.requests()

    assert result.payload["outcome"] == "REJECTED"
    rejection = result.payload["rejection"]
    assert (rejection["reason"], rejection["retryable"]) == ("NOT_SUPPORTED", False)
    assert "tablemgmt" in rejection["message"]
    assert [i["reason"] for i in result.payload["rejectedItems"]] == ["BATCH_REJECTED"]
    assert {k: v for k, v in requests.items() if "/occupied" not in k} == {}


async def test_pos_down_and_unknown_tables(
    start_adapter: StartAdapter, openapp: OpenAppClient, restaurant: TableMgmtControl,
    tablemgmt: dict[str, Any],
) -> None:
    async with start_adapter(**tablemgmt):
        unknown = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "../_control/reset", "tableSessionId": "s-1"}))
        await restaurant.set_table(await restaurant.table_id("Table 3"), status="maintenance")
        blocked = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "Table 3", "tableSessionId": "s-1"}))
        await restaurant.set_faults(down=True)
        down = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "Table 1", "tableSessionId": "s-1"}))

    assert unknown.payload["rejection"]["reason"] == "TABLE_NOT_FOUND"
    assert blocked.payload["rejection"]["reason"] == "TABLE_UNAVAILABLE"
    assert blocked.payload["rejection"]["posDetail"] == "maintenance"
    assert (down.payload["rejection"]["reason"], down.payload["rejection"]["retryable"]) == (
        "POS_UNAVAILABLE", True)


async def test_a_token_rotated_while_watching_loses_no_change(
    start_adapter: StartAdapter, openapp: OpenAppClient, restaurant: TableMgmtControl,
    tablemgmt: dict[str, Any], token_file: Path,
) -> None:
    table = await restaurant.table_id("Table 8")
    await restaurant.open_order(table, [{"product_id": "es-teh"}])
    async with start_adapter(**tablemgmt):
        opened = await snapshot(openapp, "Table 8")
        old = token_file.read_text()
        token_file.write_text(mint_token("manager", subject="rotated"))
        await restaurant.revoke_token(old)
        await restaurant.add_item(table, "kopi-susu")
        [change] = await openapp.wait_changes(opened.payload["streamId"], 1, timeout=15)

    assert change.payload["changeType"] == "POS_LINE_ADDED"
    assert change.payload["lines"][0]["productId"] == "kopi-susu"


async def test_a_waiter_token_stops_the_adapter_before_it_serves(
    settings: Settings, tablemgmt: dict[str, Any], token_file: Path,
) -> None:
    token_file.write_text(mint_token("waiter"))
    overrides = {k: v for k, v in tablemgmt.items() if k != "driver_settings"}
    configured = settings.model_copy(update=overrides)
    driver = ConfiguredDriver(TableMgmtDriver, TableMgmtSettings(**tablemgmt["driver_settings"]))
    worker = Worker(configured, driver)

    code = await asyncio.wait_for(worker.run(), 20)

    assert code == EXIT_CONFIGURATION
    assert not worker.started.is_set()
