"""The imitation over HTTP: the documented endpoints, rules, errors, pagination and JWT
check, the assumed OrderResponse, and the control API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from pos_drivers.tablemgmt import (
    OTHER_OUTLET_ID,
    SEED_OUTLET_ID,
    TableMgmtControl,
    TableMgmtControlError,
    TableMgmtServer,
    mint_token,
)

LIST_ITEM_FIELDS = {"id", "table_name", "status", "capacity", "is_active", "created_at",
                    "updated_at"}


@pytest.fixture
async def api(server: TableMgmtServer) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client of the POS API with a manager token, to see answers as they are."""
    headers = {"Authorization": f"Bearer {mint_token('manager')}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        yield client


def body(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def assert_error(response: httpx.Response, status: int, error: str | None = None) -> None:
    assert response.status_code == status, response.text
    answer = response.json()
    assert set(answer) == {"error", "message"}
    if error is not None:
        assert answer["error"] == error


# -- tables ------------------------------------------------------------------------------


async def test_create_read_update_delete(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/v1/tables", json={
        "outlet_id": SEED_OUTLET_ID, "table_name": "Teras 1", "position_x": 100.0,
        "position_y": "200.5", "capacity": 4, "metadata": {"zone": "terrace"}})
    assert created.status_code == 201
    table = created.json()
    assert set(table) == {"id", "organization_id", "outlet_id", "table_name", "status",
                          "position_x", "position_y", "capacity", "is_active", "metadata",
                          "created_at", "updated_at"}
    assert (table["status"], table["is_active"], table["metadata"]) == (
        "available", True, {"zone": "terrace"})

    read = body(await api.get(f"/api/v1/tables/{table['id']}"))
    assert read["position_y"] == Decimal("200.5")
    assert "order" not in read
    assert read["payment_amount"] == "0.00"

    updated = await api.put(f"/api/v1/tables/{table['id']}",
                            json={"table_name": "Teras 2", "capacity": 6, "status": "reserved"})
    assert updated.status_code == 200
    assert (updated.json()["table_name"], updated.json()["capacity"],
            updated.json()["status"]) == ("Teras 2", 6, "reserved")

    assert (await api.delete(f"/api/v1/tables/{table['id']}")).status_code == 204
    assert_error(await api.get(f"/api/v1/tables/{table['id']}"), 404, "Table not found")


@pytest.mark.parametrize("capacity", [0, 21, "4", None])
async def test_capacity_is_between_1_and_20(api: httpx.AsyncClient, capacity: object) -> None:
    answer = await api.post("/api/v1/tables", json={
        "outlet_id": SEED_OUTLET_ID, "table_name": "New", "capacity": capacity})
    assert_error(answer, 400)


async def test_names_are_unique_within_an_outlet_only(api: httpx.AsyncClient) -> None:
    same_outlet = await api.post("/api/v1/tables", json={
        "outlet_id": SEED_OUTLET_ID, "table_name": "Table 1", "capacity": 2})
    other_outlet = await api.post("/api/v1/tables", json={
        "outlet_id": OTHER_OUTLET_ID, "table_name": "Table 9", "capacity": 2})
    assert_error(same_outlet, 400, "Table name already exists")
    assert other_outlet.status_code == 201


async def test_occupy_and_release(api: httpx.AsyncClient, table_ids: dict[str, str]) -> None:
    table = table_ids["Table 4"]
    occupied = await api.post(f"/api/v1/tables/{table}/occupy", json={
        "order_id": "123e4567-e89b-12d3-a456-426614174001", "start_time": "2024-01-15T10:30:00Z"})
    assert occupied.status_code == 200
    assert (occupied.json()["status"], occupied.json()["order_id"],
            occupied.json()["start_time"]) == (
        "occupied", "123e4567-e89b-12d3-a456-426614174001", "2024-01-15T10:30:00Z")
    assert occupied.json()["order"]["order_items"] == []

    again = await api.post(f"/api/v1/tables/{table}/occupy", json={"order_id": "x"})
    deleted = await api.delete(f"/api/v1/tables/{table}")
    assert_error(again, 400)
    assert_error(deleted, 400)

    released = await api.post(f"/api/v1/tables/{table}/release", json={"payment_amount": 150000})
    assert released.status_code == 200
    assert (released.json()["status"], released.json()["payment_amount"]) == (
        "available", "150000.00")
    assert "order_id" not in released.json()
    assert_error(await api.post(f"/api/v1/tables/{table}/release",
                                json={"payment_amount": 0}), 400)


@pytest.mark.parametrize("status", ["reserved", "maintenance"])
async def test_only_available_or_cleaning_tables_can_be_occupied(
    api: httpx.AsyncClient, table_ids: dict[str, str], status: str
) -> None:
    cleaning, other = table_ids["Table 5"], table_ids["Table 6"]
    await api.put(f"/api/v1/tables/{cleaning}", json={"status": "cleaning"})
    await api.put(f"/api/v1/tables/{other}", json={"status": status})

    assert (await api.post(f"/api/v1/tables/{cleaning}/occupy",
                           json={"order_id": "o-1"})).status_code == 200
    assert_error(await api.post(f"/api/v1/tables/{other}/occupy", json={"order_id": "o-2"}), 400)


async def test_put_cannot_move_a_table_into_or_out_of_occupied(
    api: httpx.AsyncClient, table_ids: dict[str, str]
) -> None:
    table = table_ids["Table 2"]
    assert_error(await api.put(f"/api/v1/tables/{table}", json={"status": "occupied"}), 400)
    assert_error(await api.put(f"/api/v1/tables/{table}", json={"status": "closed"}), 400)


async def test_pagination(api: httpx.AsyncClient) -> None:
    params = {"outlet_id": SEED_OUTLET_ID, "limit": 10}
    pages = [body(await api.get("/api/v1/tables", params={**params, "page": n}))
             for n in (1, 2, 3, 4)]

    assert [(p["total_count"], p["page"], p["limit"], p["total_pages"]) for p in pages] == [
        (25, n, 10, 3) for n in (1, 2, 3, 4)]
    assert [len(p["tables"]) for p in pages] == [10, 10, 5, 0]
    assert pages[2]["tables"][-1]["table_name"] == "Table 25"
    assert all(set(t) == LIST_ITEM_FIELDS for p in pages for t in p["tables"])
    default = body(await api.get("/api/v1/tables"))
    assert (default["page"], default["limit"], default["total_count"]) == (1, 10, 28)
    clamped = body(await api.get("/api/v1/tables", params={"limit": 500}))
    assert (clamped["limit"], clamped["total_pages"]) == (100, 1)


async def test_list_filters(api: httpx.AsyncClient, table_ids: dict[str, str]) -> None:
    await api.put(f"/api/v1/tables/{table_ids['Table 12']}", json={"is_active": False})

    def names(answer: httpx.Response) -> list[str]:
        return [t["table_name"] for t in answer.json()["tables"]]

    found = await api.get("/api/v1/tables", params={
        "outlet_id": SEED_OUTLET_ID, "search": "table 1", "limit": 100})
    inactive = await api.get("/api/v1/tables", params={"is_active": "false"})
    other = await api.get("/api/v1/tables", params={"outlet_id": OTHER_OUTLET_ID})

    assert names(found) == ["Table 1", *(f"Table {n}" for n in range(10, 20))]
    assert names(inactive) == ["Table 12"]
    assert names(other) == ["Table 1", "Table 2", "Table 3"]
    assert_error(await api.get("/api/v1/tables", params={"status": "closed"}), 400)
    assert_error(await api.get("/api/v1/tables", params={"page": "0"}), 400)


async def test_available_and_occupied_lists(
    api: httpx.AsyncClient, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    order = await control.open_order(table_ids["Table 3"], [{"product_id": "es-teh"}])

    available = (await api.get(f"/api/v1/outlets/{SEED_OUTLET_ID}/tables/available")).json()
    occupied = (await api.get(f"/api/v1/outlets/{SEED_OUTLET_ID}/tables/occupied")).json()

    assert len(available) == 24
    assert set(available[0]) == {"id", "table_name", "status", "capacity", "position_x",
                                 "position_y"}
    [entry] = occupied
    assert set(entry) == {"id", "table_name", "status", "start_time", "order_id", "capacity",
                          "position_x", "position_y", "order"}
    assert (entry["table_name"], entry["order_id"]) == ("Table 3", order["id"])
    assert entry["order"]["order_items"][0]["product_name"] == "Es Teh Manis"
    assert (await api.get("/api/v1/outlets/unknown/tables/occupied")).json() == []


# -- the assumed OrderResponse -------------------------------------------------------------


async def test_orders_in_both_money_forms(
    api: httpx.AsyncClient, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    items = [{"product_id": "kopi-susu", "quantity": 2, "notes": "less ice"}]
    await control.open_order(table_ids["Table 1"], items)
    await control.open_order(table_ids["Table 2"], items, money_format="number",
                             discount_amount="1000")

    as_strings = body(await api.get(f"/api/v1/tables/{table_ids['Table 1']}"))["order"]
    as_numbers = body(await api.get(f"/api/v1/tables/{table_ids['Table 2']}"))["order"]

    assert as_strings["currency"] == "IDR"
    assert (as_strings["subtotal"], as_strings["tax_amount"], as_strings["total_amount"]) == (
        "45001.00", "4500.10", "49501.10")
    assert as_strings["order_items"][0]["unit_price"] == "22500.50"
    assert as_strings["order_items"][0]["notes"] == "less ice"
    assert (as_numbers["subtotal"], as_numbers["discount_amount"],
            as_numbers["total_amount"]) == (Decimal("45001.0"), Decimal("1000.0"),
                                            Decimal("48501.1"))
    assert as_numbers["order_items"][0]["unit_price"] == Decimal("22500.5")


async def test_order_options_exercise_the_fallbacks(
    api: httpx.AsyncClient, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    table = table_ids["Table 8"]
    await control.open_order(table, [{"product_id": "es-teh"}], currency=None,
                             with_totals=False)
    order = (await api.get(f"/api/v1/tables/{table}")).json()["order"]
    assert "currency" not in order
    assert "total_amount" not in order

    await control.update_order(table, embedded=False)
    answer = (await api.get(f"/api/v1/tables/{table}")).json()
    assert answer["status"] == "occupied"
    assert "order" not in answer


# -- errors, auth, faults ------------------------------------------------------------------


async def test_unknown_tables_and_paths(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/api/v1/tables/no-such-table"), 404, "Table not found")
    assert_error(await api.get("/api/v1/chairs"), 404)
    assert_error(await api.patch("/api/v1/tables"), 405)


@pytest.mark.parametrize("raw", ["..%2F_control%2Freset", "%2E%2E", "%2E", "a%2Fb", "%252F",
                                 "%C3%BCn%C3%AF"])
async def test_an_escaped_id_is_one_segment(
    server: TableMgmtServer, api: httpx.AsyncClient, control: TableMgmtControl,
    table_ids: dict[str, str], raw: str,
) -> None:
    await control.open_order(table_ids["Table 9"])
    # httpx keeps these escapes as they are (aiohttp would resolve %2E%2E).
    answer = await api.get(f"/api/v1/tables/{raw}")

    assert_error(answer, 404, "Table not found")
    assert (await control.table(table_ids["Table 9"]))["table"]["status"] == "occupied"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Basic abc", 401),
        ("Bearer not-a-jwt", 401),
        (f"Bearer {mint_token('manager', expires_in=-60)}", 401),
        (f"Bearer {mint_token('manager', key='another key, at least 32 bytes long.....')}", 401),
        (f"Bearer {mint_token('waiter')}", 403),
        (f"Bearer {mint_token('admin')}", 200),
        (f"Bearer {mint_token('manager')}", 200),
    ],
    ids=["none", "basic", "garbage", "expired", "other-key", "waiter", "admin", "manager"],
)
async def test_every_call_needs_an_admin_or_manager_jwt(
    server: TableMgmtServer, header: str | None, status: int
) -> None:
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        answer = await client.get("/api/v1/tables")
    assert answer.status_code == status
    if status != 200:
        assert_error(answer, status)


async def test_a_revoked_token_is_refused(
    server: TableMgmtServer, control: TableMgmtControl
) -> None:
    token = await control.mint_token("manager")
    await control.revoke_token(token)
    async with httpx.AsyncClient(base_url=server.url,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        assert_error(await client.get("/api/v1/tables"), 401)


async def test_faults_apply_to_the_pos_api_only(
    api: httpx.AsyncClient, control: TableMgmtControl
) -> None:
    await control.set_faults(down=True)
    assert_error(await api.get("/api/v1/tables"), 503)
    assert (await control.seed())["outlet_id"] == SEED_OUTLET_ID

    await control.set_faults(error_rate=1.0)
    assert_error(await api.get("/api/v1/tables"), 500, "Internal server error")

    await control.reset()
    assert (await api.get("/api/v1/tables")).status_code == 200


async def test_requests_are_counted_per_path(
    api: httpx.AsyncClient, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    await api.get("/api/v1/tables", params={"page": 2})
    await api.get(f"/api/v1/tables/{table_ids['Table 1']}")
    await api.get(f"/api/v1/tables/{table_ids['Table 1']}")
    await control.tables()

    assert await control.requests() == {
        "GET /api/v1/tables": 1, f"GET /api/v1/tables/{table_ids['Table 1']}": 2}
    assert await control.request_count("/api/v1/tables/") == 2
    assert await control.request_count(method="POST") == 0
    await control.clear_requests()
    assert await control.request_count() == 0


# -- the control API -----------------------------------------------------------------------


async def test_the_restaurant_acts_through_the_control_api(
    control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    table = table_ids["Table 11"]
    order = await control.open_order(table, [{"product_id": "sate-ayam", "quantity": 2}])
    tea = await control.add_item(table, "es-teh", 3, notes="no sugar")
    await control.serve_item(tea["id"])
    await control.cancel_item(order["order_items"][0]["id"])
    await control.set_item_status(tea["id"], "on_hold")

    seen = await control.table(table)
    items = seen["order"]["order_items"]
    assert [(i["product_id"], i["quantity"], i["status"]) for i in items] == [
        ("sate-ayam", 2, "cancelled"), ("es-teh", 3, "on_hold")]
    assert seen["order"]["subtotal"] == "24000.00"

    await control.delete_item(tea["id"])
    released = await control.release(table)
    assert (released["status"], released["payment_amount"]) == ("available", "0.00")
    with pytest.raises(TableMgmtControlError) as caught:
        await control.release(table)
    assert caught.value.status_code == 400


async def test_tables_can_be_seeded_and_set_without_the_rules(
    control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    created = await control.create_table("Bar 1", capacity=2)
    await control.open_order(created["id"])
    forced = await control.set_table(created["id"], status="maintenance", is_active=False)

    assert (forced["status"], forced["is_active"]) == ("maintenance", False)
    assert "order_id" not in forced
    with pytest.raises(TableMgmtControlError):
        await control.create_table("Table 1")


async def test_reset_restores_the_seed(
    control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    await control.open_order(table_ids["Table 1"])
    await control.create_table("Extra")
    await control.set_faults(down=True)

    await control.reset()

    assert len(await control.tables()) == 28
    assert (await control.table(table_ids["Table 1"]))["table"]["status"] == "available"
    seed = await control.seed()
    assert (seed["currency"], len(seed["products"])) == ("IDR", 6)
