"""The driver against a running RestAI with its seed data (``-m restai_live``).

Skipped unless ``RESTAI_URL`` is set; ``RESTAI_EMAIL`` / ``RESTAI_PASSWORD`` default to
the seed's branch manager. The restaurant's side (a waiter's round, the kitchen, the
cashier) is played through RestAI's own staff API with the same account. Each test
takes a free table and frees it again at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import pytest

from pos_drivers import (
    DriverConfig,
    ItemReason,
    ItemsRejected,
    LineStatus,
    NewLine,
    OrderClosed,
    PosProduct,
    PushEvent,
)
from pos_drivers.restai import RestaiDriver, RestaiSettings

pytestmark = [
    pytest.mark.restai_live,
    pytest.mark.skipif(not os.environ.get("RESTAI_URL"), reason="RESTAI_URL is not set"),
]

URL = os.environ.get("RESTAI_URL", "")
EMAIL = os.environ.get("RESTAI_EMAIL", "gerente@restai.pe")
PASSWORD = os.environ.get("RESTAI_PASSWORD", "gerente123")


def make_live_driver() -> RestaiDriver:
    settings = RestaiSettings(email=EMAIL, password=PASSWORD)
    return RestaiDriver(DriverConfig(pos_url=URL, request_timeout=10.0), settings)


class Restaurant:
    """RestAI's own staff API, to act as the waiter, the kitchen and the cashier."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response.json()["data"]


@pytest.fixture
async def restaurant() -> AsyncIterator[Restaurant]:
    async with httpx.AsyncClient(base_url=URL, timeout=10.0) as http:
        login = await http.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        data = login.json()["data"]
        http.headers["Authorization"] = f"Bearer {data['accessToken']}"
        http.headers["x-branch-id"] = data["user"]["branches"][0]
        yield Restaurant(http)


@pytest.fixture
async def table(restaurant: Restaurant) -> AsyncIterator[dict[str, Any]]:
    """A free table for the test, freed again afterwards (paying what is owed)."""
    tables = (await restaurant.call("GET", "/api/tables"))["tables"]
    free = [t for t in tables if t["status"] == "available" and not t["active_session"]]
    if not free:
        pytest.skip("no free table on this RestAI")
    chosen: dict[str, Any] = max(free, key=lambda t: t["number"])
    yield chosen
    session = await restaurant.call("GET", f"/api/tables/{chosen['id']}/active-session")
    for order in session["orders"]:
        if order["remaining"] > 0:
            await restaurant.call(
                "POST",
                "/api/payments",
                {"orderId": order["id"], "method": "cash", "amount": order["remaining"]},
            )
    if session["session"] is not None:
        await restaurant.call("POST", f"/api/tables/{chosen['id']}/free")


@pytest.fixture
async def driver() -> AsyncIterator[RestaiDriver]:
    async with make_live_driver() as live:
        yield live


def simple_products(
    products: dict[str, PosProduct], menu: list[dict[str, Any]]
) -> list[PosProduct]:
    """Available dishes without modifier groups (no required choices)."""
    plain = {m["id"] for m in menu if m.get("modifier_group_count", 0) == 0}
    return [p for p in products.values() if p.available and p.product_id in plain]


async def wait_for_table(
    events: AsyncGenerator[PushEvent, None], alias: str, timeout: float = 10.0
) -> None:
    async with asyncio.timeout(timeout):
        async for event in events:
            if event.table_id == alias:
                return


async def test_live_snapshot_submission_and_changes(
    driver: RestaiDriver, restaurant: Restaurant, table: dict[str, Any]
) -> None:
    alias = str(table["number"])
    async with contextlib.aclosing(driver.push_events()) as events:
        assert await anext(events) == PushEvent(None)
        await flows(driver, restaurant, table, alias, events)


async def flows(
    driver: RestaiDriver,
    restaurant: Restaurant,
    table: dict[str, Any],
    alias: str,
    events: AsyncGenerator[PushEvent, None],
) -> None:
    """Snapshot, waiter round, submission, find_lines, cancellations, payment, freeing."""
    assert (await driver.read_check(alias)).order_id is None

    menu = await restaurant.call("GET", "/api/menu/items")
    dishes = simple_products(dict(await driver.list_products()), menu)
    assert len(dishes) >= 3
    waiter_round = await restaurant.call(
        "POST",
        "/api/orders",
        {"tableId": table["id"], "items": [{"menuItemId": dishes[0].product_id, "quantity": 2}]},
    )
    await wait_for_table(events, alias)
    check = await driver.read_check(table["qr_code"])
    assert check.order_id == waiter_round["table_session_id"]
    assert [(ln.product_id, ln.quantity, ln.external_ref) for ln in check.lines] == [
        (dishes[0].product_id, 2, None)
    ]
    assert check.currency == "PEN"

    submission = f"live-{uuid.uuid4()}"
    lines = [
        NewLine(
            dishes[1].product_id,
            1,
            dishes[1].price,
            notes="sin hielo",
            external_ref=f"{submission}:oa-1",
        ),
        NewLine(dishes[2].product_id, 3, dishes[2].price, external_ref=f"{submission}:oa-2"),
    ]
    added = await driver.add_lines(alias, check.order_id, lines)
    assert added.order_id == check.order_id
    assert [ln.external_ref for ln in added.lines] == [f"{submission}:oa-1", f"{submission}:oa-2"]
    after = await driver.read_check(alias)
    assert {ln.line_id: ln for ln in after.lines if ln.external_ref} == {
        ln.line_id: ln for ln in added.lines
    }
    assert after.totals is not None
    assert after.totals.total == (
        after.totals.subtotal - after.totals.discount_total + after.totals.tax_total
    )

    async with make_live_driver() as restarted:
        found = await restarted.find_lines(table["short_code"], f"{submission}:")
    assert sorted(ln.line_id for ln in found) == sorted(ln.line_id for ln in added.lines)

    ours = {ln.external_ref: ln for ln in added.lines}
    order_id = next(
        o["id"]
        for o in (await restaurant.call("GET", f"/api/tables/{table['id']}/active-session"))[
            "orders"
        ]
        if any(i["id"] == ours[f"{submission}:oa-1"].line_id for i in o["items"])
    )
    await restaurant.call(
        "PATCH",
        f"/api/orders/{order_id}/items/{ours[f'{submission}:oa-1'].line_id}/status",
        {"status": "cancelled", "reason": "prueba"},
    )
    await wait_for_table(events, alias)
    await restaurant.call(
        "POST",
        f"/api/kitchen/orders/{order_id}/items/{ours[f'{submission}:oa-2'].line_id}/cancel",
        {"reason": "se acabó"},
    )
    await wait_for_table(events, alias)
    statuses = {ln.external_ref: ln.status for ln in (await driver.read_check(alias)).lines}
    assert statuses[f"{submission}:oa-1"] is LineStatus.CANCELLED
    assert statuses[f"{submission}:oa-2"] is LineStatus.CANCELLED

    cursor = (await driver.changes_since(None)).cursor
    await restaurant.call(
        "POST", "/api/payments", {"orderId": waiter_round["id"], "method": "cash", "amount": 100}
    )
    assert alias in (await driver.changes_since(cursor)).table_ids  # no event for payments

    await restaurant.call("POST", f"/api/tables/{table['id']}/free?force=true")
    await wait_for_table(events, alias)
    assert (await driver.read_check(alias)).order_id is None


async def test_live_refusals(
    driver: RestaiDriver, restaurant: Restaurant, table: dict[str, Any]
) -> None:
    alias = table["qr_code"]
    products = await driver.list_products()
    dish = next(p for p in products.values() if p.available)
    with pytest.raises(OrderClosed):
        await driver.add_lines(alias, str(uuid.uuid4()), [NewLine(dish.product_id, 1, dish.price)])
    with pytest.raises(ItemsRejected) as caught:
        await driver.add_lines(
            alias,
            None,
            [
                NewLine(dish.product_id, 1, dish.price + 1, external_ref="live-x:1"),
                NewLine(str(uuid.uuid4()), 1, 100, external_ref="live-x:2"),
            ],
        )
    assert {(r.index, r.reason) for r in caught.value.rejections} == {
        (0, ItemReason.PRICE_CHANGED),
        (1, ItemReason.UNKNOWN_PRODUCT),
    }
    menu = await restaurant.call("GET", "/api/menu/items")
    with_choices = [m for m in menu if m["is_available"] and m["modifier_group_count"] > 0]
    for candidate in with_choices:
        groups = await restaurant.call("GET", f"/api/menu/items/{candidate['id']}/modifier-groups")
        if any(g.get("is_required") or g.get("min_selections", 0) > 0 for g in groups):
            with pytest.raises(ItemsRejected) as refused:
                await driver.add_lines(
                    alias,
                    None,
                    [NewLine(candidate["id"], 1, candidate["price"], external_ref="live-y:1")],
                )
            [rejection] = refused.value.rejections
            assert rejection.reason is ItemReason.UNKNOWN_PRODUCT
            assert rejection.pos_detail is not None
            assert "Selección insuficiente" in rejection.pos_detail
            break
    assert (await driver.read_check(alias)).order_id is None


async def test_live_hundred_lines_in_one_order(
    driver: RestaiDriver, restaurant: Restaurant, table: dict[str, Any]
) -> None:
    menu = await restaurant.call("GET", "/api/menu/items")
    dishes = simple_products(dict(await driver.list_products()), menu)
    submission = f"live-{uuid.uuid4()}"
    lines = [
        NewLine(
            dishes[i % len(dishes)].product_id,
            1 + i % 3,
            dishes[i % len(dishes)].price,
            external_ref=f"{submission}:{i:03d}",
        )
        for i in range(100)
    ]
    added = await driver.add_lines(str(table["number"]), None, lines)
    assert [ln.external_ref for ln in added.lines] == [ln.external_ref for ln in lines]
    assert [(ln.product_id, ln.quantity) for ln in added.lines] == [
        (ln.product_id, ln.quantity) for ln in lines
    ]
    session = await restaurant.call("GET", f"/api/tables/{table['id']}/active-session")
    assert [len(o["items"]) for o in session["orders"]] == [100]  # one RestAI order
    check = await driver.read_check(table["short_code"])
    assert {ln.external_ref: ln for ln in check.lines} == {
        ln.external_ref: ln for ln in added.lines
    }
