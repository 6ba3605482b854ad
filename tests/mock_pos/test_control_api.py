"""The control API: acting as the restaurant, through MockPosControl."""

from __future__ import annotations

import httpx
import pytest

from pos_drivers.mock import MockPosControl, MockPosControlError
from tests.mock_pos.helpers import item, post_lines


async def test_health(control: MockPosControl) -> None:
    assert await control.health() is True


async def test_waiter_lines_open_a_check_at_the_product_price(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    await control.set_product("causa", price=2500)

    order = await control.add_waiter_lines(
        "T7", [{"productId": "causa", "quantity": 2, "notes": "sin ají"}]
    )

    (line,) = order["lines"]
    assert (line["unitPrice"], line["createdBy"], line["externalRef"]) == (2500, "waiter", None)
    assert (line["quantity"], line["notes"], line["status"]) == (2, "sin ají", "PENDING")
    assert (await http.get("/tables/T7/order")).json() == order
    assert (await control.table("T7")) == {"open": order, "closed": []}


async def test_waiter_lines_take_stock_and_are_checked(control: MockPosControl) -> None:
    await control.add_waiter_lines("T1", [{"productId": "suspiro", "quantity": 4}])

    with pytest.raises(MockPosControlError) as refused:
        await control.add_waiter_lines("T1", [{"productId": "suspiro", "quantity": 2}])

    assert (refused.value.status_code, refused.value.code) == (422, "ITEMS_REJECTED")
    with pytest.raises(MockPosControlError) as unknown:
        await control.add_waiter_lines("T1", [{"productId": "nope", "quantity": 1}])
    assert unknown.value.code == "ITEMS_REJECTED"
    assert (await control.table("T1"))["open"]["lines"][0]["quantity"] == 4


async def test_integration_and_waiter_lines_share_the_check(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    opened = (await post_lines(http, "T1", item("ceviche", 1, 3500, "s:1"))).json()

    order = await control.add_waiter_lines("T1", [{"productId": "chicha", "quantity": 1}])

    assert order["orderId"] == opened["orderId"]
    assert [line["createdBy"] for line in order["lines"]] == ["integration", "waiter"]


async def test_patch_line(control: MockPosControl) -> None:
    order = await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
    line_id = order["lines"][0]["lineId"]

    line = await control.patch_line(
        line_id, status="PREPARING", quantity=3, unit_price=2000, notes="tibia"
    )

    assert (line["status"], line["quantity"], line["unitPrice"], line["notes"]) == (
        "PREPARING",
        3,
        2000,
        "tibia",
    )
    after = (await control.table("T1"))["open"]
    assert after["lines"][0] == line
    assert after["updatedAt"] > order["updatedAt"]
    cleared = await control.patch_line(line_id, notes=None)
    assert (cleared["notes"], cleared["status"]) == (None, "PREPARING")


@pytest.mark.parametrize(
    "fields",
    [{"status": "EATEN"}, {"quantity": 0}, {"unit_price": -5}, {"colour": "red"}, {}],
)
async def test_patch_line_refuses_bad_fields(
    control: MockPosControl, fields: dict[str, object]
) -> None:
    order = await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])

    with pytest.raises(MockPosControlError) as refused:
        await control.patch_line(order["lines"][0]["lineId"], **fields)

    assert (refused.value.status_code, refused.value.code) == (400, "INVALID_REQUEST")


async def test_delete_line_removes_it_and_its_discounts(control: MockPosControl) -> None:
    order = await control.add_waiter_lines(
        "T1", [{"productId": "causa", "quantity": 1}, {"productId": "chicha", "quantity": 1}]
    )
    causa, chicha = (line["lineId"] for line in order["lines"])
    await control.add_discount("T1", "cortesía", 500, line_id=causa)
    whole = await control.add_discount("T1", "happy hour", 300)

    await control.delete_line(causa)

    after = (await control.table("T1"))["open"]
    assert [line["lineId"] for line in after["lines"]] == [chicha]
    assert after["discounts"] == [whole]
    with pytest.raises(MockPosControlError) as gone:
        await control.delete_line(causa)
    assert (gone.value.status_code, gone.value.code) == (404, "LINE_NOT_FOUND")


async def test_discounts(control: MockPosControl) -> None:
    order = await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
    line_id = order["lines"][0]["lineId"]

    on_line = await control.add_discount("T1", "cortesía", 500, line_id=line_id)
    on_check = await control.add_discount("T1", "happy hour", 300)

    assert on_line == {
        "discountId": on_line["discountId"],
        "name": "cortesía",
        "amount": 500,
        "lineId": line_id,
    }
    assert on_check["lineId"] is None
    assert (await control.table("T1"))["open"]["discounts"] == [on_line, on_check]
    await control.delete_discount(on_line["discountId"])
    assert (await control.table("T1"))["open"]["discounts"] == [on_check]


async def test_discount_refusals(control: MockPosControl) -> None:
    with pytest.raises(MockPosControlError) as no_check:
        await control.add_discount("T1", "x", 100)
    await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
    with pytest.raises(MockPosControlError) as no_line:
        await control.add_discount("T1", "x", 100, line_id="ln-999")
    with pytest.raises(MockPosControlError) as no_discount:
        await control.delete_discount("dsc-999")

    assert (no_check.value.status_code, no_check.value.code) == (409, "ORDER_CLOSED")
    assert (no_line.value.status_code, no_line.value.code) == (404, "LINE_NOT_FOUND")
    assert (no_discount.value.status_code, no_discount.value.code) == (404, "DISCOUNT_NOT_FOUND")


async def test_close_table_frees_it(http: httpx.AsyncClient, control: MockPosControl) -> None:
    order = await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])

    closed = await control.close_table("T1")

    assert (closed["orderId"], closed["status"]) == (order["orderId"], "CLOSED")
    assert closed["updatedAt"] > order["updatedAt"]
    assert (await control.table("T1")) == {"open": None, "closed": [closed]}
    assert (await http.get("/tables/T1/order")).json()["orderId"] is None
    reopened = await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
    assert reopened["orderId"] != order["orderId"]
    assert len((await control.table("T1"))["closed"]) == 1


async def test_a_closed_check_cannot_be_edited(control: MockPosControl) -> None:
    order = await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
    await control.close_table("T1")

    with pytest.raises(MockPosControlError) as patch:
        await control.patch_line(order["lines"][0]["lineId"], status="DELIVERED")
    with pytest.raises(MockPosControlError) as close:
        await control.close_table("T1")

    assert (patch.value.status_code, patch.value.code) == (409, "ORDER_CLOSED")
    assert (close.value.status_code, close.value.code) == (409, "ORDER_CLOSED")


async def test_set_product(http: httpx.AsyncClient, control: MockPosControl) -> None:
    product = await control.set_product("ceviche", price=3900, available=False, stock=7)

    assert product == {
        "productId": "ceviche",
        "name": "Ceviche clásico",
        "price": 3900,
        "available": False,
        "stock": 7,
    }
    assert product in (await http.get("/products")).json()
    unlimited = await control.set_product("ceviche", stock=None)
    assert unlimited["stock"] is None
    with pytest.raises(MockPosControlError) as unknown:
        await control.set_product("nope", price=1)
    assert (unknown.value.status_code, unknown.value.code) == (404, "PRODUCT_NOT_FOUND")


async def test_unknown_table(control: MockPosControl) -> None:
    with pytest.raises(MockPosControlError) as refused:
        await control.table("T0")

    assert (refused.value.status_code, refused.value.code) == (404, "TABLE_NOT_FOUND")


async def test_reset_restores_the_seed_data(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    await control.add_waiter_lines("T1", [{"productId": "anticuchos", "quantity": 3}])
    await control.set_product("ceviche", price=1)
    await control.set_faults(error_rate=1.0)

    await control.reset()

    assert (await control.table("T1")) == {"open": None, "closed": []}
    products = {p["productId"]: p for p in (await http.get("/products")).json()}
    assert (products["anticuchos"]["stock"], products["ceviche"]["price"]) == (10, 3500)
    order = await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])
    assert (order["orderId"], order["lines"][0]["lineId"]) == ("ord-1", "ln-1")


@pytest.mark.parametrize(
    "body",
    [{"errorRate": 1.5}, {"errorRate": "x"}, {"down": "yes"}, {"latencyMs": -1}],
)
async def test_bad_faults_are_400(http: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await http.put("/_control/faults", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_REQUEST"
