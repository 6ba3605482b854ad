"""The POS API over real HTTP: every call, its shapes and its errors."""

from __future__ import annotations

import httpx
import pytest

from pos_drivers.mock import MockPosControl, MockPosServer
from tests.mock_pos.helpers import item, post_lines


async def test_products_are_the_seed_catalogue(http: httpx.AsyncClient) -> None:
    products = {p["productId"]: p for p in (await http.get("/products")).json()}

    assert len(products) == 10
    assert products["ceviche"] == {
        "productId": "ceviche",
        "name": "Ceviche clásico",
        "price": 3500,
        "available": True,
        "stock": None,
    }
    assert products["anticuchos"]["stock"] == 10
    assert products["suspiro"]["stock"] == 5


async def test_tables_are_t1_to_t20_without_checks(http: httpx.AsyncClient) -> None:
    tables = (await http.get("/tables")).json()

    assert [t["tableId"] for t in tables] == [f"T{n}" for n in range(1, 21)]
    assert tables[14] == {"tableId": "T15", "name": "Mesa 15", "orderId": None, "updatedAt": None}


async def test_table_without_check_answers_an_empty_order(http: httpx.AsyncClient) -> None:
    response = await http.get("/tables/T1/order")

    assert response.status_code == 200
    assert response.json() == {"orderId": None, "tableId": "T1", "lines": [], "discounts": []}


async def test_unknown_table_is_404(http: httpx.AsyncClient) -> None:
    for response in (
        await http.get("/tables/T21/order"),
        await post_lines(http, "T21", item("ceviche", 1, 3500)),
        await http.get("/tables/T21/order/lines", params={"externalRef": "x"}),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "error": "TABLE_NOT_FOUND",
            "message": "unknown table 'T21'",
            "lines": [],
        }


async def test_adding_lines_opens_a_check(http: httpx.AsyncClient) -> None:
    response = await post_lines(
        http, "T2", item("ceviche", 2, 3500, "sub-1:a", "sin cebolla"), item("chicha", 1, 900)
    )

    assert response.status_code == 201
    order = response.json()
    assert order["orderId"].startswith("ord-")
    assert (order["tableId"], order["status"], order["currency"]) == ("T2", "OPEN", "PEN")
    first, second = order["lines"]
    assert first == {
        "lineId": first["lineId"],
        "productId": "ceviche",
        "name": "Ceviche clásico",
        "quantity": 2,
        "unitPrice": 3500,
        "status": "PENDING",
        "notes": "sin cebolla",
        "modifiers": [],
        "createdBy": "integration",
        "externalRef": "sub-1:a",
    }
    assert second["externalRef"] is None
    assert first["lineId"] != second["lineId"]
    assert (await http.get("/tables/T2/order")).json() == order
    table = (await http.get("/tables")).json()[1]
    assert (table["orderId"], table["updatedAt"]) == (order["orderId"], order["updatedAt"])


async def test_null_order_id_adds_to_the_open_check(http: httpx.AsyncClient) -> None:
    first = (await post_lines(http, "T1", item("causa", 1, 2200))).json()
    second = (await post_lines(http, "T1", item("causa", 1, 2200))).json()
    third = (await post_lines(http, "T1", item("chicha", 1, 900), order_id=first["orderId"])).json()

    assert first["orderId"] == second["orderId"] == third["orderId"]
    assert len(third["lines"]) == 3
    assert first["updatedAt"] < second["updatedAt"] < third["updatedAt"]


async def test_line_ids_are_unique_across_tables(http: httpx.AsyncClient) -> None:
    one = (await post_lines(http, "T1", item("causa", 1, 2200))).json()
    two = (await post_lines(http, "T2", item("causa", 1, 2200))).json()

    assert one["lines"][0]["lineId"] != two["lines"][0]["lineId"]
    assert one["orderId"] != two["orderId"]


@pytest.mark.parametrize(
    ("setup", "line", "expected"),
    [
        ({}, item("tamales", 1, 100), {"error": "UNKNOWN_PRODUCT"}),
        ({"available": False}, item("ceviche", 1, 3500), {"error": "DELISTED"}),
        ({"stock": 0}, item("ceviche", 1, 3500), {"error": "OUT_OF_STOCK", "available": 0}),
        ({"stock": 3}, item("ceviche", 4, 3500), {"error": "INSUFFICIENT_STOCK", "available": 3}),
        (
            {"price": 3900},
            item("ceviche", 1, 3500),
            {"error": "PRICE_CHANGED", "currentPrice": 3900},
        ),
    ],
)
async def test_each_item_refusal(
    http: httpx.AsyncClient,
    control: MockPosControl,
    setup: dict[str, object],
    line: dict[str, object],
    expected: dict[str, object],
) -> None:
    if setup:
        await control.set_product("ceviche", **setup)

    response = await post_lines(http, "T1", line)

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ITEMS_REJECTED"
    defaults = {"index": 0, "productId": line["productId"], "available": None, "currentPrice": None}
    assert body["lines"] == [defaults | expected]


async def test_refusal_is_all_or_nothing_and_names_every_failing_line(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    await control.set_product("lomo-saltado", available=False)

    response = await post_lines(
        http,
        "T1",
        item("ceviche", 1, 3500, "s:0"),
        item("lomo-saltado", 1, 4200, "s:1"),
        item("anticuchos", 2, 2800, "s:2"),
        item("chicha", 1, 800, "s:3"),
    )

    assert response.status_code == 422
    assert [(x["index"], x["error"]) for x in response.json()["lines"]] == [
        (1, "DELISTED"),
        (3, "PRICE_CHANGED"),
    ]
    assert (await control.table("T1")) == {"open": None, "closed": []}
    products = {p["productId"]: p for p in (await http.get("/products")).json()}
    assert products["anticuchos"]["stock"] == 10
    retry = await post_lines(http, "T1", item("ceviche", 1, 3500, "s:0"))
    assert retry.status_code == 201, "refs of a refused call stay free"


async def test_accepted_lines_take_stock(http: httpx.AsyncClient) -> None:
    await post_lines(http, "T1", item("anticuchos", 4, 2800), item("anticuchos", 2, 2800))

    products = {p["productId"]: p for p in (await http.get("/products")).json()}
    assert products["anticuchos"]["stock"] == 4
    response = await post_lines(http, "T2", item("anticuchos", 5, 2800))
    assert response.json()["lines"][0]["available"] == 4


async def test_lines_of_one_call_draw_on_the_same_stock(http: httpx.AsyncClient) -> None:
    response = await post_lines(http, "T1", item("suspiro", 3, 1500), item("suspiro", 3, 1500))

    assert response.status_code == 422
    assert response.json()["lines"] == [
        {
            "index": 1,
            "productId": "suspiro",
            "error": "INSUFFICIENT_STOCK",
            "available": 2,
            "currentPrice": None,
        }
    ]


async def test_duplicate_ref_answers_the_existing_lines(http: httpx.AsyncClient) -> None:
    created = (await post_lines(http, "T1", item("causa", 1, 2200, "sub-9:a"))).json()

    again = await post_lines(http, "T1", item("causa", 1, 2200, "sub-9:a"))
    elsewhere = await post_lines(http, "T5", item("chicha", 1, 900, "sub-9:a"))

    for response in (again, elsewhere):
        assert response.status_code == 409
        assert response.json()["error"] == "DUPLICATE_REF"
        assert response.json()["lines"] == created["lines"]
    assert len((await http.get("/tables/T1/order")).json()["lines"]) == 1
    assert (await http.get("/tables/T5/order")).json()["orderId"] is None


async def test_duplicate_ref_wins_over_a_closed_check(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    created = (await post_lines(http, "T1", item("causa", 1, 2200, "sub-3:a"))).json()
    await control.close_table("T1")

    response = await post_lines(
        http, "T1", item("causa", 1, 2200, "sub-3:a"), order_id=created["orderId"]
    )

    assert response.status_code == 409
    assert response.json()["error"] == "DUPLICATE_REF"
    assert response.json()["lines"][0]["lineId"] == created["lines"][0]["lineId"]


async def test_a_ref_repeated_within_one_call_is_invalid(http: httpx.AsyncClient) -> None:
    response = await post_lines(
        http, "T1", item("causa", 1, 2200, "r"), item("causa", 1, 2200, "r")
    )

    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_REQUEST"


async def test_order_closed_when_the_expected_check_is_not_open(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    no_check = await post_lines(http, "T1", item("causa", 1, 2200), order_id="ord-404")
    opened = (await post_lines(http, "T1", item("causa", 1, 2200))).json()
    wrong = await post_lines(http, "T1", item("causa", 1, 2200), order_id="ord-404")
    await control.close_table("T1")
    closed = await post_lines(http, "T1", item("causa", 1, 2200), order_id=opened["orderId"])

    for response in (no_check, wrong, closed):
        assert response.status_code == 409
        assert response.json()["error"] == "ORDER_CLOSED"
    assert (await control.table("T1"))["open"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"orderId": None, "lines": []},
        {"orderId": None},
        {"orderId": 5, "lines": [item("causa", 1, 2200)]},
        {"orderId": None, "lines": [item("causa", 0, 2200)]},
        {"orderId": None, "lines": [item("causa", True, 2200)]},
        {"orderId": None, "lines": [item("causa", 1, -1)]},
        {"orderId": None, "lines": [{"productId": "causa", "quantity": 1}]},
        {"orderId": None, "lines": ["causa"]},
        ["not", "an", "object"],
    ],
)
async def test_malformed_bodies_are_400(http: httpx.AsyncClient, body: object) -> None:
    response = await http.post("/tables/T1/order/lines", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_REQUEST"


async def test_find_lines_by_ref_prefix_across_open_and_closed_checks(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    await post_lines(
        http, "T1", item("causa", 1, 2200, "sub-1:a"), item("chicha", 1, 900, "sub-1:b")
    )
    await control.close_table("T1")
    await post_lines(http, "T1", item("causa", 1, 2200, "sub-2:a"), item("chicha", 1, 900))
    await control.add_waiter_lines("T1", [{"productId": "causa", "quantity": 1}])

    async def refs(prefix: str) -> list[str]:
        response = await http.get("/tables/T1/order/lines", params={"externalRef": prefix})
        return [line["externalRef"] for line in response.json()["lines"]]

    assert sorted(await refs("sub-1:")) == ["sub-1:a", "sub-1:b"]
    assert await refs("sub-2:") == ["sub-2:a"]
    assert await refs("sub-3:") == []
    assert sorted(await refs("")) == ["sub-1:a", "sub-1:b", "sub-2:a"]
    other = await http.get("/tables/T2/order/lines", params={"externalRef": "sub-1:"})
    assert other.json() == {"lines": []}


async def test_changes_without_cursor_list_open_checks(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    t1 = (await post_lines(http, "T1", item("causa", 1, 2200))).json()
    await post_lines(http, "T2", item("causa", 1, 2200))
    await control.close_table("T2")

    answer = (await http.get("/orders/changes")).json()

    assert answer["changes"] == [
        {"tableId": "T1", "orderId": t1["orderId"], "updatedAt": t1["updatedAt"]}
    ]
    assert isinstance(answer["cursor"], str)


async def test_changes_since_a_cursor(http: httpx.AsyncClient, control: MockPosControl) -> None:
    cursor = (await http.get("/orders/changes")).json()["cursor"]
    await post_lines(http, "T3", item("causa", 1, 2200))
    order = await control.add_waiter_lines("T3", [{"productId": "chicha", "quantity": 1}])
    await post_lines(http, "T4", item("causa", 1, 2200))
    closed = await control.close_table("T4")

    answer = (await http.get("/orders/changes", params={"since": cursor})).json()

    assert answer["changes"] == [
        {"tableId": "T3", "orderId": order["orderId"], "updatedAt": order["updatedAt"]},
        {"tableId": "T4", "orderId": closed["orderId"], "updatedAt": closed["updatedAt"]},
    ]
    latest = (await http.get("/orders/changes", params={"since": answer["cursor"]})).json()
    assert latest == {"changes": [], "cursor": answer["cursor"]}


async def test_a_cursor_of_another_server_instance_is_gone() -> None:
    async with (
        MockPosServer() as first,
        httpx.AsyncClient(base_url=first.url, verify=False) as http,
    ):
        await post_lines(http, "T1", item("causa", 1, 2200))
        cursor = (await http.get("/orders/changes")).json()["cursor"]
        port = first.port

    async with (
        MockPosServer(port=port) as second,
        httpx.AsyncClient(base_url=second.url, verify=False) as http,
    ):
        await post_lines(http, "T1", item("causa", 1, 2200))
        response = await http.get("/orders/changes", params={"since": cursor})

    assert response.status_code == 410
    assert response.json()["error"] == "CURSOR_EXPIRED"


@pytest.mark.parametrize("cursor", ["", "garbage", "abc-1", "-1"])
async def test_unknown_cursors_are_gone(http: httpx.AsyncClient, cursor: str) -> None:
    response = await http.get("/orders/changes", params={"since": cursor})

    assert response.status_code == 410


async def test_a_cursor_from_before_a_reset_is_gone(
    http: httpx.AsyncClient, control: MockPosControl
) -> None:
    cursor = (await http.get("/orders/changes")).json()["cursor"]
    await control.reset()

    assert (await http.get("/orders/changes", params={"since": cursor})).status_code == 410


async def test_unknown_paths_answer_json_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"
