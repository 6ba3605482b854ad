"""The mapping module's assumptions, one by one, as pure functions."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_drivers import LineStatus, PosCheck, PosDiscount, PosLine, PosTotals, TableUnavailable
from pos_drivers.tablemgmt._mapping import (
    ITEM_STATUS,
    MalformedAnswer,
    TableState,
    check_of,
    currency_of,
    error_of,
    item_status,
    loads,
    minor_units,
    occupied_tables,
    table_page,
    table_state,
    to_minor,
)

TABLE = "6b1d0c62-4e2a-4b0f-9d5e-1f2a3b4c5d6e"
ORDER = "3c9e5a1b-7d2f-4e8a-b6c4-0a1b2c3d4e5f"


def item(**fields: Any) -> dict[str, Any]:
    return {
        "id": "item-1",
        "product_id": "nasi-goreng",
        "product_name": "Nasi Goreng",
        "quantity": 2,
        "unit_price": "45000.00",
        "total_price": "90000.00",
        "status": "pending",
        **fields,
    }


def occupied(order: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "id": TABLE,
        "outlet_id": "outlet",
        "table_name": "Table 7",
        "status": "occupied",
        "order_id": ORDER,
        "start_time": "2026-11-21T19:00:00Z",
        "payment_amount": "0.00",
        "is_active": True,
        **fields,
    }
    if order is not None:
        table["order"] = order
    return table


def read(table: dict[str, Any], currency: str = "IDR") -> PosCheck:
    return check_of(table, table_id="Table 7", default_currency=currency).check


# -- A1, A2: numbers and money -----------------------------------------------------------


def test_json_numbers_keep_their_exact_decimal_form() -> None:
    assert loads(b'{"a": 12.5, "b": 0.1, "c": 7}') == {
        "a": Decimal("12.5"), "b": Decimal("0.1"), "c": 7}


@pytest.mark.parametrize("text", [b"NaN", b'{"a": Infinity}', b"-Infinity", b"<html>", b""])
def test_what_is_not_json_or_not_a_number_is_malformed(text: bytes) -> None:
    with pytest.raises(MalformedAnswer):
        loads(text)


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("45000.00", "IDR", 4500000),
        (Decimal("12.5"), "PEN", 1250),
        (7, "USD", 700),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        (" 3.10 ", "EUR", 310),
        ("0.005", "USD", 1),  # half up
        ("0.004", "USD", 0),
        ("-2.50", "USD", -250),
        ("1E+3", "USD", 100000),
        ("19.99", "XYZ", 1999),  # not in the table: 2 decimals
    ],
)
def test_money_to_minor_units(value: object, currency: str, minor: int) -> None:
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize("value", [True, None, 12.5, "", "abc", "NaN", "Infinity", [], {}])
def test_money_that_is_not_a_decimal_is_malformed(value: object) -> None:
    with pytest.raises(MalformedAnswer):
        to_minor(value, "IDR")


def test_iso_4217_exponents() -> None:
    assert [minor_units(c) for c in ("IDR", "JPY", "KWD", "CLF", "PEN", "QQQ")] == [
        2, 0, 3, 4, 2, 2]


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["IDR", "JPY", "KWD", "CLF", "USD"]),
)
def test_a_decimal_string_or_number_gives_back_its_minor_units(minor: int, currency: str) -> None:
    amount = Decimal(minor).scaleb(-minor_units(currency))
    as_string = str(amount)
    as_json_number = loads(json.dumps({"v": "X"}).replace('"X"', as_string))["v"]

    assert to_minor(as_string, currency) == minor
    assert to_minor(as_json_number, currency) == minor


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6,
                   min_value=-(10**9), max_value=10**9))
def test_extra_digits_round_half_up_to_the_nearest_minor_unit(amount: Decimal) -> None:
    minor = to_minor(str(amount), "USD")
    assert abs(Decimal(minor) - amount * 100) <= Decimal("0.5")
    assert to_minor(str(amount), "USD") == to_minor(amount, "USD")


# -- A5, A8: statuses ------------------------------------------------------------------


def test_item_statuses() -> None:
    assert {raw: item_status(raw) for raw in ITEM_STATUS} == {
        "pending": LineStatus.PENDING,
        "preparing": LineStatus.PREPARING,
        "ready": LineStatus.READY,
        "served": LineStatus.DELIVERED,
        "completed": LineStatus.DELIVERED,
        "cancelled": LineStatus.CANCELLED,
        "void": LineStatus.CANCELLED,
    }
    assert item_status(" Served ") is LineStatus.DELIVERED
    assert item_status("on_hold") is None
    assert item_status(None) is None


@pytest.mark.parametrize(
    ("status", "active", "state", "unknown"),
    [
        ("available", True, TableState.FREE, None),
        ("cleaning", True, TableState.FREE, None),
        ("occupied", True, TableState.OCCUPIED, None),
        ("reserved", True, TableState.UNAVAILABLE, None),
        ("maintenance", True, TableState.UNAVAILABLE, None),
        ("available", False, TableState.UNAVAILABLE, None),
        ("occupied", False, TableState.UNAVAILABLE, None),
        ("blocked", True, TableState.UNAVAILABLE, "blocked"),
    ],
)
def test_table_states(
    status: str, active: bool, state: TableState, unknown: str | None
) -> None:
    assert table_state({"status": status, "is_active": active}) == (state, unknown)


# -- A3-A9: a table's check ------------------------------------------------------------


def test_an_occupied_table_with_its_order() -> None:
    order = {
        "id": ORDER,
        "order_number": "ORD-1",
        "status": "open",
        "currency": "IDR",
        "subtotal": "112500.50",
        "tax_amount": Decimal("11250.05"),
        "discount_amount": "5000",
        "total_amount": Decimal("118750.55"),
        "order_items": [
            item(),
            item(id="item-2", product_id="kopi-susu", product_name="Es Kopi Susu", quantity=1,
                 unit_price=Decimal("22500.50"), status="served", notes="less sugar"),
            item(id="item-3", status="cancelled", notes=""),
        ],
        "a_field_nobody_documented": {"x": 1},
    }

    check = read(occupied(order))

    assert check == PosCheck(
        table_id="Table 7",
        table_name="Table 7",
        order_id=ORDER,
        currency="IDR",
        lines=(
            PosLine("item-1", "nasi-goreng", "Nasi Goreng", 2, 4500000, LineStatus.PENDING),
            PosLine("item-2", "kopi-susu", "Es Kopi Susu", 1, 2250050, LineStatus.DELIVERED,
                    notes="less sugar"),
            PosLine("item-3", "nasi-goreng", "Nasi Goreng", 2, 4500000, LineStatus.CANCELLED),
        ),
        discounts=(PosDiscount(f"{ORDER}:discount", "Discount", 500000),),
        totals=PosTotals(subtotal=11250050, discount_total=500000, tax_total=1125005,
                         total=11875055),
    )


def test_unknown_item_statuses_are_pending_and_named_once() -> None:
    order = {"id": ORDER, "order_items": [
        item(status="on_hold"), item(id="item-2", status="on_hold"), item(id="i3", status=None)]}

    reading = check_of(occupied(order), table_id="Table 7", default_currency="IDR")

    assert [line.status for line in reading.check.lines] == [LineStatus.PENDING] * 3
    assert reading.unknown_statuses == {"on_hold", "None"}


@pytest.mark.parametrize("status", ["available", "cleaning"])
def test_a_free_table_has_no_check(status: str) -> None:
    table = occupied(status=status)
    del table["order_id"]
    assert read(table) == PosCheck("Table 7", "Table 7", None, "IDR")


@pytest.mark.parametrize(
    "fields", [{"status": "reserved"}, {"status": "maintenance"}, {"is_active": False},
               {"status": "available", "is_active": False}, {"status": "blocked"}],
)
def test_unavailable_tables(fields: dict[str, Any]) -> None:
    with pytest.raises(TableUnavailable) as caught:
        read(occupied(**fields))
    assert "Table 7" in caught.value.message


def test_an_occupied_table_without_its_order_is_an_open_check_without_lines() -> None:
    check = read(occupied(None))
    assert (check.order_id, check.lines, check.totals) == (ORDER, (), None)


def test_the_check_id_falls_back_to_the_order_then_to_the_occupation() -> None:
    assert read(occupied({"id": "ord-9"}, order_id=None)).order_id == "ord-9"
    assert read(occupied(None, order_id=None)).order_id == f"{TABLE}@2026-11-21T19:00:00Z"


def test_an_order_without_items_or_totals() -> None:
    check = read(occupied({"id": ORDER, "order_items": None, "subtotal": "0.00"}))
    assert (check.lines, check.totals, check.discounts) == ((), None, ())


@pytest.mark.parametrize(
    ("order_currency", "expected"),
    [("JPY", "JPY"), ("usd", "USD"), (None, "IDR"), ("", "IDR"), ("RUPIAH", "IDR"), (5, "IDR")],
)
def test_the_currency_comes_from_the_order_else_the_setting(
    order_currency: object, expected: str
) -> None:
    assert currency_of({"currency": order_currency}, "IDR") == expected
    check = read(occupied({"id": ORDER, "currency": order_currency, "order_items": [item()]}))
    assert check.currency == expected


def test_minor_units_follow_the_order_currency() -> None:
    order = {"id": ORDER, "currency": "JPY", "order_items": [item(unit_price="1500")]}
    assert read(occupied(order)).lines[0].unit_price == 1500


@pytest.mark.parametrize(
    "bad_item",
    [
        {"id": None},
        {"id": ""},
        {"id": "x" * 129},
        {"quantity": 0},
        {"quantity": "1.5"},
        {"quantity": None},
        {"unit_price": 12.5},  # a float: parsed without parse_float=Decimal
        {"unit_price": "free"},
    ],
)
def test_items_that_cannot_be_lines_are_malformed(bad_item: dict[str, Any]) -> None:
    with pytest.raises(MalformedAnswer):
        read(occupied({"id": ORDER, "order_items": [item(**bad_item)]}))


def test_a_whole_quantity_written_as_a_decimal_is_accepted() -> None:
    order = {"id": ORDER, "order_items": [item(quantity=Decimal("3.0"))]}
    assert read(occupied(order)).lines[0].quantity == 3


def test_an_item_without_product_is_the_unknown_product() -> None:
    order = {"id": ORDER, "order_items": [item(product_id=None, product_name=None)]}
    line = read(occupied(order)).lines[0]
    assert (line.product_id, line.name) == ("unknown", "")


def test_two_items_with_one_id_are_malformed() -> None:
    with pytest.raises(MalformedAnswer, match="share"):
        read(occupied({"id": ORDER, "order_items": [item(), item()]}))


@pytest.mark.parametrize(
    "table", [[], "x", {"status": "occupied", "order": []},
              {"status": "occupied", "order": {"order_items": {}}}],
)
def test_malformed_tables(table: Any) -> None:
    with pytest.raises(MalformedAnswer):
        check_of(table, table_id="T", default_currency="IDR")


# -- A10, A11: lists -------------------------------------------------------------------


def test_a_table_page() -> None:
    page = table_page({"tables": [{"id": "a", "table_name": "Table 1", "status": "available"}],
                       "total_count": 21, "page": 1, "limit": 10, "total_pages": 3})
    assert (page.tables, page.total_pages) == ((("a", "Table 1"),), 3)
    assert table_page({"tables": [], "total_pages": 0}).total_pages == 0
    assert table_page({"tables": None}).tables == ()


@pytest.mark.parametrize("body", [[], {"tables": {}}, {"tables": [{"id": None}]},
                                  {"tables": [], "total_pages": "3"}])
def test_malformed_table_pages(body: Any) -> None:
    with pytest.raises(MalformedAnswer):
        table_page(body)


def test_occupied_entries_change_with_their_order_not_with_key_order_or_number_form() -> None:
    before = occupied_tables(loads(json.dumps([
        {"id": "a", "table_name": "Table 1", "order_id": "o1",
         "order": {"id": "o1", "order_items": [{"id": "i", "unit_price": "8000.00"}]}},
    ])))
    same = occupied_tables(loads(b'[{"order": {"order_items": [{"unit_price": "8000.00",'
                                 b' "id": "i"}], "id": "o1"}, "order_id": "o1", "id": "a",'
                                 b' "table_name": "Table 1", "capacity": 4}]'))
    other_item = occupied_tables(loads(
        b'[{"id": "a", "order_id": "o1", "order": {"id": "o1",'
        b' "order_items": [{"id": "i", "unit_price": "9000.00"}]}}]'))
    other_order = occupied_tables(loads(b'[{"id": "a", "order_id": "o2"}]'))

    assert before["a"].table_name == "Table 1"
    assert before["a"].fingerprint == same["a"].fingerprint
    assert before["a"].fingerprint != other_item["a"].fingerprint
    assert before["a"].fingerprint != other_order["a"].fingerprint


def test_the_occupied_list_is_an_array() -> None:
    with pytest.raises(MalformedAnswer):
        occupied_tables({"tables": []})


# -- A12: errors -----------------------------------------------------------------------


def test_error_bodies() -> None:
    assert error_of(b'{"error": "Table not found", "message": "no such table"}') == (
        "Table not found", "no such table")
    assert error_of(b"<html>502 Bad Gateway</html>") == (None, "<html>502 Bad Gateway</html>")
    assert error_of(b'["odd"]') == (None, "['odd']")
