"""TableMgmtDriver against the imitation over real HTTP: snapshots and error mapping."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import httpx
import pytest

from pos_drivers import (
    Capability,
    DriverConfig,
    LineStatus,
    NewLine,
    NotSupported,
    PosCheck,
    PosDiscount,
    PosLine,
    PosTotals,
    PosUnavailable,
    TableNotFound,
    TableUnavailable,
    load_driver,
)
from pos_drivers.tablemgmt import (
    OTHER_OUTLET_ID,
    TableMgmtControl,
    TableMgmtDriver,
    TableMgmtServer,
    TableMgmtSettings,
)
from tests.tablemgmt.conftest import MakeDriver


def test_registered_read_only_with_batch_changes() -> None:
    assert load_driver("tablemgmt") is TableMgmtDriver
    assert TableMgmtDriver.name == "tablemgmt"
    assert TableMgmtDriver.capabilities == {Capability.BATCH_CHANGES}


async def test_a_free_table_by_id_and_by_name(
    driver: TableMgmtDriver, table_ids: dict[str, str]
) -> None:
    table = table_ids["Table 4"]
    assert await driver.read_check(table) == PosCheck(table, "Table 4", None, "IDR")
    assert await driver.read_check("Table 4") == PosCheck("Table 4", "Table 4", None, "IDR")


async def test_an_open_check_with_every_line_and_the_pos_totals(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    table = table_ids["Table 7"]
    order = await control.open_order(table, [
        {"product_id": "nasi-goreng", "quantity": 2},
        {"product_id": "kopi-susu", "quantity": 1, "notes": "less sugar"},
    ], discount_amount="5000")
    items = order["order_items"]
    await control.serve_item(items[1]["id"])
    spoon = await control.add_item(table, "es-teh", 3)
    await control.cancel_item(spoon["id"])

    check = await driver.read_check("Table 7")

    assert check == PosCheck(
        table_id="Table 7",
        table_name="Table 7",
        order_id=order["id"],
        currency="IDR",
        lines=(
            PosLine(items[0]["id"], "nasi-goreng", "Nasi Goreng Spesial", 2, 4500000,
                    LineStatus.PENDING),
            PosLine(items[1]["id"], "kopi-susu", "Es Kopi Susu", 1, 2250050,
                    LineStatus.DELIVERED, notes="less sugar"),
            PosLine(spoon["id"], "es-teh", "Es Teh Manis", 3, 800000, LineStatus.CANCELLED),
        ),
        discounts=(PosDiscount(f"{order['id']}:discount", "Discount", 500000),),
        # 112500.50 + 10 % tax (11250.05) - 5000.00
        totals=PosTotals(subtotal=11250050, discount_total=500000, tax_total=1125005,
                         total=11875055),
    )


@pytest.mark.parametrize("money_format", ["string", "number"])
async def test_both_money_forms_give_the_same_minor_units(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str],
    money_format: str,
) -> None:
    await control.open_order(table_ids["Table 2"], [{"product_id": "kopi-susu", "quantity": 3}],
                             money_format=money_format)
    raw = (await control.table(table_ids["Table 2"]))["order"]["order_items"][0]["unit_price"]

    check = await driver.read_check("Table 2")

    assert isinstance(raw, str if money_format == "string" else float)
    assert check.lines[0].unit_price == 2250050
    assert check.totals == PosTotals(6750150, 0, 675015, 7425165)


async def test_an_order_without_currency_or_totals_uses_the_setting_and_lets_the_adapter_sum(
    make_driver: MakeDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    await control.open_order(table_ids["Table 5"], [{"product_id": "es-teh"}], currency=None,
                             with_totals=False)
    async with make_driver(currency="USD") as driver:
        check = await driver.read_check("Table 5")
    assert (check.currency, check.totals, check.lines[0].unit_price) == ("USD", None, 800000)


async def test_an_occupied_table_whose_order_is_not_embedded_is_open_without_lines(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    order = await control.open_order(table_ids["Table 6"], [{"product_id": "es-teh"}])
    await control.update_order(table_ids["Table 6"], embedded=False)

    check = await driver.read_check("Table 6")

    assert (check.order_id, check.lines) == (order["id"], ())


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"status": "available"}, None),
        ({"status": "cleaning"}, None),
        ({"status": "reserved"}, TableUnavailable),
        ({"status": "maintenance"}, TableUnavailable),
        ({"status": "available", "is_active": False}, TableUnavailable),
    ],
)
async def test_every_table_status(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str],
    fields: dict[str, object], expected: type[Exception] | None,
) -> None:
    await control.set_table(table_ids["Table 3"], **fields)
    if expected is None:
        assert (await driver.read_check("Table 3")).order_id is None
    else:
        with pytest.raises(expected) as caught:
            await driver.read_check("Table 3")
        assert "Table 3" in str(caught.value)


async def test_an_unknown_item_status_is_pending_with_one_warning(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    order = await control.open_order(table_ids["Table 1"], [{"product_id": "es-teh"}])
    await control.set_item_status(order["order_items"][0]["id"], "on_hold")

    with caplog.at_level(logging.WARNING, logger="pos_drivers.tablemgmt"):
        first = await driver.read_check("Table 1")
        await driver.read_check("Table 1")

    assert first.lines[0].status is LineStatus.PENDING
    assert [r.getMessage().count("'on_hold'") for r in caplog.records] == [1]


# -- names -----------------------------------------------------------------------------------


async def test_a_name_beyond_the_first_page(
    make_driver: MakeDriver, control: TableMgmtControl, server: TableMgmtServer,
    table_ids: dict[str, str],
) -> None:
    await control.open_order(table_ids["Table 25"], [{"product_id": "mie-goreng"}])
    async with make_driver(page_size=10) as driver:
        await control.clear_requests()
        check = await driver.read_check("Table 25")

    assert check.table_name == "Table 25"
    assert len(check.lines) == 1
    requests = await control.requests()
    # open() read the three pages; the name was found without reading them again.
    assert requests == {f"GET /api/v1/tables/{table_ids['Table 25']}": 1}


async def test_names_of_another_outlet_are_not_this_outlets(
    make_driver: MakeDriver, control: TableMgmtControl
) -> None:
    other = await control.table_id("Table 2", OTHER_OUTLET_ID)
    async with make_driver(outlet_id=OTHER_OUTLET_ID) as there, make_driver() as here:
        assert (await there.read_check("Table 2")).table_name == "Table 2"
        with pytest.raises(TableNotFound):
            await here.read_check(other)
        with pytest.raises(TableNotFound):
            await there.read_check("Table 4")


async def test_a_table_created_later_is_found_by_name(
    driver: TableMgmtDriver, control: TableMgmtControl
) -> None:
    await control.create_table("Teras 1")
    assert (await driver.read_check("Teras 1")).table_name == "Teras 1"


async def test_a_renamed_table_is_looked_up_again_once(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    await driver.read_check("Table 8")
    await control.set_table(table_ids["Table 8"], table_name="Table 8A")
    await control.set_table(table_ids["Table 9"], table_name="Table 8")
    await control.open_order(table_ids["Table 9"], [{"product_id": "es-teh"}])
    await control.clear_requests()

    moved = await driver.read_check("Table 8")
    await control.set_table(table_ids["Table 9"], table_name="Table 9")

    with pytest.raises(TableNotFound):
        await driver.read_check("Table 8")
    assert len(moved.lines) == 1  # the table now called "Table 8"
    # read (renamed), list, read; then read (renamed back), list: not found.
    assert await control.request_count("/api/v1/tables", method="GET") == 5


async def test_a_deleted_table_is_not_found(
    driver: TableMgmtDriver, control: TableMgmtControl, server: TableMgmtServer
) -> None:
    created = await control.create_table("Pop-up")
    await driver.read_check("Pop-up")
    del server.state.tables[created["id"]]

    with pytest.raises(TableNotFound):
        await driver.read_check("Pop-up")
    with pytest.raises(TableNotFound):
        await driver.read_check(created["id"])


async def test_unknown_names_reread_the_list_at_most_every_refresh_interval(
    make_driver: MakeDriver, control: TableMgmtControl
) -> None:
    async with make_driver(table_refresh_seconds=3600) as driver:
        await control.clear_requests()
        for name in ("Table 99", "Table 98", "nope"):
            with pytest.raises(TableNotFound):
                await driver.read_check(name)
    assert await control.request_count() == 0


@pytest.mark.parametrize("table", ["../_control/reset", ".", "..", "%2F", "a/b", "ünï 🍽", " "])
async def test_ids_that_cannot_be_tables_are_not_found_and_touch_nothing(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str], table: str
) -> None:
    await control.open_order(table_ids["Table 1"])
    with pytest.raises(TableNotFound):
        await driver.read_check(table)
    assert (await control.table(table_ids["Table 1"]))["table"]["status"] == "occupied"


async def test_a_table_named_like_a_dot_segment_is_read_by_its_id(
    driver: TableMgmtDriver, control: TableMgmtControl
) -> None:
    await control.create_table("..")
    assert (await driver.read_check("..")).table_name == ".."


# -- what it cannot do -----------------------------------------------------------------------


async def test_no_lines_can_be_added_and_no_products_listed(driver: TableMgmtDriver) -> None:
    with pytest.raises(NotSupported):
        await driver.add_lines("Table 1", None, [NewLine("es-teh", 1, 800000)])
    with pytest.raises(NotSupported):
        await driver.list_products()
    with pytest.raises(NotSupported):
        await driver.find_lines("Table 1", "sub-1:")


# -- an unavailable POS ----------------------------------------------------------------------


async def test_ping(driver: TableMgmtDriver, control: TableMgmtControl) -> None:
    assert await driver.ping() is True
    await control.set_faults(down=True)
    assert await driver.ping() is False


@pytest.mark.parametrize("faults", [{"down": True}, {"error_rate": 1.0}],
                         ids=["down-503", "error-500"])
async def test_a_failing_pos_is_unavailable(
    driver: TableMgmtDriver, control: TableMgmtControl, faults: dict[str, object]
) -> None:
    await control.set_faults(**faults)  # type: ignore[arg-type]
    with pytest.raises(PosUnavailable) as caught:
        await driver.read_check("Table 1")
    with pytest.raises(PosUnavailable):
        await driver.changes_since(None)
    assert caught.value.pos_detail in ("Service unavailable", "Internal server error")


async def test_a_slow_pos_is_unavailable(
    make_driver: MakeDriver, control: TableMgmtControl
) -> None:
    async with make_driver(timeout=0.1) as driver:
        await driver.read_check("Table 1")
        await control.set_faults(latency_ms=400)
        with pytest.raises(PosUnavailable, match="in time"):
            await driver.read_check("Table 1")


async def test_a_pos_that_is_not_listening_is_unavailable(make_driver: MakeDriver) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening
        async with make_driver(url=url) as driver:
            with pytest.raises(PosUnavailable, match="cannot reach"):
                await driver.read_check("Table 1")
            assert await driver.ping() is False


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (200, b"<html>maintenance page</html>"),
        (200, b'{"tables": "many"}'),
        (200, b'{"tables": [], "total_pages": NaN}'),
        (502, b"Bad Gateway"),
        (429, b'{"error": "Too many requests", "message": "slow down"}'),
    ],
)
def fake_pos(answer: Callable[[httpx.Request], httpx.Response]) -> TableMgmtDriver:
    """A driver whose POS answers what ``answer`` says (answers the imitation never gives)."""
    settings = TableMgmtSettings(token="a.b.c", outlet_id="outlet-1")  # type: ignore[arg-type]
    return TableMgmtDriver(DriverConfig("http://pos.test"), settings,
                           transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (200, b"<html>maintenance page</html>"),
        (200, b'{"tables": "many"}'),
        (200, b'{"tables": [], "total_pages": NaN}'),
        (502, b"Bad Gateway"),
        (429, b'{"error": "Too many requests", "message": "slow down"}'),
    ],
)
async def test_garbage_is_unavailable(status: int, content: bytes) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"Retry-After": "3"})

    async with fake_pos(answer) as driver:
        with pytest.raises(PosUnavailable) as caught:
            await driver.read_check("Table 1")
    if status == 429:
        assert caught.value.retry_after == 3.0


@pytest.mark.parametrize(
    "table",
    [
        b'{"id": "t-1", "status": "occupied", "order": {"order_items": [{"id": "i",'
        b' "quantity": 1, "unit_price": "12,50"}]}}',
        b'{"id": "t-1", "status": "occupied", "order": "ORD-1"}',
        b'["t-1"]',
    ],
)
async def test_a_table_answer_that_cannot_be_read_is_unavailable(table: bytes) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/tables":
            return httpx.Response(200, json={"tables": [{"id": "t-1", "table_name": "Table 1"}],
                                             "total_pages": 1})
        return httpx.Response(200, content=table)

    async with fake_pos(answer) as driver:
        with pytest.raises(PosUnavailable, match=r"unreadable|not a JSON object"):
            await driver.read_check("Table 1")
